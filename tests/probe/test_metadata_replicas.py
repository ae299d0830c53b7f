"""Fault tests of the replicated catalog and bucket indexes, with two gateways writing at once.

A node is killed while both gateways write: every acknowledged object must stay readable and
listed through both gateways, the index replicas written to a handoff meanwhile must move home
once the node is back, and every replica of the bucket's index must end up listing exactly what
was acknowledged. Each test is bounded, prints its counts and the convergence time; the node
dies a quarter into the writes (by writes done, not by time), and every wait is bounded by the
replication passes the cluster is configured to run (tests/support/waiting.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mypy_boto3_s3 import S3Client
from nimbus_storage.meta.db_names import bucket_db
from nimbus_storage.protocol.client import DatabaseMissing, NodeClient, NodeUnavailable, Placement
from nimbus_storage.protocol.db_ops import DbOp
from nimbus_storage.ring import Ring

from tests.support.load import Load, cluster_client, lost_writes
from tests.support.storage_cluster import StorageCluster
from tests.support.waiting import budget, poll

pytestmark = pytest.mark.probe
WRITES_PER_GATEWAY = 100


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StorageCluster]:
    running = StorageCluster(
        tmp_path / "cluster",
        nodes=4,
        replicas=3,
        part_power=4,
        gateways=2,
        replicate_interval=0.5,
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def listed_keys(s3: S3Client, bucket: str) -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.update(o["Key"] for o in page.get("Contents", []))
    return keys


async def replica_listings(cluster: StorageCluster, bucket: str) -> dict[str, set[str] | None]:
    """What each primary's replica of the bucket index lists (None: it has no replica)."""
    ring = Ring.load(cluster.ring_path)
    name = bucket_db(bucket)
    partition = ring.partition(name)
    client = NodeClient(cluster.token)
    found: dict[str, set[str] | None] = {}
    try:
        for device in ring.primaries(partition):
            where = Placement(device.node, device.device, partition)
            try:
                page = await client.db_call(where, name, DbOp.LIST_OBJECTS, {"max_keys": 100_000})
            except DatabaseMissing:
                found[device.node] = None
                continue
            except NodeUnavailable:
                found[device.node] = None
                continue
            assert isinstance(page, dict)
            found[device.node] = {entry[0] for entry in page["entries"]}  # key first
    finally:
        await client.close()
    return found


def handoff_replicas(cluster: StorageCluster, bucket: str) -> list[str]:
    """Replicas of the bucket's index on nodes that are not its primaries."""
    ring = Ring.load(cluster.ring_path)
    name = bucket_db(bucket)
    primaries = {d.node for d in ring.primaries(ring.partition(name))}
    return [
        f"{member.address}: {path.name}"
        for member in cluster.members
        if member.address not in primaries
        for path in (member.data / "d0" / "dbs").glob(f"*/{name}.sqlite")
    ]


def test_index_replicas_converge_after_a_node_dies_under_two_gateways(
    cluster: StorageCluster,
) -> None:
    clients = [cluster_client(cluster, 0), cluster_client(cluster, 1)]
    clients[0].create_bucket(Bucket="probe")
    ring = Ring.load(cluster.ring_path)
    primaries = ring.primaries(ring.partition(bucket_db("probe")))
    victim = next(i for i, m in enumerate(cluster.members) if m.address == primaries[0].node)
    loads = [
        Load([clients[g]], "probe", writers=4, max_writes=WRITES_PER_GATEWAY, prefix=f"gw{g}")
        for g in (0, 1)
    ]
    tallies = [load.writes for load in loads]
    started = time.monotonic()
    with loads[0], loads[1]:
        for load in loads:
            load.wait_for_operations(WRITES_PER_GATEWAY // 4)
        cluster.stop_node(victim, kill=True)
        for load in loads:
            load.mark("node killed")
        for load in loads:
            load.join()  # the rest of each stream
    acknowledged = set(tallies[0].acknowledged) | set(tallies[1].acknowledged)
    lost = [key for g in (0, 1) for key in lost_writes(clients[1 - g], "probe", tallies[g])]
    listed_while_down = [listed_keys(c, "probe") for c in clients]
    handed_off = handoff_replicas(cluster, "probe")

    cluster.start_node(victim)
    restarted = time.monotonic()
    # The handoff pushes its index replica home and the returned primary catches up: a
    # database replica is one item of a pass.
    converging = poll(
        lambda: (
            asyncio.run(replica_listings(cluster, "probe")),
            handoff_replicas(cluster, "probe"),
        ),
        lambda seen: all(keys == acknowledged for keys in seen[0].values()) and not seen[1],
        within=budget(cluster.replication_seconds(len(handed_off) + 1)),
    )
    converged_after = converging.seconds if converging.met else None
    replicas = asyncio.run(replica_listings(cluster, "probe"))
    listed_after = [listed_keys(c, "probe") for c in clients]
    attempted = sum(t.attempted for t in tallies)
    failed = sum(t.failed for t in tallies)
    print(
        f"\nindex replicas, node {cluster.members[victim].address} killed under two gateways:"
        f" attempted {attempted}, acknowledged {len(acknowledged)}, failed {failed},"
        f" lost {len(lost)} in {restarted - started:.1f} s ({loads[0].done('node killed')} and"
        f" {loads[1].done('node killed')} writes after the kill); listed while down"
        f" {[len(k) for k in listed_while_down]}; index replicas on handoffs while down"
        f" {len(handed_off)}; after the node returned, replicas list"
        f" {[len(k) if k is not None else None for k in replicas.values()]} keys,"
        f" converged in {_seconds(converged_after)}"
    )
    assert lost == []
    assert failed == 0
    assert all(load.done("node killed") > 0 for load in loads), "writes go on after the kill"
    assert all(keys == acknowledged for keys in listed_while_down)
    assert handed_off, "the dead primary's share of index writes must have gone to a handoff"
    assert converged_after is not None, f"replicas never converged: {replicas}"
    assert all(keys == acknowledged for keys in listed_after)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def test_buckets_made_with_a_catalog_replica_down_stay_listed_with_another_down(
    cluster: StorageCluster,
) -> None:
    clients = [cluster_client(cluster, 0), cluster_client(cluster, 1)]
    ring = Ring.load(cluster.ring_path)
    catalog_primaries = ring.primaries(ring.partition("catalog"))
    victim = next(
        i for i, m in enumerate(cluster.members) if m.address == catalog_primaries[1].node
    )
    cluster.stop_node(victim, kill=True)
    created = []
    for index in range(20):
        name = f"bucket-{index:02d}"
        clients[index % 2].create_bucket(Bucket=name)
        created.append(name)
    cluster.start_node(victim)
    cluster.stop_node(
        next(i for i, m in enumerate(cluster.members) if m.address == catalog_primaries[0].node)
    )
    # The returned replica catches up on its next passes (the catalog is one database).
    listed = poll(
        lambda: [sorted(b["Name"] for b in c.list_buckets()["Buckets"]) for c in clients],
        lambda seen: all(names == created for names in seen),
        within=budget(cluster.replication_seconds(1) + cluster.request_seconds),
    )
    seen = listed.value
    print(
        f"\ncatalog: {len(created)} buckets created through two gateways with a catalog replica"
        f" down; listed {[len(names) for names in seen]} with another replica down after"
    )
    assert all(names == created for names in seen)
