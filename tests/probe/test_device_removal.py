"""Probe: a device is drained and removed while clients read and write.

A 4-node, 3-replica cluster takes an initial set of objects; then writer and reader threads run
for a bounded time (and a bounded number of operations) while node 0's device is set to weight 0
and the ring rebalanced and republished. Within a bounded wait the replicators move node 0's
partitions to their new primaries and node 0 holds no data; then node 0 is stopped and its
device removed from the ring. Nothing acknowledged may be lost with node 0 gone, no read may
return wrong bytes (a read that fails while partitions move is counted and reported), and every
replica sits on a primary of its partition under the final ring, three per object.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nimbus_storage.ring import Ring

from e2e.storage_cluster import StorageCluster
from tests.probe.cluster_checks import (
    Phase,
    Reads,
    Tally,
    client,
    data_files,
    lost_writes,
    placement_problems,
    timed_reader,
    timed_writer,
    write_stream,
)

pytestmark = pytest.mark.probe
INITIAL = 120
PHASE_SECONDS = 10.0
DRAIN_AFTER = 1.5  # seconds into the phase
WRITERS, WRITES_PER_WRITER = 2, 150
READERS, READS_PER_READER = 2, 400
DRAIN_SECONDS = 30.0
CONVERGE_SECONDS = 30.0
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


def _data_files(cluster: StorageCluster, index: int) -> int:
    return len(data_files(cluster.members[index].data / "d0" / "objects"))


def test_device_drained_and_removed_under_reads_and_writes(cluster: StorageCluster) -> None:
    s3 = client(cluster)
    s3.create_bucket(Bucket="probe")
    before = Tally()
    write_stream(s3, "probe", before, "before", INITIAL)
    assert before.failed == 0
    held_before = _data_files(cluster, DRAINED)
    old_ring = Ring.load(cluster.ring_path)

    during, reads = Tally(), Reads()
    phase = Phase(time.monotonic(), PHASE_SECONDS)
    threads = [
        threading.Thread(
            target=timed_writer,
            args=(client(cluster), during, f"during-{n}", phase),
            kwargs={"count": WRITES_PER_WRITER},
        )
        for n in range(WRITERS)
    ] + [
        threading.Thread(
            target=timed_reader,
            args=(client(cluster), [before, during], reads, n, phase),
            kwargs={"count": READS_PER_READER},
        )
        for n in range(READERS)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(DRAIN_AFTER)
        drain_started = time.monotonic()
        cluster.set_weight(DRAINED, 0)
        phase.ring_changed.set()
        drained_ring = Ring.load(cluster.ring_path)
        while _data_files(cluster, DRAINED) and time.monotonic() < drain_started + DRAIN_SECONDS:
            time.sleep(0.25)
        drain_seconds = time.monotonic() - drain_started
        left_on_drained = _data_files(cluster, DRAINED)
        assert left_on_drained == 0, f"node {DRAINED} still holds {left_on_drained} replicas"
        cluster.remove_node(DRAINED)
        removed_during_phase = time.monotonic() < phase.started + phase.seconds
    finally:
        for thread in threads:
            thread.join()

    final_ring = Ring.load(cluster.ring_path)
    assert drained_ring.generation > old_ring.generation
    assert final_ring.generation > drained_ring.generation
    assert cluster.members[DRAINED].address not in {d.node for d in final_ring.devices}
    assert len(final_ring.devices) == 3
    written = len(before.acknowledged) + len(during.acknowledged)
    removed_at = time.monotonic()
    found, misplaced = placement_problems(cluster)
    while time.monotonic() < removed_at + CONVERGE_SECONDS:
        if not misplaced and found == 3 * written:
            break
        time.sleep(0.5)
        found, misplaced = placement_problems(cluster)
    lost = lost_writes(s3, "probe", before) + lost_writes(s3, "probe", during)
    print(
        f"\ndevice drained and removed under load: node {DRAINED} held {held_before} replicas,"
        f" drained in {drain_seconds:.1f} s (removed"
        f" {'during' if removed_during_phase else 'after'} the client phase);"
        f" before {before.report(0)}; during {during.report(len(lost))};"
        f" reads attempted {reads.attempted}, intact {reads.intact}, wrong {len(reads.wrong)},"
        f" transient failures {reads.transient}; {phase.after_change} operations after the"
        f" drain began; {found} replicas on disk for {written} objects, {len(misplaced)}"
        f" misplaced"
    )
    assert lost == []
    assert reads.wrong == []
    assert (misplaced, found) == ([], 3 * written)
    assert held_before > 0
    assert phase.after_change > 0, "the clients must still be running when the ring changes"
