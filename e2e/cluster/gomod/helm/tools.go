//go:build tools

// Package tools pins helm for `python -m e2e.cluster build`.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
