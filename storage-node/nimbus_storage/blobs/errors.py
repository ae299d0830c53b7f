"""What a ``BlobStore`` (on one disk or on a ring of nodes) may fail with, besides
``StorageUnavailable``."""

from __future__ import annotations

from nimbus_storage.storage_errors import StorageError

__all__ = [
    "BodySizeMismatch",
    "BodySizeUnknown",
    "CopiesDiffer",
    "NotEnoughStorage",
    "SegmentUndecodable",
]


class BodySizeMismatch(StorageError):
    """The body brought more or fewer bytes than announced; nothing of it was kept."""


class BodySizeUnknown(StorageError):
    """A store that needs the body's size before its first byte (a cluster) was not told it."""


class NotEnoughStorage(StorageError):
    """Too few devices had room for the write; nothing of it was kept."""


class CopiesDiffer(StorageError):
    """The nodes that stored a write disagree on what they stored; nothing of it was kept."""


class SegmentUndecodable(StorageError):
    """The fragments read of an erasure-coded segment do not decode (or rebuild) into it."""
