"""The storage interface the S3 gateway is written against.

Two layers, as in Swift:

* a *blob store* (Swift's object server + diskfile): opaque named blobs on disk in Swift's
  layout, written atomically, last writer wins by timestamp, tombstones for deletes;
* a *catalog* (Swift's account and container databases): buckets, credentials, and one
  listing index per bucket holding the object versions, multipart uploads and their parts.

The gateway never touches the disk directly; Object storage II puts the ring between the
gateway and many blob stores behind this same interface.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from nimbus_storage.blobs.trailer import BodyTrailer


def normalize_timestamp(t: float) -> str:
    """A blob version's timestamp in Swift's form: fixed width, so string order is time order."""
    return f"{t:016.05f}"


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What a stored blob is: the facts written beside its data at PUT time."""

    name: str
    timestamp: str  # Swift-normalized "%016.05f" seconds since the epoch; orders writes
    size: int
    md5_hex: str
    # Free-form metadata stored with the blob (content-type, x-amz-meta-*, checksums, ...).
    meta: Mapping[str, str] = field(default_factory=dict)


class BlobReader(Protocol):
    """An open blob: its facts plus a streaming reader over any byte range."""

    info: BlobInfo

    def iter_range(self, start: int, end: int, chunk_size: int = ...) -> AsyncIterator[bytes]:
        """Yield bytes ``start..end`` inclusive, chunk by chunk; never the whole blob at once."""
        ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    async def put(
        self,
        name: str,
        chunks: AsyncIterator[bytes],
        meta: Mapping[str, str],
        timestamp: str,
        *,
        expected_size: int | None = None,
        trailer: BodyTrailer | None = None,
    ) -> BlobInfo:
        """Stream ``chunks`` to a temp file, fsync, rename into place; return the stored facts.

        If the iterator raises, or yields a size different from ``expected_size``, nothing is
        left behind and the exception propagates. ``trailer``: facts known only once the body
        ended (a trailing checksum), read only after ``chunks`` is exhausted and stored with
        ``meta`` (its keys win). An older timestamp than the one on disk is accepted but never
        becomes visible (last writer wins).
        """
        ...

    async def open(self, name: str, *, read_from: int | None = None) -> BlobReader | None:
        """The newest version of ``name``, or None when it is missing or tombstoned.

        ``read_from``: a hint that the caller will read from that offset to the end, which a
        store over the network may start at once (one request instead of two); never needed.
        """
        ...

    async def delete(self, name: str, timestamp: str) -> None:
        """Write a tombstone at ``timestamp`` and reclaim older data files."""
        ...
