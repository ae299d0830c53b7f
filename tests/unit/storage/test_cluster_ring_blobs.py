"""The proxy's quorum, handoff and failover logic, against in-memory stand-ins for nodes
(fake_nodes.py); real nodes are exercised in tests/functional."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest
from nimbus_storage.blobs.errors import BodySizeMismatch, CopiesDiffer, NotEnoughStorage
from nimbus_storage.cluster.quorum import majority as quorum
from nimbus_storage.cluster.ring_blobs import RingBlobStore
from nimbus_storage.storage_errors import StorageUnavailable

from tests.unit.storage.fake_nodes import FakeNodes, chunks, fixed_rings


def store(nodes: FakeNodes, primaries: int = 3, handoffs: int = 2) -> RingBlobStore:
    return RingBlobStore(fixed_rings(primaries, handoffs), nodes)


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


async def test_copies_that_differ_fail_the_write_and_are_tombstoned() -> None:
    nodes = FakeNodes(garble={"p1"})
    blobs = store(nodes)
    with pytest.raises(CopiesDiffer, match="copies of the object differ"):
        await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert sorted(node for node, _ in nodes.tombstones) == ["p0", "p1", "p2"]
    assert await blobs.open("k") is None


async def test_a_write_that_finds_its_copies_there_takes_their_md5() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    # The same write again (a retry): every node answers 409, the md5 comes from a copy.
    info = await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert info.md5_hex == hashlib.md5(DATA).hexdigest()


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
    with pytest.raises(StorageUnavailable, match="1 of 3 replicas stored, 2 needed"):
        await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert ("p0", "k") in nodes.tombstones
    assert await blobs.open("k") is None


async def test_full_disks_are_insufficient_storage() -> None:
    nodes = FakeNodes(full={"p0", "p1"})
    blobs = store(nodes)
    with pytest.raises(NotEnoughStorage):
        await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))


async def test_a_primary_full_before_the_body_is_replaced_by_a_handoff() -> None:
    nodes = FakeNodes(refuse_full={"p1"})
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert sorted(node for node, _ in nodes.blobs) == ["h0", "p0", "p2"]
    assert await read_all(blobs, "k") == DATA


async def test_a_primary_full_after_taking_the_body_is_not_replayed() -> None:
    nodes = FakeNodes(full={"p1"})  # ENOSPC mid-write: the slot's bytes are gone
    await store(nodes).put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert sorted(node for node, _ in nodes.blobs) == ["p0", "p2"]


async def test_full_everywhere_is_insufficient_storage() -> None:
    nodes = FakeNodes(refuse_full={"p0", "p1", "p2", "h0", "h1"})
    with pytest.raises(NotEnoughStorage, match="0 of 3 replicas stored"):
        await store(nodes).put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert nodes.blobs == {}


async def test_a_full_primary_whose_handoffs_are_down_still_says_insufficient_storage() -> None:
    nodes = FakeNodes(refuse_full={"p0", "p1"}, down={"h0", "h1"})
    with pytest.raises(NotEnoughStorage, match="1 of 3 replicas stored"):
        await store(nodes).put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert ("p2", "k") in nodes.tombstones


async def test_body_shorter_than_announced_fails() -> None:
    blobs = store(FakeNodes())
    with pytest.raises(BodySizeMismatch):
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
    with pytest.raises(StorageUnavailable, match="1 of 3 replicas deleted"):
        await blobs.delete("k", TS2)


# --- open(read_from=...): the first read starts as the blob is opened --------------------


async def opened_read(blobs: RingBlobStore, start: int, end: int, read_from: int) -> bytes:
    reader = await blobs.open("k", read_from=read_from)
    assert reader is not None
    assert reader.info.size == len(DATA)
    with_reader = [chunk async for chunk in reader.iter_range(start, end)]
    reader.close()
    return b"".join(with_reader)


@pytest.mark.parametrize(("start", "end"), [(0, len(DATA) - 1), (5, len(DATA) - 1), (5, 9)])
async def test_a_read_from_where_the_open_started_it_takes_one_request(
    start: int, end: int
) -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {"m": "v"}, TS1, expected_size=len(DATA))
    assert await opened_read(blobs, start, end, read_from=start) == DATA[start : end + 1]
    assert (nodes.opened, nodes.heads) == (1, 0)
    assert nodes.open_reads == [[True]]  # released, whether read to its end or not


async def test_a_read_elsewhere_drops_the_started_one() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert await opened_read(blobs, 10, 20, read_from=0) == DATA[10:21]
    assert nodes.open_reads == [[True]]


async def test_an_unread_open_is_released_on_close() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    reader = await blobs.open("k", read_from=0)
    assert reader is not None
    reader.close()
    assert nodes.open_reads == [[True]]


async def test_a_started_read_that_breaks_continues_on_another_replica() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    nodes.break_after = {"p0": 8}
    assert await opened_read(blobs, 0, len(DATA) - 1, read_from=0) == DATA


async def test_a_start_past_the_end_falls_back_to_a_head() -> None:
    nodes = FakeNodes()
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert await opened_read(blobs, 0, 3, read_from=len(DATA)) == DATA[:4]
    assert (nodes.opened, nodes.heads) == (1, 1)


async def test_an_open_read_sees_tombstones_and_down_nodes_as_a_head_does() -> None:
    nodes = FakeNodes(down={"p0"})
    blobs = store(nodes)
    await blobs.put("k", chunks(DATA), {}, TS1, expected_size=len(DATA))
    assert await opened_read(blobs, 0, len(DATA) - 1, read_from=0) == DATA
    nodes.tombstones[("p1", "k")] = TS2
    assert await blobs.open("k", read_from=0) is None
