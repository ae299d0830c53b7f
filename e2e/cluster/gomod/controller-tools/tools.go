//go:build tools

// Package tools pins controller-gen for `python -m e2e.cluster build` (it generates the CDI
// DataVolume CRD from the cdi-crds module).
package tools

import (
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
