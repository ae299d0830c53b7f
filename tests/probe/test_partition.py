"""A node cut off by a network partition, on a real 3-node, 3-replica cluster.

Node 2 sits behind a fault proxy (tests/support/faultproxy.py) and the gateway runs with short
node timeouts. While writers and a reader keep going, node 2 is blackholed (connections
accepted, never answered), then refuses connections, then heals. Every acknowledged write must
read back intact, no step of a request may wait on node 2 longer than the node timeouts, and
once healed the replicators must bring node 2 up to date.

Nothing here counts on wall-clock luck: each phase lasts for a number of operations, not for
seconds; the latency bound is the node timeouts of each step of a request plus what a request
costs on this machine right now (the slowest one while nothing was cut off); and the
convergence wait is bounded by the replication passes the nodes are configured to run
(tests/support/waiting.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.probe.cluster_checks import placement_problems, replicas_on
from tests.support.faultproxy import Mode
from tests.support.load import Load, cluster_client, lost_writes
from tests.support.storage_cluster import StorageCluster
from tests.support.waiting import budget, poll

pytestmark = pytest.mark.probe
CONNECT_TIMEOUT = 0.5
NODE_TIMEOUT = 1.5
PHASES: tuple[Mode, ...] = ("pass", "blackhole", "refuse")
OPERATIONS_PER_PHASE = 24  # several rounds of every worker: each meets node 2 in that state
WRITERS = 4
PACE = 0.1  # seconds between one worker's operations
MAX_WRITES = 600
MACHINE_FLOOR = 0.5  # seconds: the least a request's own work is allowed, however fast it was
STEPS = 5
"""Steps of one request that reach the nodes one after another, each of which may wait once on
node 2 before it goes on without it: a PUT's credential and bucket (from the replicated catalog,
when not cached), its blob, and its index row (read, then merged); a GET's credential, bucket,
index row and blob. A step that waited on node 2 twice, or a request that hung, breaks the
bound."""


@pytest.fixture
def cluster(tmp_path: Path) -> StorageCluster:
    return StorageCluster(
        tmp_path / "cluster",
        nodes=3,
        replicas=3,
        part_power=6,
        replicate_interval=0.5,
        proxied=(2,),
        node_connect_timeout=CONNECT_TIMEOUT,
        node_timeout=NODE_TIMEOUT,
    )


def test_partitioned_node_loses_nothing_hangs_nothing_and_converges(
    cluster: StorageCluster,
) -> None:
    cluster.start()
    try:
        s3 = cluster_client(cluster)
        s3.create_bucket(Bucket="probe")
        load = Load(
            [s3], "probe", writers=WRITERS, readers=1, max_writes=MAX_WRITES, pace=PACE, seed=7
        )
        with load:
            for mode in PHASES:
                cluster.partition(2, mode)
                load.mark(mode)
                load.wait_for_operations(OPERATIONS_PER_PHASE, phase=mode)
            missed = len(load.writes.acknowledged) - replicas_on(cluster, 2)
            cluster.partition(2, "pass")
            load.mark("healed")
            load.wait_for_operations(OPERATIONS_PER_PHASE, phase="healed")
        tally = load.writes
        lost = lost_writes(s3, "probe", tally)
        expected = len(tally.acknowledged)
        converging = poll(  # nodes 0 and 1 push node 2 what it missed
            lambda: (placement_problems(cluster)[1], [replicas_on(cluster, i) for i in range(3)]),
            lambda seen: seen == ([], [expected] * 3),
            within=budget(cluster.replication_seconds(max(missed, 1))),
        )
        misplaced, per_node = converging.value
        # A partitioned node costs each step of a request at most its connect timeout and its
        # silence, on top of the request's own work, which a busy machine slows: the slowest
        # request while node 2 answered, with the slack of waiting.budget.
        healthy = max(load.worst.get("pass", 0.0), load.worst.get("healed", 0.0))
        bound = STEPS * (CONNECT_TIMEOUT + NODE_TIMEOUT) + budget(healthy, floor=MACHINE_FLOOR)
        print(
            f"\npartition: {load.report(len(lost))}; latency bound {bound:.2f} s (slowest"
            f" request {load.slowest / NODE_TIMEOUT:.1f} node timeouts);"
            f" node 2 missed {missed} replicas while cut off; replicas per node {per_node}"
            f" {converging.seconds:.1f} s after the load stopped"
        )
        assert lost == []
        assert tally.failed == 0, "2 of 3 replicas stay reachable: every write has its quorum"
        assert (load.reads.failed, load.reads.wrong) == (0, [])
        assert load.slowest < bound
        assert missed > 0, "the partition must have kept writes from node 2"
        assert (misplaced, per_node) == ([], [expected] * 3)
    finally:
        cluster.stop()
