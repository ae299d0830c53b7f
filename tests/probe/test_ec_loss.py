"""Fault test on a real 3-node cluster whose gateway erasure-codes blobs 2+1: a node dies during
a stream of writes, and nothing acknowledged is lost (each object decodes from the 2 fragment
archives left). Writes after the kill are refused: 2 of 3 archives is below the EC write
quorum (k + 1), and 3 nodes leave no handoff. The node dies a quarter into the stream (by
writes done, not by time)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.load import Load, cluster_client, lost_writes
from tests.support.storage_cluster import StorageCluster

pytestmark = pytest.mark.probe
WRITES = 240
MIB = 1024 * 1024


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StorageCluster]:
    running = StorageCluster(tmp_path / "cluster", nodes=3, replicas=3, part_power=6, ec="2+1")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_node_killed_during_a_stream_of_ec_writes(cluster: StorageCluster) -> None:
    s3 = cluster_client(cluster)
    s3.create_bucket(Bucket="probe")
    large = os.urandom(3 * MIB + 17)  # several segments, and a short last one
    s3.put_object(Bucket="probe", Key="large", Body=large)
    load = Load([s3], "probe", writers=4, max_writes=WRITES, prefix="during-kill")
    tally = load.writes
    started = time.monotonic()
    with load:
        load.wait_for_operations(WRITES // 4)
        cluster.stop_node(1, kill=True)
        load.mark("node killed")
        load.join()  # the rest of the stream
    lost = lost_writes(s3, "probe", tally)
    read_back = s3.get_object(Bucket="probe", Key="large")["Body"].read()
    ranged = s3.get_object(Bucket="probe", Key="large", Range=f"bytes={MIB - 5}-{2 * MIB + 5}")
    print(
        f"\nEC 2+1, node killed mid-stream: {load.report(len(lost))}"
        f" in {time.monotonic() - started:.1f} s"
    )
    assert lost == []
    assert tally.acknowledged, "the writes before the kill must have been acknowledged"
    assert load.done("node killed") > 0, "the stream must go on after the kill"
    assert hashlib.sha256(read_back).digest() == hashlib.sha256(large).digest()
    assert ranged["Body"].read() == large[MIB - 5 : 2 * MIB + 6]
    cluster.start_node(1)
    assert lost_writes(s3, "probe", tally) == []
