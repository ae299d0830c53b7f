"""The reconstructor on real storage nodes on 127.0.0.1 ports, placed by a real ring.

Four nodes with one device each, a ring of 3 replicas over 16 partitions: every partition has
three primaries and one handoff. Blobs are erasure-coded 2+1 (1 MiB segments) by an in-process
ECBlobStore over the ring; then one node's reconstructor runs one pass. A missing archive is
rebuilt by the nearest primary to its left that holds the blob (reconstructor.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nimbus_storage.blobs.diskfile import DiskBlobStore, normalize_timestamp
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.cluster.ec_blobs import ECBlobStore
from nimbus_storage.cluster.ec_layout import EC_META, ECFacts, ECPolicy
from nimbus_storage.node.config import NodeConfig
from nimbus_storage.node.reconstructor import (
    ReconstructionReport,
    Reconstructor,
    ReconstructorSettings,
)
from nimbus_storage.node.server import RunningNode, start_node
from nimbus_storage.protocol.client import NodeClient, Placement
from nimbus_storage.ring import Ring, RingBuilder

pytestmark = pytest.mark.timeout(60)

IDENTITY = StoreIdentity("reconstructor-prefix", "reconstructor-suffix", 4)
TOKEN = "reconstructor-token"
MIB = 1024 * 1024
T1, T2, T3 = (normalize_timestamp(time.time() - 60 + i) for i in (1, 2, 3))
UNLIMITED = ReconstructorSettings(items_per_second=0, bytes_per_second=0, concurrency=2)


async def chunks(body: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@dataclass(frozen=True)
class Archive:
    body: bytes
    timestamp: str
    index: int
    meta: dict[str, str]


@dataclass
class FixedRing:
    ring: Ring

    def current(self) -> Ring:
        return self.ring


@dataclass
class Cluster:
    nodes: list[RunningNode]
    ring: Ring
    client: NodeClient
    blobs: ECBlobStore
    stopped: dict[int, tuple[NodeConfig, int]] = field(default_factory=dict)
    reconstructors: list[Reconstructor] = field(default_factory=list)

    def node_at(self, address: str) -> RunningNode:
        return next(n for n in self.nodes if n.ring_node == address)

    def primaries(self, name: str) -> list[RunningNode]:
        return [self.node_at(d.node) for d in self.ring.primaries(self.ring.partition(name))]

    def handoff(self, name: str) -> RunningNode:
        return self.node_at(next(self.ring.handoffs(self.ring.partition(name))).node)

    def placement(self, node: RunningNode, name: str) -> Placement:
        return Placement(node.ring_node, "d0", self.ring.partition(name))

    async def stop(self, node: RunningNode) -> None:
        index = self.nodes.index(node)
        self.stopped[index] = (node.context.config, node.port)
        await node.stop()

    async def start(self, node: RunningNode) -> RunningNode:
        """Start a stopped node again on its port; the new RunningNode."""
        index = self.nodes.index(node)
        config, port = self.stopped.pop(index)
        self.nodes[index] = await start_node(dataclasses.replace(config, port=port))
        return self.nodes[index]

    async def reconstruct(self, node: RunningNode) -> ReconstructionReport:
        reconstructor = node.make_reconstructor(lambda: self.ring, UNLIMITED)
        self.reconstructors.append(reconstructor)
        return await reconstructor.run_once()

    async def put(self, name: str, data: bytes, timestamp: str = T1) -> None:
        await self.blobs.put(
            name, chunks(data), {"content-type": "x/y"}, timestamp, expected_size=len(data)
        )

    async def read(self, name: str) -> bytes:
        reader = await self.blobs.open(name)
        assert reader is not None
        return b"".join([c async for c in reader.iter_range(0, reader.info.size - 1)])


def store_of(node: RunningNode) -> DiskBlobStore:
    store = node.context.devices.get("d0")
    assert store is not None
    return store


def on_disk(node: RunningNode, name: str) -> Archive | str | None:
    """The archive of ``name`` in the node's hash dir; a tombstone's timestamp; None."""
    hash_dir = store_of(node).hash_dir_for(name)
    if not hash_dir.is_dir():
        return None
    files = sorted(os.listdir(hash_dir))
    data = [f for f in files if f.endswith(".data")]
    if not data:
        tombstones = [f for f in files if f.endswith(".ts")]
        return tombstones[-1].removesuffix(".ts") if tombstones else None
    timestamp = data[-1].removesuffix(".data")
    sidecar = json.loads((hash_dir / f"{timestamp}.meta").read_bytes())
    meta = dict(sidecar["meta"])
    index = ECFacts.from_json(meta[EC_META]).index
    return Archive((hash_dir / data[-1]).read_bytes(), timestamp, index, meta)


def lose(node: RunningNode, name: str) -> None:
    """The archive's hash dir vanishes from the disk, behind the store's back."""
    shutil.rmtree(store_of(node).hash_dir_for(name))


def metric(node: RunningNode, name: str) -> float:
    return node.context.metrics.registry.get_sample_value(name) or 0.0


def node_config(data_dir: Path) -> NodeConfig:
    return NodeConfig(
        data_dir=data_dir,
        identity=IDENTITY,
        devices=("d0",),
        token=TOKEN,
        port=0,
        fsync=False,
        create_devices=True,
        auditor=None,
        replicator=None,
        db_replicator=None,
    )


async def make_cluster(root: Path, policy: ECPolicy, nodes: int) -> Cluster:
    """``nodes`` nodes (one device each) in their own zones, a ring of ``k + m`` replicas."""
    running = [await start_node(node_config(root / f"node-{i}")) for i in range(nodes)]
    builder = RingBuilder(
        IDENTITY.part_power,
        policy.fragments,
        hash_prefix=IDENTITY.hash_prefix,
        hash_suffix=IDENTITY.hash_suffix,
    )
    for zone, node in zip("abcdefgh", running, strict=False):
        builder.add_device(region=1, zone=zone, node=node.ring_node, device="d0", weight=1)
    builder.rebalance()
    ring = builder.ring()
    client = NodeClient(TOKEN)
    return Cluster(running, ring, client, ECBlobStore(FixedRing(ring), client, policy))


async def close_cluster(cluster: Cluster) -> None:
    for reconstructor in cluster.reconstructors:
        await reconstructor.close()
    await cluster.client.close()
    for index, node in enumerate(cluster.nodes):
        if index not in cluster.stopped:
            await node.stop()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    """2+1 over 4 nodes: three primaries and one handoff per partition."""
    built = await make_cluster(tmp_path, ECPolicy(2, 1), 4)
    yield built
    await close_cluster(built)


@pytest.fixture
async def wide(tmp_path: Path) -> AsyncIterator[Cluster]:
    """2+2 over 5 nodes: any two archives may be lost."""
    built = await make_cluster(tmp_path, ECPolicy(2, 2), 5)
    yield built
    await close_cluster(built)


async def test_a_lost_archive_is_rebuilt_by_its_left_neighbour(cluster: Cluster) -> None:
    name = "photos/cat.jpg"
    data = os.urandom(700 * 1024)
    await cluster.put(name, data)
    left, victim, right = cluster.primaries(name)
    original = on_disk(victim, name)
    assert isinstance(original, Archive)
    assert original.index == 1
    lose(victim, name)

    # The victim's right neighbour: its own right neighbour (left) holds the same names, so
    # their suffix hashes match and not even a HEAD is needed.
    quiet = await cluster.reconstruct(right)
    assert (quiet.fragments_rebuilt, quiet.fragments_checked, quiet.failures) == (0, 0, 0)
    assert quiet.settled == quiet.archives == 1
    report = await cluster.reconstruct(left)

    assert on_disk(victim, name) == original  # same bytes, timestamp, meta and index
    assert report.fragments_rebuilt == 1
    assert report.bytes_sent == len(original.body)
    assert report.failures == 0
    assert metric(left, "nimbus_reconstructor_fragments_rebuilt_total") == 1
    assert metric(left, "nimbus_reconstructor_bytes_sent_total") == len(original.body)
    assert metric(left, "nimbus_reconstructor_last_pass_completion_timestamp_seconds") > 0
    again = await cluster.reconstruct(left)  # the victim's suffix matches again
    assert (again.fragments_rebuilt, again.fragments_checked, again.settled) == (0, 0, 1)

    await cluster.stop(left)  # the rebuilt archive is one of the two left to decode from
    assert await cluster.read(name) == data


async def test_a_run_of_lost_and_stale_archives_is_rebuilt_in_one_pass(wide: Cluster) -> None:
    """2+2: the second primary lost its archive, the third holds an older write's; the first
    (the nearest holder to their left) rebuilds both in one pass."""
    cluster = wide
    name = "docs/report.pdf"
    old, new = os.urandom(100 * 1024), os.urandom(1024 * 1024 + 150 * 1024)
    await cluster.put(name, old, T1)
    first, second, third, fourth = cluster.primaries(name)
    stale = on_disk(third, name)
    await cluster.put(name, new, T2)
    lose(second, name)
    lose(third, name)  # and the old write's archive put back
    assert isinstance(stale, Archive)
    answer = await cluster.client.put(
        cluster.placement(third, name),
        name,
        chunks(stale.body),
        size=len(stale.body),
        meta=stale.meta,
        timestamp=T1,
    )
    assert answer.status == 201

    for node in (second, third, fourth):  # none of them holds the blob left of the run
        assert (await cluster.reconstruct(node)).fragments_rebuilt == 0

    report = await cluster.reconstruct(first)

    assert (report.fragments_rebuilt, report.fragments_checked, report.failures) == (2, 3, 0)
    for index, node in enumerate((second, third), start=1):
        rebuilt = on_disk(node, name)
        assert isinstance(rebuilt, Archive)
        assert (rebuilt.timestamp, rebuilt.index) == (T2, index)
    await cluster.stop(first)
    await cluster.stop(fourth)  # only the two rebuilt archives are left
    assert await cluster.read(name) == new


async def test_an_archive_on_a_handoff_goes_home_and_leaves_it(cluster: Cluster) -> None:
    name = "music/song.flac"
    data = os.urandom(300 * 1024)
    primaries = cluster.primaries(name)
    down, handoff = primaries[2], cluster.handoff(name)
    await cluster.stop(down)
    await cluster.put(name, data)  # fragment 2 goes to the handoff
    held = on_disk(handoff, name)
    assert isinstance(held, Archive)
    assert held.index == 2

    kept = await cluster.reconstruct(handoff)  # its primary is down: it stays
    assert (kept.archives_reverted, on_disk(handoff, name)) == (0, held)
    assert kept.failures >= 1

    down = await cluster.start(down)
    left = await cluster.reconstruct(primaries[1])  # the handoff has it: no rebuild
    assert (left.fragments_rebuilt, left.failures, on_disk(down, name)) == (0, 0, None)
    report = await cluster.reconstruct(handoff)

    assert report.archives_reverted == 1
    assert report.bytes_sent == len(held.body)
    assert on_disk(down, name) == held
    assert on_disk(handoff, name) is None
    partition = cluster.ring.partition(name)
    assert not (store_of(handoff).objects_dir / str(partition)).exists()
    assert metric(handoff, "nimbus_reconstructor_archives_reverted_total") == 1
    after = await cluster.reconstruct(primaries[1])
    assert (after.fragments_rebuilt, after.failures) == (0, 0)
    await cluster.stop(primaries[0])
    assert await cluster.read(name) == data


async def copy_archive(cluster: Cluster, archive: Archive, to: RunningNode, name: str) -> None:
    answer = await cluster.client.put(
        cluster.placement(to, name),
        name,
        chunks(archive.body),
        size=len(archive.body),
        meta=archive.meta,
        timestamp=archive.timestamp,
    )
    assert answer.status == 201


async def test_an_archive_its_primary_holds_leaves_the_handoff_unsent(cluster: Cluster) -> None:
    name = "music/copy.flac"
    await cluster.put(name, os.urandom(200 * 1024))
    first = cluster.primaries(name)[0]
    handoff = cluster.handoff(name)
    archive = on_disk(first, name)
    assert isinstance(archive, Archive)
    await copy_archive(cluster, archive, handoff, name)

    report = await cluster.reconstruct(handoff)

    assert (report.archives_reverted, report.bytes_sent, report.failures) == (1, 0, 0)
    assert on_disk(handoff, name) is None
    assert on_disk(first, name) == archive


async def test_a_misplaced_archive_on_a_primary_goes_home_then_its_own_is_rebuilt(
    cluster: Cluster,
) -> None:
    name = "misc/misplaced"
    data = os.urandom(80 * 1024)
    await cluster.put(name, data)
    first, second, _third = cluster.primaries(name)
    own, wrong = on_disk(second, name), on_disk(first, name)
    assert isinstance(own, Archive)
    assert isinstance(wrong, Archive)
    lose(second, name)
    await copy_archive(cluster, wrong, second, name)  # fragment 0 on the primary of 1

    skipped = await cluster.reconstruct(first)  # same timestamp, other fragment: not yet
    assert (skipped.fragments_rebuilt, skipped.failures) == (0, 0)
    reverted = await cluster.reconstruct(second)  # first holds fragment 0: dropped here
    assert (reverted.archives_reverted, reverted.bytes_sent) == (1, 0)
    assert on_disk(second, name) is None
    rebuilt = await cluster.reconstruct(first)

    assert rebuilt.fragments_rebuilt == 1
    assert on_disk(second, name) == own
    await cluster.stop(first)
    assert await cluster.read(name) == data


async def test_a_tombstone_reaches_a_primary_with_an_old_archive(cluster: Cluster) -> None:
    name = "tmp/gone.bin"
    await cluster.put(name, os.urandom(50 * 1024), T1)
    first, second, third = cluster.primaries(name)
    for node in (second, third):
        answer = await cluster.client.delete(cluster.placement(node, name), name, T2)
        assert answer.status == 204
    assert isinstance(on_disk(first, name), Archive)

    report = await cluster.reconstruct(third)  # the nearest tombstone to the left of first

    assert report.tombstones_pushed == 1
    assert on_disk(first, name) == T2
    assert await cluster.blobs.open(name) is None
    assert metric(third, "nimbus_reconstructor_tombstones_pushed_total") == 1

    # A newer tombstone left on the handoff goes to every primary, then leaves it.
    handoff = cluster.handoff(name)
    answer = await cluster.client.delete(cluster.placement(handoff, name), name, T3)
    assert answer.status == 404  # nothing visible there, the tombstone is kept
    reverted = await cluster.reconstruct(handoff)
    assert reverted.tombstones_pushed == 3
    assert [on_disk(node, name) for node in (first, second, third)] == [T3, T3, T3]
    assert on_disk(handoff, name) is None


async def rebuild_first_archive(cluster: Cluster, name: str, size: int) -> tuple[float, float]:
    """Write ``size`` bytes, lose fragment 0, rebuild it: (seconds, peak traced bytes)."""
    data = os.urandom(size)
    await cluster.put(name, data)
    first, second, third = cluster.primaries(name)
    original = on_disk(first, name)  # fragment 0: a data fragment
    assert isinstance(original, Archive)
    lose(first, name)
    tracemalloc.start()
    started = time.monotonic()
    try:
        report = await cluster.reconstruct(third)  # first's left neighbour, wrapping around
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    seconds = time.monotonic() - started
    assert report.fragments_rebuilt == 1
    assert on_disk(first, name) == original
    await cluster.stop(second)  # decode from the rebuilt data fragment and the parity
    assert await cluster.read(name) == data
    await cluster.start(second)
    return seconds, peak


async def test_a_multi_segment_archive_is_rebuilt_in_bounded_memory(cluster: Cluster) -> None:
    # 13 and 49 segments of 1 MiB, the last one short: archives of ~6 MiB and ~24 MiB.
    small_seconds, small_peak = await rebuild_first_archive(cluster, "video/a.mp4", 12 * MIB + 17)
    large_seconds, large_peak = await rebuild_first_archive(cluster, "video/b.mp4", 48 * MIB + 17)
    print(
        f"\nrebuilt fragment 0 of a 12 MiB object in {small_seconds:.2f} s, peak"
        f" {small_peak / MIB:.1f} MiB; of a 48 MiB object in {large_seconds:.2f} s, peak"
        f" {large_peak / MIB:.1f} MiB (traced: the nodes' request buffers are included)"
    )
    # A segment at a time: the peak does not grow with the object, and stays far below one
    # archive of the large object (24 MiB), let alone the object.
    assert large_peak < small_peak + 2 * MIB
    assert large_peak < 14 * MIB


async def test_an_empty_object_s_archive_is_rebuilt(cluster: Cluster) -> None:
    name = "empty/marker"
    await cluster.put(name, b"")
    first, second, third = cluster.primaries(name)
    original = on_disk(third, name)
    lose(third, name)

    report = await cluster.reconstruct(second)

    assert report.fragments_rebuilt == 1
    assert on_disk(third, name) == original
    await cluster.stop(first)
    assert await cluster.read(name) == b""


async def test_too_few_fragments_is_a_failure_not_a_wrong_rebuild(cluster: Cluster) -> None:
    name = "misc/fragile"
    await cluster.put(name, os.urandom(10 * 1024))
    first, second, third = cluster.primaries(name)
    lose(second, name)
    await cluster.stop(third)

    report = await cluster.reconstruct(first)

    assert report.fragments_rebuilt == 0
    assert report.failures >= 2  # third unreachable; only 1 of the 2 fragments needed
    assert on_disk(second, name) is None
