"""In-memory stand-ins for storage nodes and rings, for the proxy's unit tests.

Each node is a dict, so failures can be placed exactly: unreachable before the first byte,
broken mid-stream, or a full disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from nimbus_storage.blobs.trailer import BodyTrailer
from nimbus_storage.protocol.client import (
    NodeAnswer,
    NodeClient,
    NodeUnavailable,
    OpenRead,
    Placement,
)
from nimbus_storage.protocol.headers import META_HEADER, SIZE_HEADER, TIMESTAMP_HEADER


@dataclass(frozen=True)
class Device:
    node: str
    device: str = "d0"


@dataclass
class FixedRing:
    """Every name in partition 0; primaries and handoffs as given."""

    primary_nodes: list[str]
    handoff_nodes: list[str]

    @property
    def replicas(self) -> int:
        return len(self.primary_nodes)

    def partition(self, name: str) -> int:
        return 0

    def primaries(self, partition: int) -> Sequence[Device]:
        return [Device(node) for node in self.primary_nodes]

    def handoffs(self, partition: int) -> Iterator[Device]:
        return iter([Device(node) for node in self.handoff_nodes])


@dataclass
class Rings:
    ring: FixedRing

    def current(self) -> FixedRing:
        return self.ring


def fixed_rings(primaries: int, handoffs: int) -> Rings:
    return Rings(FixedRing([f"p{i}" for i in range(primaries)], [f"h{i}" for i in range(handoffs)]))


@dataclass
class Stored:
    data: bytes
    timestamp: str
    meta: dict[str, str]


@dataclass
class FakeNodes(NodeClient):
    """Nodes in memory. ``down`` refuse connections; ``full`` answer 507 once they have read the
        body (ENOSPC while writing), ``refuse_full`` before reading any of it (a device known to be
        full or missing); ``break_after`` fail mid-stream; ``slow`` yield to the event loop between
        chunks (so the proxy's queues fill up); ``garble`` store what they received with its first
    byte changed (a copy damaged on the way). As real nodes, they answer 201 with the md5 of what
    they stored as its ETag, and 409 when the name is already there at the same or a newer
    timestamp."""

    down: set[str] = field(default_factory=set)
    full: set[str] = field(default_factory=set)
    refuse_full: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)
    garble: set[str] = field(default_factory=set)
    break_after: dict[str, int] = field(default_factory=dict)  # node -> bytes before breaking
    read_chunk: int = 4  # bytes per chunk of a read
    blobs: dict[tuple[str, str], Stored] = field(default_factory=dict)
    tombstones: dict[tuple[str, str], str] = field(default_factory=dict)
    receiving: dict[str, int] = field(default_factory=dict)  # node -> bytes of the current PUT
    served: int = 0  # bytes streamed by every read so far
    heads: int = 0  # HEAD requests answered
    opened: int = 0  # open_read requests (a GET answered, its body read later)
    open_reads: list[list[bool]] = field(default_factory=list)  # each: [True] once released

    def __post_init__(self) -> None:
        super().__init__(token="test")

    def _check(self, where: Placement) -> None:
        if where.node in self.down:
            raise NodeUnavailable(f"{where.node} is down")

    async def put(
        self,
        where: Placement,
        name: str,
        body: AsyncIterator[bytes],
        *,
        size: int,
        meta: Mapping[str, str],
        timestamp: str,
        trailer: BodyTrailer | None = None,
    ) -> NodeAnswer:
        self._check(where)
        if where.node in self.refuse_full:
            return NodeAnswer(507)
        received = bytearray()
        self.receiving[where.node] = 0
        async for chunk in body:
            received += chunk
            self.receiving[where.node] = len(received)
            limit = self.break_after.get(where.node)
            if limit is not None and len(received) > limit:
                raise NodeUnavailable(f"{where.node} broke mid-stream")
            if where.node in self.slow:
                for _ in range(5):
                    await asyncio.sleep(0)
        if len(received) != size:
            return NodeAnswer(400)  # as a real node: the body must match Content-Length
        if where.node in self.full:
            return NodeAnswer(507)
        there = self.blobs.get((where.node, name))
        if there is not None and there.timestamp >= timestamp:
            return NodeAnswer(409, {TIMESTAMP_HEADER: there.timestamp})
        if where.node in self.garble and received:
            received[0] ^= 0xFF
        stored_meta = {**meta, **(trailer.facts() if trailer is not None else {})}
        self.blobs[(where.node, name)] = Stored(bytes(received), timestamp, stored_meta)
        etag = hashlib.md5(received).hexdigest()
        return NodeAnswer(201, {TIMESTAMP_HEADER: timestamp, "ETag": etag})

    async def head(self, where: Placement, name: str) -> NodeAnswer:
        self._check(where)
        self.heads += 1
        stored = self.blobs.get((where.node, name))
        tombstone = self.tombstones.get((where.node, name))
        if stored is None or (tombstone is not None and tombstone >= stored.timestamp):
            return NodeAnswer(404, {TIMESTAMP_HEADER: tombstone} if tombstone else {})
        return NodeAnswer(
            200,
            {
                TIMESTAMP_HEADER: stored.timestamp,
                META_HEADER: json.dumps(stored.meta),
                SIZE_HEADER: str(len(stored.data)),
                "ETag": hashlib.md5(stored.data).hexdigest(),
            },
        )

    async def open_read(self, where: Placement, name: str, start: int) -> OpenRead:
        self.opened += 1
        answer = await self.head(where, name)
        self.heads -= 1  # counted as an open, not a HEAD
        if answer.status == 200 and start >= int(answer.headers[SIZE_HEADER]) > 0:
            answer = NodeAnswer(416)
        elif answer.status == 200:
            answer = NodeAnswer(206, answer.headers)
        size = int(answer.headers.get(SIZE_HEADER, "0"))
        released: list[bool] = []
        self.open_reads.append(released)

        def body(chunk_size: int) -> AsyncIterator[bytes]:
            return self.stream(where, name, start, size - 1, chunk_size)

        return OpenRead(answer, where, start, body, lambda: released.append(True))

    async def delete(self, where: Placement, name: str, timestamp: str) -> NodeAnswer:
        self._check(where)
        self.tombstones[(where.node, name)] = timestamp
        return NodeAnswer(204)

    async def stream(
        self, where: Placement, name: str, start: int, end: int, chunk_size: int = 4
    ) -> AsyncIterator[bytes]:
        self._check(where)
        data = self.blobs[(where.node, name)].data[start : end + 1]
        limit = self.break_after.get(where.node)
        for offset in range(0, len(data), self.read_chunk):
            if limit is not None and offset >= limit:
                raise NodeUnavailable(f"{where.node} broke mid-read")
            self.served += min(self.read_chunk, len(data) - offset)
            yield data[offset : offset + self.read_chunk]
            self._check(where)  # a node taken down mid-read breaks off


async def chunks(data: bytes, size: int = 3) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]
