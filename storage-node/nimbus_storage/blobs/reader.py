"""Reading an open ``.data`` file, checking its bytes against what was recorded at PUT time.

With block digests (``blocks``) every read fetches whole blocks, one ``pread`` per block in a
worker thread, and compares each with its md5 before yielding any byte of it; a range starting
or ending mid-block reads the whole block and yields the slice. At most one block is held.

A blob written before block digests existed can only be checked as a whole: a read of the
entire blob holds back its last chunk until the whole-object md5 matched, so a corrupt copy
never ends as a clean, complete stream. Partial ranges of such a blob are not checked.

Any mismatch, and a file shorter than its recorded size, raises ``CorruptBlob``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from nimbus_storage.blobs.api import BlobInfo
from nimbus_storage.blobs.blocks import BlockDigests, CorruptBlob

if TYPE_CHECKING:
    from hashlib import _Hash

DEFAULT_CHUNK = 1024 * 1024


class DiskBlobReader:
    """An open ``.data`` file; the fd keeps the bytes readable even if a newer write lands."""

    def __init__(self, info: BlobInfo, fd: int, blocks: BlockDigests | None = None) -> None:
        self.info = info
        self.blocks = blocks  # None: an old sidecar without block digests
        self._fd: int | None = fd

    @property
    def data_filename(self) -> str:
        return f"{self.info.timestamp}.data"

    async def iter_range(
        self, start: int, end: int, chunk_size: int = DEFAULT_CHUNK
    ) -> AsyncIterator[bytes]:
        end = min(end, self.info.size - 1)
        if start > end:
            return
        if self.blocks is not None:
            source = self._iter_blocks(self.blocks, start, end, chunk_size)
        elif start == 0 and end == self.info.size - 1:
            source = self._iter_whole_checked(chunk_size)
        else:
            source = self._iter_plain(start, end, chunk_size, None)
        async for chunk in source:
            yield chunk

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DiskBlobReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- the three ways of reading ------------------------------------------------------------

    async def _iter_blocks(
        self, blocks: BlockDigests, start: int, end: int, chunk_size: int
    ) -> AsyncIterator[bytes]:
        size = self.info.size
        for index in range(start // blocks.block_size, end // blocks.block_size + 1):
            offset, length = blocks.span(index, size)
            data = await asyncio.to_thread(self._read_block, blocks, index, offset, length)
            low = max(start, offset) - offset
            high = min(end, offset + length - 1) - offset + 1
            if low == 0 and high == length and chunk_size >= length:
                yield data
                continue
            for piece in range(low, high, chunk_size):
                yield data[piece : min(high, piece + chunk_size)]

    async def _iter_whole_checked(self, chunk_size: int) -> AsyncIterator[bytes]:
        md5 = hashlib.md5(usedforsecurity=False)
        held: bytes | None = None
        async for chunk in self._iter_plain(0, self.info.size - 1, chunk_size, md5):
            if held is not None:
                yield held
            held = chunk
        if md5.hexdigest() != self.info.md5_hex:
            raise CorruptBlob(
                f"{self._what()}: md5 {md5.hexdigest()} != {self.info.md5_hex} recorded"
            )
        if held is not None:
            yield held

    async def _iter_plain(
        self, start: int, end: int, chunk_size: int, md5: _Hash | None
    ) -> AsyncIterator[bytes]:
        position = start
        while position <= end:
            wanted = min(chunk_size, end - position + 1)
            data = await asyncio.to_thread(self._pread, wanted, position, md5)
            if not data:
                raise CorruptBlob(f"{self._what()}: shorter than its recorded size")
            position += len(data)
            yield data

    # --- worker-thread side -------------------------------------------------------------------

    def _read_block(self, blocks: BlockDigests, index: int, offset: int, length: int) -> bytes:
        data = self._pread(length, offset, None)
        blocks.check(index, data, length, self._what())
        return data

    def _pread(self, length: int, offset: int, md5: _Hash | None) -> bytes:
        if self._fd is None:
            raise ValueError("read from a closed blob")
        data = os.pread(self._fd, length, offset)
        if md5 is not None:
            md5.update(data)
        return data

    def _what(self) -> str:
        return f"blob {self.info.name!r} at {self.info.timestamp}"
