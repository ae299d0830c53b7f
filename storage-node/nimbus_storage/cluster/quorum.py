"""What replicated and erasure-coded writes share: where a blob's copies go, a bounded queue per
target so a slow node never makes the proxy buffer the body, handoffs for targets that cannot be
reached (or are full) before their first byte, and the quorum verdict.

A write has one *slot* per primary. The feeder puts ``items[slot]`` of every item into the
slot's queue (the same chunk for every replica, or fragment ``slot`` of an erasure-coded
segment), and each slot streams its queue to its node with one PUT of a known size.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from nimbus_storage.blobs.api import normalize_timestamp
from nimbus_storage.blobs.errors import NotEnoughStorage
from nimbus_storage.blobs.trailer import BodyTrailer
from nimbus_storage.protocol.client import NodeAnswer, NodeClient, NodeUnavailable, Placement
from nimbus_storage.storage_errors import StorageUnavailable

QUEUE_DEPTH = 4  # items buffered per slot while the slowest node catches up
STORED = (201, 409)  # 409: a newer write already won; ours is durable but superseded
DELETED = (204, 404)


def majority(replicas: int) -> int:
    """How many of ``replicas`` copies a write or delete needs: more than half."""
    return replicas // 2 + 1


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


def placements(ring: PlacementRing, name: str) -> tuple[list[Placement], Iterator[Placement]]:
    partition = ring.partition(name)
    primaries = [Placement(d.node, d.device, partition) for d in ring.primaries(partition)]
    handoffs = (Placement(d.node, d.device, partition) for d in ring.handoffs(partition))
    return primaries, handoffs


class BodyDigest:
    """md5 and size of a client's body, counted as it streams through."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._md5.update(chunk)
        self.size += len(chunk)

    @property
    def md5_hex(self) -> str:
        return self._md5.hexdigest()


class Fanout:
    """One stream of per-slot items split into a bounded queue per slot."""

    _END = object()

    def __init__(self, slots: int, depth: int = QUEUE_DEPTH) -> None:
        self.queues: list[asyncio.Queue[object]] = [
            asyncio.Queue(maxsize=depth) for _ in range(slots)
        ]
        self.alive = [True] * slots

    def drop(self, slot: int) -> None:
        """Stop feeding a slot that failed; free its queue so the feeder never blocks."""
        self.alive[slot] = False
        queue = self.queues[slot]
        while not queue.empty():
            queue.get_nowait()

    async def feed(self, items: AsyncIterator[Sequence[bytes]]) -> None:
        try:
            async for per_slot in items:
                for slot, queue in enumerate(self.queues):
                    if self.alive[slot]:
                        await queue.put(per_slot[slot])
        except BaseException as exc:  # the client's body failed: every slot must abort
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
class Outcome:
    placement: Placement | None
    answer: NodeAnswer | None

    @property
    def stored(self) -> bool:
        return self.answer is not None and self.answer.status in STORED


@dataclass
class SlotWrite:
    """One blob write in flight: the fan-out and what every slot's request carries."""

    client: NodeClient
    fanout: Fanout
    handoffs: Iterator[Placement]  # shared: each handoff stands in for one failed primary
    name: str
    size: int  # of every slot's body
    metas: Sequence[dict[str, str]]  # per slot
    timestamp: str
    # Meta known only once the client's body is in (a trailing checksum), sent after the body.
    trailer: BodyTrailer | None = None

    async def slot(self, slot: int, target: Placement) -> Outcome:
        try:
            return await self._write(slot, target)
        except BaseException:
            self.fanout.drop(slot)  # never leave the feeder waiting on this slot's queue
            raise

    async def _write(self, slot: int, target: Placement) -> Outcome:
        """Stream the slot to ``target``; a target that is unreachable or full (507) before
        taking a byte is replaced by the next handoff, since the slot's queue is still whole.
        (``NodeClient.put`` asks ``Expect: 100-continue``, so a node too full for the body, or
        one that never answers, refuses or times out before it takes any.) A 507 after the
        body started cannot be replayed: the slot has failed."""
        started = [False]
        full: NodeAnswer | None = None  # a 507 met on the way, so "no quorum" says why
        while True:
            try:
                answer = await self.client.put(
                    target,
                    self.name,
                    self.fanout.body(slot, started),
                    size=self.size,
                    meta=self.metas[slot],
                    timestamp=self.timestamp,
                    trailer=self.trailer,
                )
            except NodeUnavailable:
                answer = None
            if answer is not None and answer.status == 507:
                full = answer
            elif answer is not None:
                if answer.status not in STORED:
                    self.fanout.drop(slot)
                return Outcome(target, answer)
            replacement = None if started[0] else next(self.handoffs, None)
            if replacement is None:  # broke or filled up mid-stream, or no handoff left
                self.fanout.drop(slot)
                if answer is None:
                    return Outcome(None, full)
                return Outcome(target, answer)
            target = replacement


async def write_slots(
    write: SlotWrite, primaries: Sequence[Placement], items: AsyncIterator[Sequence[bytes]]
) -> list[Outcome]:
    """Stream ``items`` to every primary (or its handoff); re-raise a failing client body."""
    feeding = asyncio.ensure_future(write.fanout.feed(items))
    results = await asyncio.gather(
        *(write.slot(slot, first) for slot, first in enumerate(primaries)),
        return_exceptions=True,
    )
    await feeding  # re-raises the client's body error (bad checksum, disconnect, short body)
    outcomes: list[Outcome] = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        outcomes.append(result)
    return outcomes


def raise_no_quorum(outcomes: Sequence[Outcome], needed: int, noun: str = "replicas") -> None:
    stored = sum(o.stored for o in outcomes)
    full = any(o.answer is not None and o.answer.status == 507 for o in outcomes)
    detail = f"{stored} of {len(outcomes)} {noun} stored, {needed} needed"
    if full:
        raise NotEnoughStorage(f"Not enough storage for this write: {detail}.")
    raise StorageUnavailable(f"Not enough storage nodes answered: {detail}.")


async def forget(client: NodeClient, name: str, outcomes: Iterable[Outcome]) -> None:
    """Best effort: tombstone what a write that missed its quorum stored."""
    timestamp = normalize_timestamp(time.time())
    for outcome in outcomes:
        if not outcome.stored or outcome.placement is None:
            continue
        try:
            await client.delete(outcome.placement, name, timestamp)
        except NodeUnavailable:
            continue  # an orphan nobody can see; the replicator's reclaim removes it


async def tombstone_slots(
    client: NodeClient,
    primaries: Sequence[Placement],
    handoffs: Iterator[Placement],
    name: str,
    timestamp: str,
) -> int:
    """Tombstone ``name`` on every primary (a handoff for each unreachable one); how many took."""

    async def tombstone(target: Placement) -> bool:
        while True:
            try:
                answer = await client.delete(target, name, timestamp)
            except NodeUnavailable:
                replacement = next(handoffs, None)
                if replacement is None:
                    return False
                target = replacement
                continue
            return answer.status in DELETED

    return sum(await asyncio.gather(*(tombstone(p) for p in primaries)))
