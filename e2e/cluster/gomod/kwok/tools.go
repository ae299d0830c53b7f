//go:build tools

// Package tools pins kwok for `python -m e2e.cluster build`.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
