"""``BlobStore`` over a ring of storage nodes: quorum writes with handoffs, replica reads.

Writes stream the body to every replica at once through small per-replica queues (memory stays
at a few chunks per replica, whatever the object size). A replica that cannot be reached before
its first byte is replaced by the next handoff; one that breaks mid-stream is dropped. The write
succeeds when ``replicas // 2 + 1`` replicas stored it. Reads take the first replica that has
the blob (names are never rewritten, so every copy is the same) and fail over to another
replica — continuing at the same offset — if a node breaks mid-stream.

The object's md5 (its ETag) is the one the nodes computed as they stored it, not hashed again
here (Swift's proxy does the same): every node that answered ``201`` names its md5, and they
must agree, or the copies differ and the write fails (CopiesDiffer) with what it stored
tombstoned. A write that only met ``409`` (the same blob already there, written by an earlier
attempt or pushed by the replicator) takes the md5 from a HEAD of one of those copies.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable, Mapping
from functools import partial

from nimbus_storage.blobs.api import BlobInfo, BlobReader
from nimbus_storage.blobs.errors import BodySizeMismatch, BodySizeUnknown, CopiesDiffer
from nimbus_storage.blobs.trailer import BodyTrailer, with_trailer
from nimbus_storage.cluster.quorum import (
    Fanout,
    Outcome,
    PlacementRing,
    RingDevice,
    RingSource,
    SlotWrite,
    forget,
    majority,
    placements,
    raise_no_quorum,
    tombstone_slots,
    write_slots,
)
from nimbus_storage.protocol.client import (
    NodeAnswer,
    NodeClient,
    NodeUnavailable,
    OpenRead,
    Placement,
)
from nimbus_storage.protocol.headers import META_HEADER, SIZE_HEADER
from nimbus_storage.storage_errors import StorageUnavailable

__all__ = ["PlacementRing", "RingBlobReader", "RingBlobStore", "RingDevice", "RingSource"]


async def _copies(
    source: AsyncIterator[bytes], received: list[int], slots: int
) -> AsyncIterator[list[bytes]]:
    async for chunk in source:
        received[0] += len(chunk)
        yield [chunk] * slots


class RingBlobStore:
    def __init__(self, rings: RingSource, client: NodeClient) -> None:
        self.rings = rings
        self.client = client

    # --- writes -------------------------------------------------------------------------------

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
        if expected_size is None:
            raise BodySizeUnknown("A cluster write needs the body's size up front")
        ring = self.rings.current()
        primaries, handoffs = placements(ring, name)
        slots = len(primaries)
        write = SlotWrite(
            self.client,
            Fanout(slots),
            handoffs,
            name,
            expected_size,
            [dict(meta)] * slots,
            timestamp,
            # Every write sends a footer: an empty one when nothing follows the body.
            trailer if trailer is not None else BodyTrailer.of({}),
        )
        received = [0]
        outcomes = await write_slots(write, primaries, _copies(chunks, received, slots))
        if received[0] != expected_size:
            raise BodySizeMismatch(f"Received {received[0]} bytes of the {expected_size} announced")
        if sum(o.stored for o in outcomes) < majority(ring.replicas):
            await forget(self.client, name, outcomes)
            raise_no_quorum(outcomes, majority(ring.replicas))
        md5 = await self._stored_md5(name, outcomes)
        return BlobInfo(name, timestamp, expected_size, md5, with_trailer(meta, trailer))

    async def _stored_md5(self, name: str, outcomes: list[Outcome]) -> str:
        """The md5 the nodes that stored the blob agree on (see the module's docstring)."""
        md5s = {o.answer.etag for o in outcomes if o.answer is not None and o.answer.status == 201}
        if not md5s:
            md5s = {await self._md5_of_a_copy(name, outcomes)}
        if len(md5s) != 1 or "" in md5s:
            await forget(self.client, name, outcomes)
            raise CopiesDiffer(
                f"The stored copies of the object differ (md5s {sorted(md5s)}); nothing was"
                " written, try again."
            )
        return md5s.pop()

    async def _md5_of_a_copy(self, name: str, outcomes: list[Outcome]) -> str:
        for outcome in outcomes:
            if outcome.stored and outcome.placement is not None:
                try:
                    answer = await self.client.head(outcome.placement, name)
                except NodeUnavailable:
                    continue
                if answer.status == 200:
                    return answer.etag
        return ""

    async def delete(self, name: str, timestamp: str) -> None:
        ring = self.rings.current()
        primaries, handoffs = placements(ring, name)
        done = await tombstone_slots(self.client, primaries, handoffs, name, timestamp)
        if done < majority(ring.replicas):
            raise StorageUnavailable(
                f"Not enough storage nodes answered: {done} of {ring.replicas} replicas"
                f" deleted, {majority(ring.replicas)} needed."
            )

    # --- reads --------------------------------------------------------------------------------

    async def open(self, name: str, *, read_from: int | None = None) -> BlobReader | None:
        """The first replica that has the blob, asking primaries in order, then handoffs.

        Blob names are never rewritten (each write gets a name of its own), so any copy is
        the right one: one request usually answers. A tombstone anywhere means the blob is
        being deleted, and it is treated as gone. With ``read_from`` (the caller is about to
        read from that offset to the end) that request is the read itself, a GET whose body
        waits in the reader, rather than a HEAD.
        """
        ring = self.rings.current()
        primaries, handoffs = placements(ring, name)
        candidates = [*primaries, *itertools.islice(handoffs, ring.replicas)]
        for position, where in enumerate(candidates):
            opened: OpenRead | None = None
            try:
                if read_from is not None:
                    opened = await self.client.open_read(where, name, read_from)
                    answer = opened.answer
                if opened is None or answer.status == 416:  # shorter than thought: look
                    answer = await self.client.head(where, name)
            except NodeUnavailable:
                continue
            started = opened if opened is not None and opened.answer is answer else None
            if answer.status in (200, 206) and answer.timestamp:
                others = [c for c in candidates[position + 1 :] if c in primaries]
                info = _blob_info(name, answer)
                return RingBlobReader(info, [where, *others], self.client, started)
            if started is not None:
                started.close()
            if answer.status == 404 and answer.timestamp:
                return None  # a tombstone: deleted (or being deleted)
        return None


def _blob_info(name: str, answer: NodeAnswer) -> BlobInfo:
    meta = json.loads(answer.headers.get(META_HEADER, "{}"))
    return BlobInfo(
        name=name,
        timestamp=answer.timestamp or "",
        size=int(answer.headers.get(SIZE_HEADER, answer.headers.get("Content-Length", "0"))),
        md5_hex=answer.etag,
        meta={str(k): str(v) for k, v in meta.items()},
    )


class RingBlobReader:
    """A blob on several nodes: streams from one, and moves on to the next if it breaks.

    ``started``: a GET already answered (``open(read_from=...)``); a read from its offset
    takes its body, any other read closes it first."""

    def __init__(
        self,
        info: BlobInfo,
        holders: list[Placement],
        client: NodeClient,
        started: OpenRead | None = None,
    ) -> None:
        self.info = info
        self._holders = holders
        self._client = client
        self._started = started

    async def iter_range(
        self, start: int, end: int, chunk_size: int = 1024 * 1024
    ) -> AsyncIterator[bytes]:
        started, self._started = self._started, None
        try:
            if start > end:
                return
            reads: list[Callable[[int], AsyncIterator[bytes]]] = [
                partial(self._client.stream, holder, self.info.name, end=end, chunk_size=chunk_size)
                for holder in self._holders
            ]
            if started is not None and started.start == start:
                reads[0] = lambda _position: started.chunks(chunk_size)  # the first holder's
            position = start
            failures: list[str] = []
            for read in reads:
                try:
                    async for chunk in read(position):
                        piece = chunk[: end - position + 1]  # a started read runs to the end
                        position += len(piece)
                        yield piece
                        if position > end:
                            return
                except NodeUnavailable as exc:
                    failures.append(str(exc))
                if position > end:
                    return
            raise StorageUnavailable(
                f"Every replica of the object failed mid-read: {'; '.join(failures) or 'no data'}"
            )
        finally:
            if started is not None:
                started.close()

    def close(self) -> None:
        """Drop a GET that ``open`` started and no read took; each read holds its own
        connection only while it streams."""
        if self._started is not None:
            self._started.close()
            self._started = None
