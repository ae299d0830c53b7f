"""Replication between real storage nodes on 127.0.0.1 ports, placed by a real ring.

Four nodes with one device each, a ring of 3 replicas over 16 partitions: every partition has
three primaries and one handoff. Blobs are written to chosen nodes directly over the node API
(``NodeClient``), then one node's replicator runs one pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nimbus_storage.blobs.diskfile import DiskBlobStore, normalize_timestamp
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.node.config import NodeConfig
from nimbus_storage.node.replicator import Replicator, ReplicatorSettings
from nimbus_storage.node.server import RunningNode, start_node
from nimbus_storage.protocol.client import NodeClient, Placement
from nimbus_storage.ring import Ring, RingBuilder

pytestmark = pytest.mark.timeout(20)

IDENTITY = StoreIdentity("replication-prefix", "replication-suffix", 4)
TOKEN = "replication-token"
# Recent: tombstones older than reclaim_age (7 days by default) would be reclaimed.
T1, T2, T3 = (normalize_timestamp(time.time() - 60 + i) for i in (1, 2, 3))
UNLIMITED = ReplicatorSettings(items_per_second=0, bytes_per_second=0, concurrency=2)


async def chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


@dataclass(frozen=True)
class Copy:
    body: bytes
    timestamp: str
    meta: dict[str, str]


@dataclass
class Cluster:
    nodes: list[RunningNode]
    ring: Ring
    client: NodeClient
    replicators: list[Replicator] = field(default_factory=list)

    def node_at(self, address: str) -> RunningNode:
        return next(n for n in self.nodes if n.ring_node == address)

    def primaries(self, name: str) -> list[RunningNode]:
        return [self.node_at(d.node) for d in self.ring.primaries(self.ring.partition(name))]

    def handoff(self, name: str) -> RunningNode:
        return self.node_at(next(self.ring.handoffs(self.ring.partition(name))).node)

    def placement(self, node: RunningNode, name: str) -> Placement:
        return Placement(node.ring_node, "d0", self.ring.partition(name))

    def replicator(self, node: RunningNode, settings: ReplicatorSettings = UNLIMITED) -> Replicator:
        replicator = node.make_replicator(lambda: self.ring, settings)
        self.replicators.append(replicator)
        return replicator

    async def put(
        self, node: RunningNode, name: str, body: bytes, timestamp: str, meta: dict[str, str]
    ) -> int:
        where = self.placement(node, name)
        answer = await self.client.put(
            where, name, chunks(body), size=len(body), meta=meta, timestamp=timestamp
        )
        return answer.status

    async def delete(self, node: RunningNode, name: str, timestamp: str) -> int:
        return (await self.client.delete(self.placement(node, name), name, timestamp)).status

    async def read(self, node: RunningNode, name: str) -> Copy | str | None:
        """The node's copy; the tombstone's timestamp; None when it has nothing."""
        where = self.placement(node, name)
        answer = await self.client.head(where, name)
        if answer.status == 404:
            return answer.timestamp
        assert answer.status == 200
        size = int(answer.headers["X-Nimbus-Size"])
        body = b"".join([c async for c in self.client.stream(where, name, 0, size - 1)])
        meta = json.loads(answer.headers["X-Nimbus-Meta"])
        return Copy(body, answer.headers["X-Nimbus-Timestamp"], meta)

    async def suffix_hashes(self, node: RunningNode, partition: int) -> dict[str, str]:
        return await self.client.replicate(Placement(node.ring_node, "d0", partition))


def store_of(node: RunningNode) -> DiskBlobStore:
    store = node.context.devices.get("d0")
    assert store is not None
    return store


def metric(node: RunningNode, name: str) -> float:
    return node.context.metrics.registry.get_sample_value(name) or 0.0


def names_in_one_partition(ring: Ring, count: int) -> list[str]:
    by_partition: dict[int, list[str]] = {}
    for i in range(1000):
        name = f"bucket/key-{i}"
        found = by_partition.setdefault(ring.partition(name), [])
        found.append(name)
        if len(found) == count:
            return found
    raise AssertionError("no partition got enough names")


def node_config(data_dir: Path, **overrides: object) -> NodeConfig:
    settings: dict[str, object] = {
        "data_dir": data_dir,
        "identity": IDENTITY,
        "devices": ("d0",),
        "token": TOKEN,
        "port": 0,
        "fsync": False,
        "create_devices": True,
        "auditor": None,
    }
    settings.update(overrides)
    return NodeConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    nodes = [await start_node(node_config(tmp_path / f"node-{i}")) for i in range(4)]
    builder = RingBuilder(
        IDENTITY.part_power, 3, hash_prefix=IDENTITY.hash_prefix, hash_suffix=IDENTITY.hash_suffix
    )
    for zone, node in zip("abcd", nodes, strict=True):
        builder.add_device(region=1, zone=zone, node=node.ring_node, device="d0", weight=1)
    builder.rebalance()
    built = Cluster(nodes, builder.ring(), NodeClient(TOKEN))
    yield built
    for replicator in built.replicators:
        await replicator.close()
    await built.client.close()
    for node in built.nodes:
        await node.stop()


async def test_a_missing_copy_is_pushed_with_its_timestamp_and_meta(cluster: Cluster) -> None:
    name = "photos/cat.jpg"
    body = os.urandom(300 * 1024)
    meta = {"content-type": "image/jpeg", "x-amz-meta-colour": "grey"}
    first, second, third = cluster.primaries(name)
    assert await cluster.put(first, name, body, T1, meta) == 201
    assert await cluster.put(second, name, body, T1, meta) == 201
    assert await cluster.read(third, name) is None

    report = await cluster.replicator(first).run_once()

    assert await cluster.read(third, name) == Copy(body, T1, meta)
    assert (report.objects_pushed, report.bytes_pushed, report.failures) == (1, len(body), 0)
    assert report.partitions == 1
    partition = cluster.ring.partition(name)
    hashes = [await cluster.suffix_hashes(node, partition) for node in (first, second, third)]
    assert hashes[0] == hashes[1] == hashes[2] != {}
    assert metric(first, "nimbus_replicator_objects_pushed_total") == 1
    assert metric(first, "nimbus_replicator_bytes_pushed_total") == len(body)
    assert metric(first, "nimbus_replicator_last_pass_completion_timestamp_seconds") > 0
    again = await cluster.replicator(first).run_once()
    assert (again.objects_pushed, again.suffixes_synced) == (0, 0)


async def test_a_tombstone_propagates_and_wins_over_older_data(cluster: Cluster) -> None:
    name = "docs/gone.txt"
    nodes = cluster.primaries(name)
    for node in nodes:
        assert await cluster.put(node, name, b"old data", T1, {}) == 201
    assert await cluster.delete(nodes[1], name, T2) == 204

    report = await cluster.replicator(nodes[1]).run_once()

    assert report.tombstones_pushed == 2
    assert report.suffixes_synced == 2
    for node in nodes:
        assert await cluster.read(node, name) == T2  # 404 with the tombstone's timestamp
        assert await store_of(node).state(name) is not None


async def test_the_newest_write_wins_everywhere(cluster: Cluster) -> None:
    name = "docs/edited.txt"
    old, new = cluster.primaries(name)[0], cluster.primaries(name)[1]
    third = cluster.primaries(name)[2]
    for node in cluster.primaries(name):
        assert await cluster.put(node, name, b"first draft", T1, {"v": "1"}) == 201
    assert await cluster.put(new, name, b"final text", T3, {"v": "3"}) == 201

    stale = await cluster.replicator(old).run_once()
    assert stale.objects_pushed == 0  # the older copy never overwrites the newer one
    assert await cluster.read(new, name) == Copy(b"final text", T3, {"v": "3"})

    fresh = await cluster.replicator(new).run_once()
    assert fresh.objects_pushed == 2
    for node in (old, new, third):
        assert await cluster.read(node, name) == Copy(b"final text", T3, {"v": "3"})


async def test_a_handoff_partition_goes_to_its_primaries_and_leaves(cluster: Cluster) -> None:
    kept, deleted = names_in_one_partition(cluster.ring, 2)
    handoff = cluster.handoff(kept)
    primaries = cluster.primaries(kept)
    assert handoff not in primaries
    assert await cluster.put(handoff, kept, b"written while a primary was down", T1, {}) == 201
    assert await cluster.delete(handoff, deleted, T2) == 404  # a tombstone all the same
    partition_dir = store_of(handoff).objects_dir / str(cluster.ring.partition(kept))
    assert partition_dir.is_dir()

    report = await cluster.replicator(handoff).run_once()

    assert (report.objects_pushed, report.tombstones_pushed) == (3, 3)
    assert report.handoffs_reverted == 1
    assert report.failures == 0
    for node in primaries:
        assert await cluster.read(node, kept) == Copy(b"written while a primary was down", T1, {})
        assert await cluster.read(node, deleted) == T2
    assert not partition_dir.exists()
    assert await cluster.read(handoff, kept) is None
    assert metric(handoff, "nimbus_replicator_handoffs_reverted_total") == 1


async def test_a_handoff_keeps_its_data_while_a_primary_is_down(
    cluster: Cluster, tmp_path: Path
) -> None:
    name = "while/down"
    handoff = cluster.handoff(name)
    down, *up = cluster.primaries(name)
    assert await cluster.put(handoff, name, b"precious", T1, {}) == 201
    config, port = down.context.config, down.port
    cluster.nodes.remove(down)
    await down.stop()

    report = await cluster.replicator(handoff).run_once()

    assert report.failures >= 1
    assert report.handoffs_reverted == 0
    assert await cluster.read(handoff, name) == Copy(b"precious", T1, {})
    for node in up:  # the primaries that answered got their copy
        assert await cluster.read(node, name) == Copy(b"precious", T1, {})
    assert metric(handoff, "nimbus_replicator_failures_total") >= 1

    back = await start_node(dataclasses.replace(config, port=port))
    cluster.nodes.append(back)
    retried = await cluster.replicator(handoff).run_once()
    assert retried.handoffs_reverted == 1
    assert await cluster.read(back, name) == Copy(b"precious", T1, {})
    assert await cluster.read(handoff, name) is None


async def test_old_tombstones_are_reclaimed_once_in_sync(cluster: Cluster) -> None:
    now = time.time()
    settings = dataclasses.replace(UNLIMITED, reclaim_age=3600.0)
    old, recent = names_in_one_partition(cluster.ring, 2)
    long_ago = normalize_timestamp(now - 7200)
    lately = normalize_timestamp(now - 60)
    nodes = cluster.primaries(old)
    for node in nodes:
        await cluster.delete(node, old, long_ago)
        await cluster.delete(node, recent, lately)
    first = cluster.replicator(nodes[0], settings)

    report = await first.run_once()

    assert report.tombstones_reclaimed == 1
    assert await store_of(nodes[0]).state(old) is None
    assert (await store_of(nodes[0]).state(recent)) is not None
    assert await cluster.read(nodes[1], old) == long_ago  # each node reclaims its own
    # The others do not hand the reclaimable tombstone back: they drop theirs too.
    second = await cluster.replicator(nodes[1], settings).run_once()
    assert (second.tombstones_pushed, second.tombstones_reclaimed) == (0, 1)
    assert await store_of(nodes[0]).state(old) is None
    assert await store_of(nodes[1]).state(old) is None


async def test_an_old_tombstone_still_deletes_older_data_before_it_goes(
    cluster: Cluster,
) -> None:
    now = time.time()
    settings = dataclasses.replace(UNLIMITED, reclaim_age=3600.0)
    name = "resurrection/guard"
    first, stale, third = cluster.primaries(name)
    assert await cluster.put(stale, name, b"deleted long ago", normalize_timestamp(now - 9000), {})
    for node in (first, third):
        await cluster.delete(node, name, normalize_timestamp(now - 7200))

    report = await cluster.replicator(first, settings).run_once()

    assert report.tombstones_pushed == 1
    assert await cluster.read(stale, name) == normalize_timestamp(now - 7200)
    assert report.tombstones_reclaimed == 1


async def test_tombstones_stay_while_a_peer_is_unreachable(cluster: Cluster) -> None:
    now = time.time()
    settings = dataclasses.replace(UNLIMITED, reclaim_age=3600.0)
    name = "kept/while/down"
    first, second, down = cluster.primaries(name)
    for node in (first, second):
        await cluster.delete(node, name, normalize_timestamp(now - 7200))
    cluster.nodes.remove(down)
    await down.stop()

    report = await cluster.replicator(first, settings).run_once()

    assert report.failures == 1
    assert report.tombstones_reclaimed == 0
    assert await store_of(first).state(name) is not None


class FakeTime:
    """A clock that moves only when the replicator sleeps: pacing without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


@pytest.mark.parametrize(
    ("items_per_second", "bytes_per_second", "expected_sleep"),
    [(2.0, 0.0, 4 * 0.5), (0.0, 1000.0, 4 * 500 / 1000), (0.0, 0.0, 0.0)],
)
async def test_pushes_are_paced_in_items_and_bytes_per_second(
    cluster: Cluster, items_per_second: float, bytes_per_second: float, expected_sleep: float
) -> None:
    names = names_in_one_partition(cluster.ring, 4)
    first, second, _third = cluster.primaries(names[0])
    for name in names:
        for node in (first, second):
            assert await cluster.put(node, name, b"x" * 500, T1, {}) == 201
    fake = FakeTime()
    settings = dataclasses.replace(
        UNLIMITED, items_per_second=items_per_second, bytes_per_second=bytes_per_second
    )
    replicator = Replicator(
        first.context.devices.available,
        lambda: cluster.ring,
        first.ring_node,
        NodeClient(TOKEN),
        settings,
        clock=fake.clock,
        sleep=fake.sleep,
    )
    cluster.replicators.append(replicator)

    report = await replicator.run_once()

    assert report.objects_pushed == 4
    assert fake.slept == pytest.approx(expected_sleep)  # 4 pushes of 500 bytes at the rate


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_a_node_with_a_ring_file_replicates_in_the_background(tmp_path: Path) -> None:
    port = free_port()
    builder = RingBuilder(
        IDENTITY.part_power, 1, hash_prefix=IDENTITY.hash_prefix, hash_suffix=IDENTITY.hash_suffix
    )
    builder.add_device(region=1, zone="a", node=f"127.0.0.1:{port}", device="d0", weight=1)
    builder.rebalance()
    ring_file = tmp_path / "ring.json"
    builder.ring().save(ring_file)
    settings = dataclasses.replace(UNLIMITED, interval=0.1)
    node = await start_node(
        node_config(tmp_path / "node", port=port, ring_file=ring_file, replicator=settings)
    )
    try:
        for _ in range(100):
            if metric(node, "nimbus_replicator_passes_total") >= 2:
                break
            await asyncio.sleep(0.02)
        assert metric(node, "nimbus_replicator_passes_total") >= 2
        assert metric(node, "nimbus_replicator_last_pass_completion_timestamp_seconds") > 0
    finally:
        await node.stop()
