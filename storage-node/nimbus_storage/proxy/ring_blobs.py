"""``BlobStore`` over a ring of storage nodes: quorum writes with handoffs, replica reads.

Writes stream the body to every replica at once through small per-replica queues (memory stays
at a few chunks per replica, whatever the object size). A replica that cannot be reached before
its first byte is replaced by the next handoff; one that breaks mid-stream is dropped. The write
succeeds when ``replicas // 2 + 1`` replicas stored it. Reads take the first replica that has
the blob (names are never rewritten, so every copy is the same) and fail over to another
replica — continuing at the same offset — if a node breaks mid-stream.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from nimbus_storage.errors import IncompleteBody, InsufficientStorage, ServiceUnavailable
from nimbus_storage.proxy.node_client import (
    META_HEADER,
    SIZE_HEADER,
    NodeAnswer,
    NodeClient,
    NodeUnavailable,
    Placement,
)
from nimbus_storage.store.api import BlobInfo, BlobReader
from nimbus_storage.store.layout import normalize_timestamp

QUEUE_DEPTH = 4  # chunks buffered per replica while the slowest one catches up
STORED = (201, 409)  # 409: a newer write already won; ours is durable but superseded


class RingDevice(Protocol):
    @property
    def node(self) -> str: ...

    @property
    def device(self) -> str: ...


class PlacementRing(Protocol):
    """What the proxy needs of a ring (nimbus_storage.ring.Ring provides it)."""

    @property
    def replicas(self) -> int: ...

    def partition(self, name: str) -> int: ...

    def primaries(self, partition: int) -> Sequence[RingDevice]: ...

    def handoffs(self, partition: int) -> Iterator[RingDevice]: ...


class RingSource(Protocol):
    def current(self) -> PlacementRing: ...


def quorum(replicas: int) -> int:
    return replicas // 2 + 1


def _placements(ring: PlacementRing, name: str) -> tuple[list[Placement], Iterator[Placement]]:
    partition = ring.partition(name)
    primaries = [Placement(d.node, d.device, partition) for d in ring.primaries(partition)]
    handoffs = (Placement(d.node, d.device, partition) for d in ring.handoffs(partition))
    return primaries, handoffs


class _Fanout:
    """One source stream copied into a bounded queue per replica."""

    _END = object()

    def __init__(self, slots: int) -> None:
        self.queues: list[asyncio.Queue[object]] = [
            asyncio.Queue(maxsize=QUEUE_DEPTH) for _ in range(slots)
        ]
        self.alive = [True] * slots
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def drop(self, slot: int) -> None:
        """Stop feeding a replica that failed; free its queue so the feeder never blocks."""
        self.alive[slot] = False
        queue = self.queues[slot]
        while not queue.empty():
            queue.get_nowait()

    async def feed(self, source: AsyncIterator[bytes]) -> None:
        try:
            async for chunk in source:
                self.md5.update(chunk)
                self.size += len(chunk)
                await self._put_all(chunk)
        except BaseException as exc:  # the client's body failed: every replica must abort
            await self._put_all(exc)
            raise
        await self._put_all(self._END)

    async def _put_all(self, item: object) -> None:
        for slot, queue in enumerate(self.queues):
            if self.alive[slot]:
                await queue.put(item)

    async def body(self, slot: int, started: list[bool]) -> AsyncIterator[bytes]:
        queue = self.queues[slot]
        while True:
            item = await queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, bytes)
            started[0] = True
            yield item


@dataclass
class _Outcome:
    placement: Placement | None
    answer: NodeAnswer | None


@dataclass
class _Write:
    """One blob write in flight: the fan-out and what every replica request carries."""

    client: NodeClient
    fanout: _Fanout
    handoffs: Iterator[Placement]  # shared: each handoff stands in for one failed primary
    name: str
    size: int
    meta: dict[str, str]
    timestamp: str

    async def replica(self, slot: int, target: Placement) -> _Outcome:
        try:
            return await self._replicate(slot, target)
        except BaseException:
            self.fanout.drop(slot)  # never leave the feeder waiting on this replica's queue
            raise

    async def _replicate(self, slot: int, target: Placement) -> _Outcome:
        started = [False]
        while True:
            try:
                answer = await self.client.put(
                    target,
                    self.name,
                    self.fanout.body(slot, started),
                    size=self.size,
                    meta=self.meta,
                    timestamp=self.timestamp,
                )
            except NodeUnavailable:
                replacement = None if started[0] else next(self.handoffs, None)
                if replacement is None:  # broke mid-stream, or no handoff left
                    self.fanout.drop(slot)
                    return _Outcome(None, None)
                target = replacement
                continue
            if answer.status not in STORED:
                self.fanout.drop(slot)
            return _Outcome(target, answer)


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
    ) -> BlobInfo:
        if expected_size is None:
            raise IncompleteBody("A cluster write needs the body's size up front")
        ring = self.rings.current()
        primaries, handoffs = _placements(ring, name)
        write = _Write(
            self.client,
            _Fanout(len(primaries)),
            handoffs,
            name,
            expected_size,
            dict(meta),
            timestamp,
        )
        feeding = asyncio.ensure_future(write.fanout.feed(chunks))
        results = await asyncio.gather(
            *(write.replica(slot, first) for slot, first in enumerate(primaries)),
            return_exceptions=True,
        )
        await feeding  # re-raises the client's body error (bad checksum, disconnect)
        outcomes: list[_Outcome] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            outcomes.append(result)
        fanout = write.fanout
        if fanout.size != expected_size:
            raise IncompleteBody(f"Received {fanout.size} bytes of the {expected_size} announced")
        stored = [o for o in outcomes if o.answer is not None and o.answer.status in STORED]
        if len(stored) < quorum(ring.replicas):
            await self._forget(name, [o.placement for o in stored if o.placement is not None])
            self._raise_no_quorum(outcomes, len(stored), ring.replicas)
        return BlobInfo(name, timestamp, fanout.size, fanout.md5.hexdigest(), dict(meta))

    @staticmethod
    def _raise_no_quorum(outcomes: list[_Outcome], stored: int, replicas: int) -> None:
        full = any(o.answer is not None and o.answer.status == 507 for o in outcomes)
        detail = f"{stored} of {replicas} replicas stored, {quorum(replicas)} needed"
        if full:
            raise InsufficientStorage(f"Not enough storage for this write: {detail}.")
        raise ServiceUnavailable(f"Not enough storage nodes answered: {detail}.")

    async def _forget(self, name: str, placements: list[Placement]) -> None:
        """Best effort: tombstone the copies of a write that missed its quorum."""
        timestamp = normalize_timestamp(time.time())
        for placement in placements:
            try:
                await self.client.delete(placement, name, timestamp)
            except NodeUnavailable:
                continue  # an orphan nobody can see; the replicator's reclaim removes it

    async def delete(self, name: str, timestamp: str) -> None:
        ring = self.rings.current()
        primaries, handoffs = _placements(ring, name)

        async def tombstone(target: Placement) -> bool:
            while True:
                try:
                    answer = await self.client.delete(target, name, timestamp)
                except NodeUnavailable:
                    replacement = next(handoffs, None)
                    if replacement is None:
                        return False
                    target = replacement
                    continue
                return answer.status in (204, 404)

        done = await asyncio.gather(*(tombstone(p) for p in primaries))
        if sum(done) < quorum(ring.replicas):
            raise ServiceUnavailable(
                f"Not enough storage nodes answered: {sum(done)} of {ring.replicas} replicas"
                f" deleted, {quorum(ring.replicas)} needed."
            )

    # --- reads --------------------------------------------------------------------------------

    async def open(self, name: str) -> BlobReader | None:
        """The first replica that has the blob, asking primaries in order, then handoffs.

        Blob names are never rewritten (each write gets a name of its own), so any copy is
        the right one: one HEAD usually answers. A tombstone anywhere means the blob is being
        deleted, and it is treated as gone.
        """
        ring = self.rings.current()
        primaries, handoffs = _placements(ring, name)
        candidates = [*primaries, *itertools.islice(handoffs, ring.replicas)]
        for position, where in enumerate(candidates):
            try:
                answer = await self.client.head(where, name)
            except NodeUnavailable:
                continue
            if answer.status == 404 and answer.timestamp:
                return None  # a tombstone: deleted (or being deleted)
            if answer.status == 200 and answer.timestamp:
                others = [c for c in candidates[position + 1 :] if c in primaries]
                return RingBlobReader(_blob_info(name, answer), [where, *others], self.client)
        return None


def _blob_info(name: str, answer: NodeAnswer) -> BlobInfo:
    meta = json.loads(answer.headers.get(META_HEADER, "{}"))
    return BlobInfo(
        name=name,
        timestamp=answer.timestamp or "",
        size=int(answer.headers.get(SIZE_HEADER, answer.headers.get("Content-Length", "0"))),
        md5_hex=answer.headers.get("ETag", "").strip('"'),
        meta={str(k): str(v) for k, v in meta.items()},
    )


class RingBlobReader:
    """A blob on several nodes: streams from one, and moves on to the next if it breaks."""

    def __init__(self, info: BlobInfo, holders: list[Placement], client: NodeClient) -> None:
        self.info = info
        self._holders = holders
        self._client = client

    async def iter_range(
        self, start: int, end: int, chunk_size: int = 1024 * 1024
    ) -> AsyncIterator[bytes]:
        if start > end:
            return
        position = start
        failures: list[str] = []
        for holder in self._holders:
            try:
                async for chunk in self._client.stream(
                    holder, self.info.name, position, end, chunk_size
                ):
                    position += len(chunk)
                    yield chunk
                if position > end:
                    return
            except NodeUnavailable as exc:
                failures.append(str(exc))
                continue
            if position > end:
                return
        raise ServiceUnavailable(
            f"Every replica of the object failed mid-read: {'; '.join(failures) or 'no data'}"
        )

    def close(self) -> None:
        """Nothing to release: each read holds its connection only while it streams."""
