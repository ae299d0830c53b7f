"""Probe: a device is drained and removed while clients read and write.

A 4-node, 3-replica cluster takes an initial set of objects; then writer and reader threads run
(bounded in operations) while node 0's device is set to weight 0 and the ring rebalanced and
republished. The clients go on until the replicators have moved node 0's partitions to their
new primaries and node 0 holds no data; then node 0 is stopped and its device removed from the
ring, and the clients go on a little longer. Nothing acknowledged may be lost with node 0 gone,
no read may return wrong bytes (a read that fails while partitions move is counted and
reported), and every replica sits on a primary of its partition under the final ring, three per
object.

Nothing here counts on wall-clock luck: the clients' phases last for a number of operations or
until a condition holds, and each wait is bounded by what the cluster is configured to take
(its replication interval and rate, its node timeouts; tests/support/waiting.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from nimbus_storage.ring import Ring

from tests.probe.cluster_checks import placement_problems, replicas_on
from tests.support.load import Load, cluster_client, lost_writes
from tests.support.storage_cluster import StorageCluster
from tests.support.waiting import budget, poll

pytestmark = pytest.mark.probe
INITIAL = 120
WRITERS, READERS = 2, 2
PACE = 0.05  # seconds between one client's operations
MAX_WRITES, MAX_READS = 1500, 5000  # bounds; the phases end on conditions well before
OPERATIONS = 40  # before the drain, and after the removal
DRAINED = 0  # the node whose device is drained and removed


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StorageCluster]:
    running = StorageCluster(
        tmp_path / "cluster", nodes=4, replicas=3, part_power=6, replicate_interval=0.5
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_device_drained_and_removed_under_reads_and_writes(cluster: StorageCluster) -> None:
    s3 = cluster_client(cluster)
    s3.create_bucket(Bucket="probe")
    before = Load([s3], "probe", max_writes=INITIAL, prefix="before").run().writes
    assert before.failed == 0
    held_before = replicas_on(cluster, DRAINED)
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
        cluster.set_weight(DRAINED, 0)
        load.mark("draining")
        drained_ring = Ring.load(cluster.ring_path)
        # Node 0's replicator pushes what it holds to the new primaries, the writes the gateway
        # sent it before it reread the ring included, while the clients go on.
        draining = poll(
            lambda: replicas_on(cluster, DRAINED),
            lambda held: held == 0,
            within=budget(
                cluster.ring_reload_seconds
                + cluster.replication_seconds(held_before + len(during.acknowledged))
            ),
        )
        assert draining.met, f"node {DRAINED} still holds {draining.value} replicas"
        cluster.remove_node(DRAINED)
        load.mark("removed")
        load.wait_for_operations(OPERATIONS, phase="removed")

    final_ring = Ring.load(cluster.ring_path)
    assert drained_ring.generation > old_ring.generation
    assert final_ring.generation > drained_ring.generation
    assert cluster.members[DRAINED].address not in {d.node for d in final_ring.devices}
    assert len(final_ring.devices) == 3
    written = len(before.acknowledged) + len(during.acknowledged)
    converging = poll(  # what reached node 0 after it was seen empty is copied again
        lambda: placement_problems(cluster),
        lambda seen: seen == (3 * written, []),
        within=budget(cluster.replication_seconds(written)),
    )
    found, misplaced = converging.value
    lost = lost_writes(s3, "probe", before) + lost_writes(s3, "probe", during)
    print(
        f"\ndevice drained and removed under load: node {DRAINED} held {held_before} replicas,"
        f" drained in {draining.seconds:.1f} s; before {before.report(0)}; during"
        f" {load.report(len(lost))}; {found} replicas on disk for {written} objects,"
        f" {len(misplaced)} misplaced {converging.seconds:.1f} s after the clients stopped"
    )
    assert lost == []
    assert load.reads.wrong == []
    assert (misplaced, found) == ([], 3 * written)
    assert held_before > 0
    assert load.done("draining") > 0, "the clients must still be running when the ring changes"
