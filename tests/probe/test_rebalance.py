"""Probe: a node is added and the ring rebalanced while clients read and write.

A 3-node, 3-replica cluster takes an initial set of objects; then writer and reader threads run
(bounded in operations) while a 4th node joins and the ring is rebalanced and republished. The
clients go on until the replicators have moved every replica off the devices that are no longer
its primaries. Nothing acknowledged may be lost, no read may return wrong bytes (a read that
fails while partitions move is counted and reported), and once the clients stop every replica
sits on a primary of its partition under the new ring, three per object.

Nothing here counts on wall-clock luck: the clients' phases last for a number of operations or
until a condition holds, and each wait is bounded by what the cluster is configured to take
(its replication interval and rate, its node timeouts; tests/support/waiting.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nimbus_storage.ring import Ring

from tests.probe.cluster_checks import database_problems, placement_problems, replicas_on
from tests.support.load import Load, cluster_client, lost_writes
from tests.support.storage_cluster import StorageCluster
from tests.support.waiting import budget, poll

pytestmark = pytest.mark.probe
INITIAL = 120
WRITERS, READERS = 2, 2
PACE = 0.05  # seconds between one client's operations
MAX_WRITES, MAX_READS = 1500, 5000  # bounds; the phases end on conditions well before
OPERATIONS = 40  # before the ring changes


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StorageCluster]:
    running = StorageCluster(
        tmp_path / "cluster", nodes=3, replicas=3, part_power=6, replicate_interval=0.5
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _moved(old: Ring, new: Ring) -> tuple[int, int]:
    """Partitions whose primaries changed, and the most replicas of one partition that moved."""
    changes = [
        len({d.id for d in old.primaries(p)} - {d.id for d in new.primaries(p)})
        for p in range(new.partition_count)
    ]
    return sum(1 for c in changes if c), max(changes)


def test_node_added_and_ring_rebalanced_under_reads_and_writes(cluster: StorageCluster) -> None:
    s3 = cluster_client(cluster)
    s3.create_bucket(Bucket="probe")
    before = Load([s3], "probe", max_writes=INITIAL, prefix="before").run().writes
    assert before.failed == 0
    old_ring = Ring.load(cluster.ring_path)

    load = Load(
        [cluster_client(cluster) for _ in range(WRITERS + READERS)],
        "probe",
        writers=WRITERS,
        readers=READERS,
        max_writes=MAX_WRITES,
        max_reads=MAX_READS,
        pace=PACE,
        prefix="during",
        known=[before],
    )
    during = load.writes
    with load:
        load.wait_for_operations(OPERATIONS)
        added = cluster.add_node("d")  # publishes the ring, then starts the node
        load.mark("ring changed")
        # The replicators move what the new ring gives the new node while the clients go on
        # (the gateway sends writes by the old ring until it rereads the file).
        moving = poll(
            lambda: placement_problems(cluster)[1],
            lambda misplaced: not misplaced,
            within=budget(
                cluster.ring_reload_seconds
                + cluster.replication_seconds(len(before.acknowledged) + len(during.acknowledged))
            ),
        )
        assert moving.met, f"{len(moving.value)} replicas still misplaced under load"

    new_ring = Ring.load(cluster.ring_path)
    assert new_ring.generation > old_ring.generation
    assert len(new_ring.devices) == 4
    moved, most_moved = _moved(old_ring, new_ring)
    written = len(before.acknowledged) + len(during.acknowledged)
    converging = poll(
        lambda: (placement_problems(cluster), database_problems(cluster)),
        lambda seen: seen[0] == (3 * written, []) and not seen[1][1],
        within=budget(cluster.replication_seconds(written)),
    )
    (found, misplaced), (databases, misplaced_databases) = converging.value
    on_new_node = replicas_on(cluster, added)
    lost = lost_writes(s3, "probe", before) + lost_writes(s3, "probe", during)
    print(
        f"\nnode added under load: {moved} of {new_ring.partition_count} partitions moved"
        f" (at most {most_moved} replica each); before {before.report(0)};"
        f" during {load.report(len(lost))}; replicas moved under load in"
        f" {moving.seconds:.1f} s; {found} replicas on disk for {written} objects,"
        f" {len(misplaced)} misplaced, {on_new_node} on the new node"
        f" {converging.seconds:.1f} s after the clients stopped; database replicas"
        f" {databases}, {len(misplaced_databases)} misplaced"
    )
    assert lost == []
    assert load.reads.wrong == []
    assert (misplaced, found) == ([], 3 * written)
    assert misplaced_databases == []
    assert databases == {"catalog": 3, "bucket:probe": 3}
    assert on_new_node > 0
    assert load.done("ring changed") > 0, "the clients must still be running when the ring changes"
