"""Reading ``k`` fragment archives of one erasure-coded blob side by side, a segment's fragment
at a time: what a gateway decodes an object from (ec_blobs) and what a storage node rebuilds a
lost archive from (node/reconstructor). A holder that breaks mid-stream is replaced by another
holder of the same fragment index, else of an index no stream uses, resuming at the start of
the current fragment; when none is left the read fails with StorageUnavailable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence

from nimbus_storage.protocol.client import STREAM_CHUNK, NodeClient, NodeUnavailable, Placement
from nimbus_storage.storage_errors import StorageUnavailable

__all__ = ["FragmentHolders", "FragmentStream", "read_fragments"]


class FragmentHolders:
    """Who can serve which fragment index; each index is streamed by at most one stream."""

    def __init__(self, holders: Mapping[int, Sequence[Placement]]) -> None:
        # Data fragments (0..k-1) first: decoding from them alone is a copy.
        self._spare = {index: list(holders[index]) for index in sorted(holders)}
        self._in_use: set[int] = set()

    def take(self) -> tuple[int, Placement] | None:
        for index, spare in self._spare.items():
            if index not in self._in_use and spare:
                self._in_use.add(index)
                return index, spare.pop(0)
        return None

    def release(self, index: int) -> None:
        self._in_use.discard(index)


class FragmentStream:
    """One fragment archive read from ``offset`` to ``last``, a fragment at a time. A holder
    that breaks is replaced by another, which resumes at the start of the current fragment."""

    def __init__(
        self,
        client: NodeClient,
        name: str,
        holders: FragmentHolders,
        offset: int,
        last: int,
        *,
        chunk_size: int = STREAM_CHUNK,
    ) -> None:
        self._client = client
        self._name = name
        self._holders = holders
        self._offset = offset  # archive offset of the next fragment to hand out
        self._last = last
        self._chunk_size = chunk_size
        self._pending = bytearray()
        self._stream: AsyncIterator[bytes] | None = None
        self._index: int | None = None
        self.failures: list[str] = []

    async def read(self, length: int) -> bytes:
        while True:
            stream = self._open()
            try:
                while len(self._pending) < length:
                    self._pending += await anext(stream)
            except (NodeUnavailable, StopAsyncIteration) as exc:
                self.failures.append(str(exc) or "archive ended early")
                await self._abandon()
                continue
            fragment = bytes(self._pending[:length])
            del self._pending[:length]
            self._offset += length
            return fragment

    def _open(self) -> AsyncIterator[bytes]:
        if self._stream is None:
            taken = self._holders.take()
            if taken is None:
                raise StorageUnavailable(
                    "Too few fragments of the object could be read: "
                    + ("; ".join(self.failures) or "no holder left")
                )
            self._index, where = taken
            self._stream = self._client.stream(
                where, self._name, self._offset, self._last, chunk_size=self._chunk_size
            )
        return self._stream

    async def _abandon(self) -> None:
        """Drop the broken holder; its index is free again for another holder of it."""
        if self._index is not None:
            self._holders.release(self._index)
        self._index = None
        self._pending.clear()
        await self.close()

    async def close(self) -> None:
        stream, self._stream = self._stream, None
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def read_fragments(streams: Sequence[FragmentStream], length: int) -> list[bytes]:
    """The next fragment of every stream. Every read runs to its end before any error is
    raised, so no stream is still being read when the caller closes them."""
    results = await asyncio.gather(*(s.read(length) for s in streams), return_exceptions=True)
    fragments: list[bytes] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        fragments.append(result)
    return fragments
