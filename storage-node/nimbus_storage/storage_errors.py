"""The base of every error the storage layers raise (blobs, meta, protocol, cluster, node).

Storage speaks no S3: it raises errors of its own, named for what happened (a body of the wrong
size, a bucket that exists, too few nodes answering). Those a ``BlobStore`` may raise are in
``blobs/errors.py``, those of the metadata services in ``meta/errors.py``, and the one both
share is here. The gateway turns them into S3 errors at its boundary, in one table
(``gateway/storage_errors.py``); the storage node answers HTTP statuses of its own for them.
This module is the lowest of the package: it imports nothing of it.
"""

from __future__ import annotations

__all__ = ["StorageError", "StorageUnavailable"]


class StorageError(Exception):
    """Something the storage could not do; ``message`` says what, for people."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StorageUnavailable(StorageError):
    """Too few storage nodes answered (or had the data) to settle a read or a write for sure:
    the same request may succeed later."""
