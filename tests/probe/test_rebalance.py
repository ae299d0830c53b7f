"""Probe: a node is added and the ring rebalanced while clients read and write.

A 3-node, 3-replica cluster takes an initial set of objects; then writer and reader threads run
for a bounded time (and a bounded number of operations) while a 4th node joins and the ring is
rebalanced and republished. Nothing acknowledged may be lost, no read may return wrong bytes (a
read that fails while partitions move is counted and reported), and within a bounded wait every
replica sits on a primary of its partition under the new ring, three per object.
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
    database_problems,
    lost_writes,
    placement_problems,
    timed_reader,
    timed_writer,
    write_stream,
)

pytestmark = pytest.mark.probe
INITIAL = 120
PHASE_SECONDS = 8.0
ADD_AFTER = 1.5  # seconds into the phase
WRITERS, WRITES_PER_WRITER = 2, 150
READERS, READS_PER_READER = 2, 400
CONVERGE_SECONDS = 30.0


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
    s3 = client(cluster)
    s3.create_bucket(Bucket="probe")
    before = Tally()
    write_stream(s3, "probe", before, "before", INITIAL)
    assert before.failed == 0
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
    time.sleep(ADD_AFTER)
    rebalanced_at = time.monotonic()  # add_node publishes the ring, then starts the node
    added = cluster.add_node("d")
    phase.ring_changed.set()
    for thread in threads:
        thread.join()

    new_ring = Ring.load(cluster.ring_path)
    assert new_ring.generation > old_ring.generation
    assert len(new_ring.devices) == 4
    moved, most_moved = _moved(old_ring, new_ring)
    written = len(before.acknowledged) + len(during.acknowledged)
    found, misplaced = placement_problems(cluster)
    databases, misplaced_databases = database_problems(cluster)
    while time.monotonic() < rebalanced_at + CONVERGE_SECONDS:
        if not misplaced and found == 3 * written and not misplaced_databases:
            break
        time.sleep(0.5)
        found, misplaced = placement_problems(cluster)
        databases, misplaced_databases = database_problems(cluster)
    converged = time.monotonic() - rebalanced_at
    on_new_node = len(list((cluster.members[added].data / "d0" / "objects").glob("*/*/*/*.data")))
    lost = lost_writes(s3, "probe", before) + lost_writes(s3, "probe", during)
    print(
        f"\nnode added under load: {moved} of {new_ring.partition_count} partitions moved"
        f" (at most {most_moved} replica each); before {before.report(0)};"
        f" during {during.report(len(lost))}; reads attempted {reads.attempted},"
        f" intact {reads.intact}, wrong {len(reads.wrong)}, transient failures"
        f" {reads.transient}; {phase.after_change} operations after the ring changed;"
        f" {found} replicas on disk for {written} objects, {len(misplaced)} misplaced,"
        f" {on_new_node} on the new node; converged {converged:.1f} s after the ring changed;"
        f" database replicas {databases}, {len(misplaced_databases)} misplaced"
    )
    assert lost == []
    assert reads.wrong == []
    assert (misplaced, found) == ([], 3 * written)
    assert misplaced_databases == []
    assert databases == {"catalog": 3, "bucket:probe": 3}
    assert on_new_node > 0
    assert phase.after_change > 0, "the clients must still be running when the ring changes"
