//go:build tools

// Package tools pins CDI's API types: `python -m e2e.cluster build` runs controller-gen over
// kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1 in this module, with the
// dependency versions CDI's own API module declares (its go.mod), as CDI's
// hack/update-codegen.sh does in its staging directory.
package tools

import (
	_ "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)
