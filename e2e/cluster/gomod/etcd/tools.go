//go:build tools

// Package tools pins etcd for `python -m e2e.cluster build`.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
