"""The node protocol's header names (docs/storage-cluster.md), shared by its client and server."""

from __future__ import annotations

TOKEN_HEADER = "X-Nimbus-Cluster-Token"
TIMESTAMP_HEADER = "X-Nimbus-Timestamp"
META_HEADER = "X-Nimbus-Meta"
SIZE_HEADER = "X-Nimbus-Size"
MAX_META_HEADER = 64 * 1024  # bytes of JSON in X-Nimbus-Meta
