"""Fault test on a real 3-node cluster whose gateway erasure-codes blobs 2+1: a node dies during
a stream of writes, and nothing acknowledged is lost (each object decodes from the 2 fragment
archives left). Writes after the kill are refused: 2 of 3 archives is below the EC write
quorum (k + 1), and 3 nodes leave no handoff."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.storage_cluster import StorageCluster
from tests.probe.cluster_checks import Tally, client, lost_writes, write_stream

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
    s3 = client(cluster)
    s3.create_bucket(Bucket="probe")
    large = os.urandom(3 * MIB + 17)  # several segments, and a short last one
    s3.put_object(Bucket="probe", Key="large", Body=large)
    tally = Tally()
    killer = threading.Timer(0.5, cluster.stop_node, args=(1,), kwargs={"kill": True})
    started = time.monotonic()
    killer.start()
    write_stream(s3, "probe", tally, "during-kill", WRITES)
    killer.join()
    lost = lost_writes(s3, "probe", tally)
    read_back = s3.get_object(Bucket="probe", Key="large")["Body"].read()
    ranged = s3.get_object(Bucket="probe", Key="large", Range=f"bytes={MIB - 5}-{2 * MIB + 5}")
    print(
        f"\nEC 2+1, node killed mid-stream: {tally.report(len(lost))}"
        f" in {time.monotonic() - started:.1f} s"
    )
    assert lost == []
    assert tally.acknowledged, "the writes before the kill must have been acknowledged"
    assert hashlib.sha256(read_back).digest() == hashlib.sha256(large).digest()
    assert ranged["Body"].read() == large[MIB - 5 : 2 * MIB + 6]
    cluster.start_node(1)
    assert lost_writes(s3, "probe", tally) == []
