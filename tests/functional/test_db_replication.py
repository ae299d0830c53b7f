"""Database replication between real storage nodes on 127.0.0.1 ports, placed by a real ring.

Four nodes with one device each, a ring of 3 replicas over 16 partitions: every database has
three primaries and a handoff. Rows are written straight into one node's replica (the
``Databases`` its request handlers use), then that node's database replicator runs one pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.meta.api import ObjectVersion
from nimbus_storage.meta.catalog import CatalogDB
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.node.config import NodeConfig
from nimbus_storage.node.databases import Databases
from nimbus_storage.node.db_api import DATABASES
from nimbus_storage.node.db_replicator import DBReplicator, DBReplicatorSettings
from nimbus_storage.node.server import RunningNode, start_node
from nimbus_storage.protocol.client import NodeClient, Placement
from nimbus_storage.protocol.db_ops import DbOp
from nimbus_storage.ring import Ring, RingBuilder

pytestmark = pytest.mark.timeout(30)

IDENTITY = StoreIdentity("db-replication-prefix", "db-replication-suffix", 4)
TOKEN = "db-replication-token"
NAME = "bucket:b"
SETTINGS = DBReplicatorSettings(concurrency=2)


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


def metric(node: RunningNode, name: str) -> float:
    return node.context.metrics.registry.get_sample_value(name) or 0.0


def databases_of(node: RunningNode) -> Databases:
    return node.runner.app[DATABASES]


def version(key: str, version_id: str, size: int = 10) -> ObjectVersion:
    return ObjectVersion(key, version_id, 1_700_000_000.0, f"etag-{key}", size, f"blob/{key}")


@dataclass
class Cluster:
    nodes: list[RunningNode]
    ring: Ring
    client: NodeClient
    replicators: list[DBReplicator] = field(default_factory=list)

    def node_at(self, address: str) -> RunningNode:
        return next(n for n in self.nodes if n.ring_node == address)

    @property
    def partition(self) -> int:
        return self.ring.partition(NAME)

    def primaries(self, name: str = NAME) -> list[RunningNode]:
        return [self.node_at(d.node) for d in self.ring.primaries(self.ring.partition(name))]

    def handoff(self, name: str = NAME) -> RunningNode:
        return self.node_at(next(self.ring.handoffs(self.ring.partition(name))).node)

    def replicator(
        self, node: RunningNode, settings: DBReplicatorSettings = SETTINGS
    ) -> DBReplicator:
        replicator = node.make_db_replicator(lambda: self.ring, settings)
        self.replicators.append(replicator)
        return replicator

    def index(self, node: RunningNode, *, create: bool = False) -> BucketIndex | None:
        db = databases_of(node).get("d0", self.partition, NAME, create=create)
        assert db is None or isinstance(db, BucketIndex)
        return db

    def must_index(self, node: RunningNode) -> BucketIndex:
        db = self.index(node, create=True)
        assert db is not None
        return db

    async def replica_id(self, node: RunningNode, name: str = NAME) -> object:
        where = Placement(node.ring_node, "d0", self.ring.partition(name))
        return await self.client.db_call(where, name, DbOp.REPLICA_ID, {})


def state(index: BucketIndex) -> tuple[object, ...]:
    """What a gateway sees of a bucket index: listings and usage."""
    return (
        index.list_objects(),
        index.list_versions(),
        index.usage(),
        index.is_empty(),
        sorted(
            (row for table in index.rows_since(0, 10_000)[0].values() for row in table),
            key=repr,
        ),
    )


def write_rows(index: BucketIndex, keys: list[str], versioning: str = "Enabled") -> None:
    for i, key in enumerate(keys):
        index.put_version(version(key, f"v{i}"), versioning)


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


async def test_rows_of_one_primary_reach_the_other_two(cluster: Cluster) -> None:
    first, second, third = cluster.primaries()
    index = cluster.must_index(first)
    write_rows(index, ["a.txt", "b.txt", "dir/c.txt"])
    index.put_version(version("a.txt", "v9", size=25), "Enabled")
    assert index.delete_version("b.txt", "v1") is not None  # a deletion row travels too
    assert cluster.index(second) is None
    assert cluster.index(third) is None

    report = await cluster.replicator(first).run_once()

    assert (report.databases, report.rows_pushed, report.peers_synced) == (1, 8, 2)
    assert (report.failures, report.handoffs_removed) == (0, 0)
    copies = [cluster.index(node) for node in (second, third)]
    assert all(copy is not None for copy in copies)
    for copy in copies:
        assert copy is not None
        assert state(copy) == state(index)
        assert copy.usage() == (10 + 10 + 25, 3)
        assert [v.key for v in copy.list_objects().entries] == ["a.txt", "dir/c.txt"]
        assert copy.replica_id() != index.replica_id()
    assert metric(first, "nimbus_db_replicator_rows_pushed_total") == 8
    assert metric(second, "nimbus_db_rows_merged_total") == 4
    assert metric(first, "nimbus_db_replicator_passes_total") == 1
    assert metric(first, "nimbus_db_replicator_last_pass_completion_timestamp_seconds") > 0


async def test_a_catalog_replicates_like_an_index(cluster: Cluster) -> None:
    first, second, third = cluster.primaries("catalog")
    partition = cluster.ring.partition("catalog")
    catalog = databases_of(first).get("d0", partition, "catalog", create=True)
    assert isinstance(catalog, CatalogDB)
    catalog.create_bucket("photos", "alice")
    catalog.create_bucket("docs", "bob")
    catalog.drop_bucket("docs")

    report = await cluster.replicator(first).run_once()

    assert report.peers_synced == 2
    assert report.failures == 0
    for node in (second, third):
        copy = databases_of(node).get("d0", partition, "catalog", create=False)
        assert isinstance(copy, CatalogDB)
        assert [b.name for b in copy.list_buckets()] == ["photos"]
        assert sorted(copy.all_bucket_rows(), key=repr) == sorted(
            catalog.all_bucket_rows(), key=repr
        )


async def test_a_second_pass_pushes_only_new_rows(cluster: Cluster) -> None:
    first, second, third = cluster.primaries()
    index = cluster.must_index(first)
    write_rows(index, ["one", "two", "three"])
    replicator = cluster.replicator(first, dataclasses.replace(SETTINGS, batch_rows=2))
    assert (await replicator.run_once()).rows_pushed == 6

    idle = await replicator.run_once()
    assert (idle.rows_pushed, idle.peers_synced, idle.failures) == (0, 0, 0)

    index.put_version(version("four", "v4"), "Enabled")
    assert index.set_tags("one", "v0", {"colour": "blue"})  # a newer state of an old row
    merged_before = metric(second, "nimbus_db_rows_merged_total")

    again = await replicator.run_once()

    assert (again.rows_pushed, again.peers_synced) == (4, 2)  # 2 rows to each of 2 peers
    assert metric(second, "nimbus_db_rows_merged_total") - merged_before == 2
    for node in (second, third):
        copy = cluster.index(node)
        assert copy is not None
        assert state(copy) == state(index)
        assert copy.get_tags("one", "v0") == {"colour": "blue"}


async def test_a_handoff_replica_moves_to_its_primaries_and_leaves(cluster: Cluster) -> None:
    handoff = cluster.handoff()
    primaries = cluster.primaries()
    assert handoff not in primaries
    index = cluster.must_index(handoff)
    write_rows(index, ["while/down/1", "while/down/2"])
    expected = state(index)
    path = index.path
    assert path.exists()

    report = await cluster.replicator(handoff).run_once()

    assert (report.rows_pushed, report.peers_synced, report.handoffs_removed) == (6, 3, 1)
    assert report.failures == 0
    assert not path.exists()
    assert cluster.index(handoff) is None
    for node in primaries:
        copy = cluster.index(node)
        assert copy is not None
        assert state(copy) == expected
    assert metric(handoff, "nimbus_db_replicator_handoffs_reverted_total") == 1
    assert (await cluster.replicator(handoff).run_once()).databases == 0


async def test_a_handoff_keeps_its_replica_while_a_primary_is_down(cluster: Cluster) -> None:
    handoff = cluster.handoff()
    down, *up = cluster.primaries()
    index = cluster.must_index(handoff)
    write_rows(index, ["precious"])
    config, port = down.context.config, down.port
    cluster.nodes.remove(down)
    await down.stop()

    report = await cluster.replicator(handoff).run_once()

    assert (report.failures, report.handoffs_removed, report.peers_synced) == (1, 0, 2)
    assert index.path.exists()
    for node in up:
        copy = cluster.index(node)
        assert copy is not None
        assert copy.get("precious") is not None

    back = await start_node(dataclasses.replace(config, port=port))
    cluster.nodes.append(back)
    retried = await cluster.replicator(handoff).run_once()
    assert (retried.rows_pushed, retried.handoffs_removed, retried.failures) == (1, 1, 0)
    copy = cluster.index(back)
    assert copy is not None
    assert copy.get("precious") is not None
    assert not index.path.exists()


async def test_a_peer_that_lost_its_replica_gets_everything_again(cluster: Cluster) -> None:
    first, _second, lost = cluster.primaries()
    index = cluster.must_index(first)
    write_rows(index, ["k1", "k2", "k3"])
    replicator = cluster.replicator(first)
    await replicator.run_once()
    old_id = await cluster.replica_id(lost)
    copy = cluster.index(lost)
    assert copy is not None
    path = copy.path
    config, port = lost.context.config, lost.port
    cluster.nodes.remove(lost)
    await lost.stop()
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    back = await start_node(dataclasses.replace(config, port=port))
    cluster.nodes.append(back)
    assert cluster.index(back) is None

    report = await replicator.run_once()

    assert (report.rows_pushed, report.peers_synced, report.failures) == (3, 1, 0)
    restored = cluster.index(back)
    assert restored is not None
    assert state(restored) == state(index)
    assert await cluster.replica_id(back) != old_id


async def test_a_down_peer_is_a_failure_and_the_others_still_sync(cluster: Cluster) -> None:
    first, second, down = cluster.primaries()
    index = cluster.must_index(first)
    write_rows(index, ["x", "y"])
    assert index.delete_version("y", "v1") is not None
    cluster.nodes.remove(down)
    await down.stop()
    settings = dataclasses.replace(SETTINGS, reclaim_age=0.0)

    report = await cluster.replicator(first, settings).run_once()

    assert (report.failures, report.peers_synced, report.rows_pushed) == (1, 1, 2)
    assert report.rows_reclaimed == 0  # a peer is behind: the deletion row stays
    copy = cluster.index(second)
    assert copy is not None
    assert state(copy) == state(index)
    assert len(index.key_rows("y")) == 1
    assert metric(first, "nimbus_db_replicator_failures_total") == 1
    assert metric(first, "nimbus_db_replicator_passes_total") == 1


async def test_deletion_rows_are_reclaimed_once_every_peer_has_them(cluster: Cluster) -> None:
    first, second, third = cluster.primaries()
    index = cluster.must_index(first)
    write_rows(index, ["kept", "gone"])
    assert index.delete_version("gone", "v1") is not None
    keep = await cluster.replicator(first).run_once()  # 7 days: nothing is old enough
    assert (keep.rows_pushed, keep.rows_reclaimed) == (4, 0)

    report = await cluster.replicator(
        first, dataclasses.replace(SETTINGS, reclaim_age=0.0)
    ).run_once()

    assert (report.rows_pushed, report.rows_reclaimed) == (0, 1)
    assert index.key_rows("gone") == []
    assert len(index.key_rows("kept")) == 1
    for node in (second, third):  # each primary reclaims its own
        copy = cluster.index(node)
        assert copy is not None
        assert len(copy.key_rows("gone")) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_a_node_with_a_ring_file_replicates_databases_in_the_background(
    tmp_path: Path,
) -> None:
    ports = [free_port(), free_port()]
    builder = RingBuilder(
        IDENTITY.part_power, 2, hash_prefix=IDENTITY.hash_prefix, hash_suffix=IDENTITY.hash_suffix
    )
    for zone, port in zip("ab", ports, strict=True):
        builder.add_device(region=1, zone=zone, node=f"127.0.0.1:{port}", device="d0", weight=1)
    builder.rebalance()
    ring_file = tmp_path / "ring.json"
    builder.ring().save(ring_file)
    settings = DBReplicatorSettings(interval=0.1)
    nodes = [
        await start_node(
            node_config(
                tmp_path / f"node-{i}",
                port=port,
                ring_file=ring_file,
                replicator=None,  # databases only
                db_replicator=settings,
            )
        )
        for i, port in enumerate(ports)
    ]
    try:
        partition = builder.ring().partition(NAME)
        index = databases_of(nodes[0]).get("d0", partition, NAME, create=True)
        assert isinstance(index, BucketIndex)
        write_rows(index, ["background"])
        # The copy lands during node 0's pass; the pass is counted when it ends.
        for _ in range(200):
            copy = databases_of(nodes[1]).get("d0", partition, NAME, create=False)
            passes = metric(nodes[0], "nimbus_db_replicator_passes_total")
            if copy is not None and copy.last_change() > 0 and passes >= 1:
                break
            await asyncio.sleep(0.02)
        assert isinstance(copy, BucketIndex)
        assert copy.get("background") is not None
        assert passes >= 1
    finally:
        for node in nodes:
            await node.stop()
