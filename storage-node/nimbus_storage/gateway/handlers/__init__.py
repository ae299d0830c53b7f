"""S3 operation handlers, one function per AWS operation, grouped by resource."""

from __future__ import annotations

import importlib

_MODULES = (
    "buckets",
    "bucket_subresources",
    "bucket_encryption",
    "listing",
    "objects_read",
    "objects_write",
    "objects_delete",
    "object_config",
    "multipart",
    "preflight",
)


def load_all() -> None:
    """Import every handler module so each registers its operations."""
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")
