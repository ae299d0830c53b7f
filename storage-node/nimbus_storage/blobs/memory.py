"""A BlobStore in a dict, with the disk store's semantics, for unit tests of the gateway.

Same rules as ``DiskBlobStore``: a failing iterator or a wrong size stores nothing, the newest
timestamp wins, on a tie the first write stays and a tombstone beats data.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from nimbus_storage.blobs.api import BlobInfo, BlobStore
from nimbus_storage.blobs.errors import BodySizeMismatch
from nimbus_storage.blobs.trailer import BodyTrailer, with_trailer

DEFAULT_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Entry:
    timestamp: str
    tombstone: bool
    info: BlobInfo | None
    data: bytes

    @property
    def order(self) -> tuple[str, int]:
        return self.timestamp, 1 if self.tombstone else 0


class MemoryBlobReader:
    def __init__(self, info: BlobInfo, data: bytes) -> None:
        self.info = info
        self._data: bytes | None = data

    async def iter_range(
        self, start: int, end: int, chunk_size: int = DEFAULT_CHUNK
    ) -> AsyncIterator[bytes]:
        end = min(end, self.info.size - 1)
        position = start
        while position <= end:
            if self._data is None:
                raise ValueError("read from a closed blob")
            chunk = self._data[position : min(position + chunk_size, end + 1)]
            position += len(chunk)
            yield chunk

    def close(self) -> None:
        self._data = None


class MemoryBlobStore(BlobStore):
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        """How many names currently have visible data (tombstones not counted)."""
        return sum(1 for e in self._entries.values() if not e.tombstone)

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
        buffer = bytearray()
        async for chunk in chunks:
            buffer += chunk
            if expected_size is not None and len(buffer) > expected_size:
                raise BodySizeMismatch(f"Body longer than the {expected_size} bytes announced")
        if expected_size is not None and len(buffer) != expected_size:
            raise BodySizeMismatch(f"Received {len(buffer)} bytes of the {expected_size} announced")
        data = bytes(buffer)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        info = BlobInfo(name, timestamp, len(data), md5, with_trailer(meta, trailer))
        self._install(name, _Entry(timestamp, False, info, data))
        return info

    async def open(self, name: str, *, read_from: int | None = None) -> MemoryBlobReader | None:
        entry = self._entries.get(name)
        if entry is None or entry.info is None:
            return None
        return MemoryBlobReader(entry.info, entry.data)

    async def delete(self, name: str, timestamp: str) -> None:
        self._install(name, _Entry(timestamp, True, None, b""))

    def _install(self, name: str, new: _Entry) -> None:
        current = self._entries.get(name)
        if current is None or new.order > current.order:
            self._entries[name] = new
