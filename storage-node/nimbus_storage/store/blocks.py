"""Per-block digests of a blob, so that a read can check every byte before it leaves the node.

At PUT time the data is cut into fixed blocks of ``BLOCK_SIZE`` bytes (the last one shorter)
and the md5 of each is stored in the ``.meta`` sidecar as ``"blocks": [hex, ...]`` with its
``"block_size"``. A read then fetches whole blocks and compares each with its digest before
yielding any byte of it, so a bit flipped on disk is caught by the very read that meets it, not
only by the auditor's next pass.

Sidecars written before block digests existed have no ``"blocks"``: such blobs can only be
checked as a whole (see ``DiskBlobReader``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

BLOCK_SIZE = 1024 * 1024


class CorruptBlob(Exception):
    """The bytes on disk no longer match the digests recorded when the blob was written."""


@dataclass(frozen=True, slots=True)
class BlockDigests:
    """The md5 of every ``block_size`` block of a blob, in order."""

    block_size: int
    digests: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"block_size": self.block_size, "blocks": list(self.digests)}

    @classmethod
    def from_sidecar(cls, doc: Mapping[str, object]) -> BlockDigests | None:
        """The digests of a sidecar; None for a sidecar written before they existed."""
        blocks = doc.get("blocks")
        if blocks is None:
            return None
        size = doc.get("block_size", BLOCK_SIZE)
        if not isinstance(blocks, list) or not isinstance(size, int) or size <= 0:
            raise ValueError("malformed block digests in the sidecar")
        return cls(size, tuple(str(b) for b in blocks))

    def span(self, index: int, size: int) -> tuple[int, int]:
        """``(offset, length)`` of block ``index`` of a blob of ``size`` bytes."""
        offset = index * self.block_size
        return offset, min(self.block_size, size - offset)

    def check(self, index: int, data: bytes, expected_length: int, what: str) -> None:
        """Raise CorruptBlob unless ``data`` is block ``index`` as it was written."""
        if len(data) != expected_length:
            raise CorruptBlob(
                f"{what}: block {index} has {len(data)} bytes, {expected_length} expected"
            )
        if index >= len(self.digests):
            raise CorruptBlob(f"{what}: no digest recorded for block {index}")
        actual = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if actual != self.digests[index]:
            raise CorruptBlob(
                f"{what}: block {index} md5 {actual} != {self.digests[index]} recorded"
            )


class BlockHasher:
    """md5 of each ``block_size`` block of a stream fed in chunks of any size."""

    def __init__(self, block_size: int = BLOCK_SIZE) -> None:
        self.block_size = block_size
        self._digests: list[str] = []
        self._current = hashlib.md5(usedforsecurity=False)
        self._filled = 0

    def update(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        while view:
            room = self.block_size - self._filled
            piece, view = view[:room], view[room:]
            self._current.update(piece)
            self._filled += len(piece)
            if self._filled == self.block_size:
                self._close_block()

    def result(self) -> BlockDigests:
        """The digests so far, the partial last block included (call once, at the end)."""
        if self._filled:
            self._close_block()
        return BlockDigests(self.block_size, tuple(self._digests))

    def _close_block(self) -> None:
        self._digests.append(self._current.hexdigest())
        self._current = hashlib.md5(usedforsecurity=False)
        self._filled = 0
