"""Erasure-coded blobs over a ring: fragment layout, quorum writes with handoffs, reads that
decode from any k fragments and survive m lost ones, before or during the read (fake_nodes.py;
a real cluster in tests/functional/test_ec_cluster.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import pytest
from nimbus_storage.blobs.errors import BodySizeMismatch, NotEnoughStorage
from nimbus_storage.cluster.ec_blobs import ECBlobStore, driver, layout_of
from nimbus_storage.cluster.ec_layout import EC_META, ECFacts, ECPolicy
from nimbus_storage.storage_errors import StorageUnavailable

from tests.unit.storage.fake_nodes import FakeNodes, chunks, fixed_rings

SEGMENT = 64
POLICY = ECPolicy(4, 2, SEGMENT)
TS1, TS2 = "0000001000.00000", "0000002000.00000"
SIZES = [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 7 * SEGMENT + 5]


def body(size: int) -> bytes:
    return bytes((i * 7 + i // 251) % 256 for i in range(size))


def store(nodes: FakeNodes, policy: ECPolicy = POLICY, handoffs: int = 3) -> ECBlobStore:
    return ECBlobStore(fixed_rings(policy.fragments, handoffs), nodes, policy)


async def put(blobs: ECBlobStore, data: bytes, name: str = "k", chunk: int = 10) -> None:
    await blobs.put(name, chunks(data, chunk), {}, TS1, expected_size=len(data))


async def read(blobs: ECBlobStore, start: int = 0, end: int | None = None) -> bytes:
    reader = await blobs.open("k")
    assert reader is not None
    last = reader.info.size - 1 if end is None else end
    return b"".join([c async for c in reader.iter_range(start, last)])


def holders(nodes: FakeNodes) -> list[str]:
    return sorted(node for node, _ in nodes.blobs)


# --- policy and layout --------------------------------------------------------------------


def test_policy_parse_and_write_quorum() -> None:
    assert ECPolicy.parse(" 4 + 2 ") == ECPolicy(4, 2)
    assert (ECPolicy(4, 2).write_quorum, ECPolicy(2, 1).write_quorum) == (5, 3)
    assert str(ECPolicy(10, 4)) == "10+4"
    for bad in ("4", "4+", "a+b", "0+2", "4+0"):
        with pytest.raises(ValueError, match="policy"):
            ECPolicy.parse(bad)


def test_facts_round_trip_and_bad_facts_are_refused() -> None:
    facts = ECFacts(POLICY, 12345, 5)
    assert ECFacts.from_json(facts.to_json()) == facts
    for bad in ("", "{}", '{"k": 4}', facts.to_json().replace('"index": 5', '"index": 6')):
        with pytest.raises(ValueError, match="facts"):
            ECFacts.from_json(bad)


@pytest.mark.parametrize("segment", [64, 1024 * 1024])
@pytest.mark.parametrize("segments", [0, 1, 2, 5])
@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_archive_size_is_the_sum_of_the_encoded_fragments(
    segment: int, segments: int, extra: int
) -> None:
    size = max(0, segments * segment + extra)
    policy = ECPolicy(4, 2, segment)
    layout = layout_of(policy, size)
    codec = driver(4, 2, policy.ec_type)
    data = body(size) if segment == 64 else bytes(size)
    encoded = [codec.encode(data[o : o + segment]) for o in range(0, size, segment)]
    assert layout.segments == len(encoded)
    assert layout.archive_size == sum(len(f[0]) for f in encoded)
    for n, fragments in enumerate(encoded):
        assert {len(f) for f in fragments} == {layout.fragment_length(n)}
        assert layout.fragment_offset(n) == sum(len(f[0]) for f in encoded[:n])


def test_segments_between_clamps_to_the_object() -> None:
    layout = layout_of(POLICY, 3 * SEGMENT + 1)
    assert layout.segments_between(0, 0) == range(1)
    assert layout.segments_between(63, 64) == range(2)
    assert layout.segments_between(100, 10**9) == range(1, 4)
    assert layout.segments_between(3 * SEGMENT + 1, 10**9) == range(0)
    assert layout_of(POLICY, 0).segments_between(0, -1) == range(0)


# --- writes -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_write_stores_one_archive_per_primary_and_reads_back(size: int) -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    data = body(size)
    info = await blobs.put("k", chunks(data, 10), {"a": "b"}, TS1, expected_size=size)
    assert (info.size, info.md5_hex, info.meta) == (size, hashlib.md5(data).hexdigest(), {"a": "b"})
    assert holders(nodes) == [f"p{i}" for i in range(6)]  # exact Content-Length, or a 400
    for i in range(6):
        stored = nodes.blobs[(f"p{i}", "k")]
        assert ECFacts.from_json(stored.meta[EC_META]) == ECFacts(POLICY, size, i)
        assert len(stored.data) == layout_of(POLICY, size).archive_size
    reader = await blobs.open("k")
    assert reader is not None
    assert (reader.info.size, reader.info.meta, reader.info.timestamp) == (size, {"a": "b"}, TS1)
    assert await read(blobs) == data


async def test_m_primaries_down_before_a_write_are_replaced_by_handoffs() -> None:
    nodes = FakeNodes(down={"p1", "p4"})
    blobs = store(nodes)
    data = body(5 * SEGMENT)
    await put(blobs, data)
    assert holders(nodes) == ["h0", "h1", "p0", "p2", "p3", "p5"]
    indexes = {ECFacts.from_json(nodes.blobs[(n, "k")].meta[EC_META]).index for n in ("h0", "h1")}
    assert indexes == {1, 4}
    assert await read(blobs) == data  # p1 and p4 still down: the handoffs serve


async def test_write_quorum_is_k_plus_one() -> None:
    nodes = FakeNodes(down={"p0"})
    blobs = store(nodes, handoffs=0)
    await put(blobs, body(100))  # 5 of 6 archives: enough
    nodes.down = {"p0", "p5"}
    with pytest.raises(StorageUnavailable, match="4 of 6 fragment archives stored, 5 needed"):
        await put(blobs, body(100), name="k2")
    assert all(nodes.tombstones[(node, "k2")] for node in ("p1", "p2", "p3", "p4"))


async def test_a_mid_stream_break_costs_that_archive_only() -> None:
    nodes = FakeNodes(break_after={"p2": 100})
    blobs = store(nodes)
    await put(blobs, body(10 * SEGMENT))
    assert holders(nodes) == ["p0", "p1", "p3", "p4", "p5"]


async def test_full_disks_are_insufficient_storage() -> None:
    nodes = FakeNodes(full={"p0", "p1"})
    with pytest.raises(NotEnoughStorage):
        await put(store(nodes), body(100))


@pytest.mark.parametrize("announced", [99, 101])
async def test_a_body_of_the_wrong_size_stores_nothing(announced: int) -> None:
    nodes = FakeNodes()
    with pytest.raises(BodySizeMismatch):
        await store(nodes).put("k", chunks(body(100)), {}, TS1, expected_size=announced)
    assert nodes.blobs == {}


async def test_a_failing_client_body_aborts_every_archive() -> None:
    nodes = FakeNodes()

    async def broken() -> AsyncIterator[bytes]:
        yield body(3 * SEGMENT)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store(nodes).put("k", broken(), {}, TS1, expected_size=10 * SEGMENT)
    assert nodes.blobs == {}


async def test_a_write_buffers_a_few_segments_however_large_the_object() -> None:
    nodes = FakeNodes(slow={"p3"})
    blobs = store(nodes)
    fragment = layout_of(POLICY, SEGMENT).last_fragment_size
    segments = 200
    pulled, most = 0, 0

    async def watched() -> AsyncIterator[bytes]:
        nonlocal pulled, most
        for _ in range(segments * 4):
            delivered = min(nodes.receiving.get(f"p{i}", 0) for i in range(6)) // fragment
            most = max(most, pulled - delivered * SEGMENT)
            pulled += SEGMENT // 4
            yield bytes(SEGMENT // 4)

    await blobs.put("k", watched(), {}, TS1, expected_size=segments * SEGMENT)
    assert len(holders(nodes)) == 6
    assert most <= 4 * SEGMENT, f"{most / SEGMENT:.1f} segments in memory"


async def test_empty_objects_work() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await put(blobs, b"")
    assert all(stored.data == b"" for stored in nodes.blobs.values())
    assert await read(blobs) == b""
    reader = await blobs.open("k")
    assert reader is not None
    assert [c async for c in reader.iter_range(0, 10)] == []


def test_the_ring_must_have_k_plus_m_replicas() -> None:
    with pytest.raises(ValueError, match="needs a ring of 6 replicas; this one has 3"):
        ECBlobStore(fixed_rings(3, 0), FakeNodes(), POLICY)


# --- reads --------------------------------------------------------------------------------

RANGES = [(0, 0), (63, 64), (60, 200), (64, 127), (128, 128), (100, 10**6), (452, 452)]


@pytest.mark.parametrize(("start", "end"), RANGES)
async def test_ranges_across_segment_boundaries(start: int, end: int) -> None:
    nodes = FakeNodes(read_chunk=7)
    blobs = store(nodes)
    data = body(7 * SEGMENT + 5)
    await put(blobs, data)
    nodes.served = 0
    assert await read(blobs, start, end) == data[start : end + 1]
    layout = layout_of(POLICY, len(data))
    wanted = layout.segments_between(start, end)
    assert nodes.served == sum(layout.fragment_length(s) for s in wanted) * POLICY.k


async def test_a_range_past_the_end_is_empty() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await put(blobs, body(100))
    assert await read(blobs, 100, 200) == b""


@pytest.mark.parametrize("lost", [{"p0", "p1"}, {"p0", "p5"}, {"p4", "p5"}, {"p2", "p3"}])
async def test_any_m_nodes_down_before_a_read(lost: set[str]) -> None:
    nodes = FakeNodes()
    blobs = store(nodes, handoffs=0)
    data = body(5 * SEGMENT + 3)
    await put(blobs, data)
    nodes.down = lost
    assert await read(blobs) == data
    assert await read(blobs, 70, 140) == data[70:141]


async def test_m_nodes_breaking_mid_read_are_replaced() -> None:
    nodes = FakeNodes(read_chunk=9)
    blobs = store(nodes, handoffs=0)
    data = body(9 * SEGMENT)
    await put(blobs, data)
    nodes.break_after = {"p0": 150, "p2": 400}
    assert await read(blobs) == data
    assert await read(blobs, 200, 500) == data[200:501]


async def test_nodes_going_down_during_a_read() -> None:
    nodes = FakeNodes(read_chunk=16)
    blobs = store(nodes, handoffs=0)
    data = body(20 * SEGMENT)
    await put(blobs, data)
    reader = await blobs.open("k")
    assert reader is not None
    received = bytearray()
    async for chunk in reader.iter_range(0, len(data) - 1, chunk_size=SEGMENT):
        received += chunk
        if len(received) == 3 * SEGMENT:
            nodes.down = {"p1", "p3"}
    assert bytes(received) == data


async def test_too_many_losses_is_service_unavailable() -> None:
    nodes = FakeNodes()
    blobs = store(nodes, handoffs=0)
    data = body(5 * SEGMENT)
    await put(blobs, data)
    nodes.down = {"p0", "p1", "p2"}
    with pytest.raises(StorageUnavailable, match="3 of the 4 fragments"):
        await blobs.open("k")
    nodes.down = set()
    nodes.break_after = {"p0": 10, "p4": 10, "p5": 10}
    with pytest.raises(StorageUnavailable, match="Too few fragments"):
        await read(blobs)


async def test_fragments_on_handoffs_after_a_ring_change_are_found() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    data = body(3 * SEGMENT)
    await put(blobs, data)
    for i in (0, 1):  # two archives moved to handoffs (as after a rebalance)
        nodes.blobs[(f"h{i}", "k")] = nodes.blobs.pop((f"p{i}", "k"))
    nodes.down = {"p2"}
    assert await read(blobs) == data


async def test_a_read_holds_a_few_segments() -> None:
    nodes = FakeNodes(read_chunk=16)
    blobs = store(nodes)
    await put(blobs, body(100 * SEGMENT), chunk=1000)
    reader = await blobs.open("k")
    assert reader is not None
    nodes.served = 0
    async for _ in reader.iter_range(0, 100 * SEGMENT - 1):
        break
    fragment = layout_of(POLICY, SEGMENT).last_fragment_size
    assert nodes.served <= POLICY.k * (fragment + 16)


async def test_missing_objects_and_tombstones() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    assert await blobs.open("k") is None
    await put(blobs, body(100))
    nodes.tombstones[("p3", "k")] = TS2
    assert await blobs.open("k") is None


async def test_archives_without_ec_facts_are_ignored() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await put(blobs, body(100))
    for stored in nodes.blobs.values():
        stored.meta = json.loads(json.dumps({"a": "b"}))
    assert await blobs.open("k") is None


# --- deletes ------------------------------------------------------------------------------


async def test_delete_tombstones_every_archive_with_handoffs_for_unreachable_ones() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await put(blobs, body(100))
    nodes.down = {"p2"}
    await blobs.delete("k", TS2)
    assert sorted(node for node, _ in nodes.tombstones) == ["h0", "p0", "p1", "p3", "p4", "p5"]
    nodes.down = set()
    assert await blobs.open("k") is None


async def test_delete_needs_the_write_quorum() -> None:
    nodes = FakeNodes()
    blobs = store(nodes, handoffs=0)
    await put(blobs, body(100))
    nodes.down = {"p0", "p1"}
    with pytest.raises(StorageUnavailable, match="4 of 6 fragment archives deleted, 5 needed"):
        await blobs.delete("k", TS2)
