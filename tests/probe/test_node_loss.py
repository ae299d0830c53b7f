"""Fault tests on a real 3-node, 3-replica cluster: nodes die, nothing acknowledged is lost.

Each test is bounded in operations and time, prints what it attempted, what the cluster
acknowledged and what was lost, and fails if anything acknowledged cannot be read back intact.
Nodes die at a point of the stream (after so many writes), not at a time, and every wait is
bounded by what the cluster is configured to take (tests/support/waiting.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.probe.cluster_checks import placement_problems
from tests.support.load import Load, cluster_client, lost_writes
from tests.support.storage_cluster import StorageCluster
from tests.support.waiting import budget, poll

pytestmark = pytest.mark.probe
WRITES = 240


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StorageCluster]:
    running = StorageCluster(tmp_path / "cluster", nodes=3, replicas=3, part_power=6)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_node_killed_during_a_stream_of_writes(cluster: StorageCluster) -> None:
    s3 = cluster_client(cluster)
    s3.create_bucket(Bucket="probe")
    load = Load([s3], "probe", writers=4, max_writes=WRITES, prefix="during-kill")
    started = time.monotonic()
    with load:
        load.wait_for_operations(WRITES // 4)
        cluster.stop_node(1, kill=True)
        load.mark("node killed")
        load.join()  # the rest of the stream
    lost = lost_writes(s3, "probe", load.writes)
    print(
        f"\nnode killed mid-stream: {load.report(len(lost))} in {time.monotonic() - started:.1f} s"
    )
    assert lost == []
    # With 2 of 3 replicas alive every write still reaches its quorum.
    assert load.writes.failed == 0
    assert len(load.writes.acknowledged) == WRITES
    assert load.done("node killed") > 0, "the stream must go on after the kill"


def test_reads_and_writes_continue_with_a_node_down_and_after_it_returns(
    cluster: StorageCluster,
) -> None:
    s3 = cluster_client(cluster)
    s3.create_bucket(Bucket="probe")
    before = Load([s3], "probe", max_writes=60, prefix="before").run().writes
    cluster.stop_node(2)
    during = Load([s3], "probe", max_writes=60, prefix="down").run().writes
    lost_while_down = lost_writes(s3, "probe", before) + lost_writes(s3, "probe", during)
    cluster.start_node(2)
    lost_after = lost_writes(s3, "probe", before) + lost_writes(s3, "probe", during)
    print(
        f"\nbefore: {before.report(0)}; node down: {during.report(len(lost_while_down))};"
        f" after return, lost {len(lost_after)}"
    )
    assert (lost_while_down, lost_after) == ([], [])
    assert during.failed == 0


def test_two_nodes_down_refuses_writes_cleanly(cluster: StorageCluster) -> None:
    s3 = cluster_client(cluster)
    s3.create_bucket(Bucket="probe")
    kept = Load([s3], "probe", max_writes=20, prefix="kept").run().writes
    cluster.stop_node(0)
    cluster.stop_node(1)
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket="probe", Key="no-quorum", Body=b"x" * 1000)
    assert refused.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    # What was acknowledged before is still readable from the one replica left.
    assert lost_writes(s3, "probe", kept) == []
    cluster.start_node(0)
    cluster.start_node(1)
    s3.put_object(Bucket="probe", Key="quorum-again", Body=b"y")
    assert s3.get_object(Bucket="probe", Key="quorum-again")["Body"].read() == b"y"


def test_handoffs_drain_home_when_the_node_returns(tmp_path: Path) -> None:
    cluster = StorageCluster(
        tmp_path / "cluster", nodes=4, replicas=3, part_power=4, replicate_interval=0.5
    )
    cluster.start()
    try:
        s3 = cluster_client(cluster)
        s3.create_bucket(Bucket="probe")
        cluster.stop_node(0)
        tally = Load([s3], "probe", max_writes=60, prefix="while-down").run().writes
        _found, misplaced = placement_problems(cluster)
        assert misplaced, "with a primary down some replicas must have gone to handoffs"
        cluster.start_node(0)
        expected = 3 * len(tally.acknowledged)
        drained = poll(  # the handoffs push their replicas home
            lambda: placement_problems(cluster),
            lambda seen: seen == (expected, []),
            within=budget(cluster.replication_seconds(len(misplaced))),
        )
        found, misplaced = drained.value
        lost = lost_writes(s3, "probe", tally)
        print(
            f"\nhandoffs drained: {tally.report(len(lost))}; {found} replicas on disk,"
            f" {len(misplaced)} still misplaced after {drained.seconds:.1f} s"
        )
        assert (misplaced, found, lost) == ([], expected, [])
    finally:
        cluster.stop()
