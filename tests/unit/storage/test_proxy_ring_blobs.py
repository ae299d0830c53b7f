"""The proxy's quorum, handoff and failover logic, against in-memory stand-ins for nodes.

Real nodes are exercised in tests/functional; here each node is a dict, so failures can be
placed exactly: unreachable before the first byte, broken mid-stream, or a full disk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest
from nimbus_storage.errors import IncompleteBody, InsufficientStorage, ServiceUnavailable
from nimbus_storage.proxy.node_client import (
    META_HEADER,
    SIZE_HEADER,
    TIMESTAMP_HEADER,
    NodeAnswer,
    NodeClient,
    NodeUnavailable,
    Placement,
)
from nimbus_storage.proxy.ring_blobs import RingBlobStore, quorum


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


@dataclass
class Stored:
    data: bytes
    timestamp: str
    meta: dict[str, str]


@dataclass
class FakeNodes(NodeClient):
    """Nodes in memory. ``down`` refuse connections; ``break_after`` fail mid-stream."""

    down: set[str] = field(default_factory=set)
    full: set[str] = field(default_factory=set)
    break_after: dict[str, int] = field(default_factory=dict)  # node -> bytes before breaking
    blobs: dict[tuple[str, str], Stored] = field(default_factory=dict)
    tombstones: dict[tuple[str, str], str] = field(default_factory=dict)

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
    ) -> NodeAnswer:
        self._check(where)
        received = b""
        async for chunk in body:
            received += chunk
            limit = self.break_after.get(where.node)
            if limit is not None and len(received) > limit:
                raise NodeUnavailable(f"{where.node} broke mid-stream")
        if where.node in self.full:
            return NodeAnswer(507)
        self.blobs[(where.node, name)] = Stored(received, timestamp, dict(meta))
        return NodeAnswer(201, {TIMESTAMP_HEADER: timestamp})

    async def head(self, where: Placement, name: str) -> NodeAnswer:
        self._check(where)
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
        for offset in range(0, len(data), 4):
            if limit is not None and offset >= limit:
                raise NodeUnavailable(f"{where.node} broke mid-read")
            yield data[offset : offset + 4]


async def chunks(data: bytes, size: int = 3) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


def store(nodes: FakeNodes, primaries: int = 3, handoffs: int = 2) -> RingBlobStore:
    ring = FixedRing([f"p{i}" for i in range(primaries)], [f"h{i}" for i in range(handoffs)])
    return RingBlobStore(Rings(ring), nodes)


async def read_all(blobs: RingBlobStore, name: str) -> bytes:
    reader = await blobs.open(name)
    assert reader is not None
    return b"".join([c async for c in reader.iter_range(0, reader.info.size - 1)])


DATA = b"the quick brown fox jumps over the lazy dog"
TS1, TS2 = "0000001000.00000", "0000002000.00000"


@pytest.mark.parametrize(("replicas", "needed"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3)])
def test_quorum(replicas: int, needed: int) -> None:
    assert quorum(replicas) == needed


async def test_write_reaches_every_primary_and_reads_back() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    info = await blobs.put("k", chunks(DATA), {"content-type": "t/p"}, TS1, expected_size=len(DATA))
    assert (info.size, info.md5_hex) == (len(DATA), hashlib.md5(DATA).hexdigest())
    assert sorted(node for node, _ in nodes.blobs) == ["p0", "p1", "p2"]
    assert await read_all(blobs, "k") == DATA
    reader = await blobs.open("k")
    assert reader is not None
    assert reader.info.meta == {"content-type": "t/p"}


async def test_down_primary_is_replaced_by_a_handoff() -> None:
    nodes = FakeNodes(down={"p1"})
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert sorted(node for node, _ in nodes.blobs) == ["h0", "p0", "p2"]
    assert await read_all(blobs, "k") == DATA


async def test_mid_stream_break_counts_against_quorum_but_quorum_holds() -> None:
    nodes = FakeNodes(break_after={"p2": 5})
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert sorted(node for node, _ in nodes.blobs) == ["p0", "p1"]


async def test_no_quorum_is_service_unavailable_and_copies_are_tombstoned() -> None:
    nodes = FakeNodes(down={"p1", "p2", "h0", "h1"})
    blobs = store(nodes)
    with pytest.raises(ServiceUnavailable, match="1 of 3 replicas stored, 2 needed"):
        await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert ("p0", "k") in nodes.tombstones
    assert await blobs.open("k") is None


async def test_full_disks_are_insufficient_storage() -> None:
    nodes = FakeNodes(full={"p0", "p1"})
    blobs = store(nodes)
    with pytest.raises(InsufficientStorage):
        await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))


async def test_body_shorter_than_announced_fails() -> None:
    blobs = store(FakeNodes())
    with pytest.raises(IncompleteBody):
        await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA) + 1)


async def test_a_failing_client_body_aborts_every_replica() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await blobs.put("k", broken(), {}, TS1, expected_size=100)
    assert nodes.blobs == {}


async def test_reads_skip_replicas_that_miss_the_blob() -> None:
    nodes = FakeNodes(down={"p0"})
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    nodes.down = set()  # p0 is back but never got the blob
    assert ("p0", "k") not in nodes.blobs
    assert await read_all(blobs, "k") == DATA


async def test_a_tombstone_means_gone() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    nodes.tombstones[("p0", "k")] = TS2  # a delete that so far reached p0 only
    assert await blobs.open("k") is None


async def test_read_with_every_replica_down_finds_nothing() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    nodes.down = {"p0", "p1", "p2", "h0", "h1"}
    assert await blobs.open("k") is None


async def test_read_fails_over_mid_stream_at_the_same_offset() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    nodes.break_after = {"p0": 8}
    assert await read_all(blobs, "k") == DATA


async def test_delete_needs_a_quorum() -> None:
    nodes = FakeNodes()
    blobs = store(nodes, handoffs=0)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    nodes.down = {"p0", "p1"}
    with pytest.raises(ServiceUnavailable, match="1 of 3 replicas deleted"):
        await blobs.delete("k", TS2)
