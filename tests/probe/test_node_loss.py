"""Fault tests on a real 3-node, 3-replica cluster: nodes die, nothing acknowledged is lost.

Each test is bounded in operations and time, prints what it attempted, what the cluster
acknowledged and what was lost, and fails if anything acknowledged cannot be read back intact.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from mypy_boto3_s3 import S3Client
from nimbus_storage.ring import Ring

from e2e.storage_cluster import StorageCluster

pytestmark = pytest.mark.probe
WRITES = 240
WRITERS = 4


@dataclass
class Tally:
    attempted: int = 0
    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> sha256
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, lost: int) -> str:
        return (
            f"attempted {self.attempted}, acknowledged {len(self.acknowledged)},"
            f" failed {self.failed}, lost {lost}"
        )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StorageCluster]:
    running = StorageCluster(tmp_path / "cluster", nodes=3, replicas=3, part_power=6)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def client(cluster: StorageCluster) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        aws_access_key_id=cluster.access_key,
        aws_secret_access_key=cluster.secret_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def write_stream(s3: S3Client, bucket: str, tally: Tally, prefix: str, count: int) -> None:
    def one(index: int) -> None:
        key = f"{prefix}/{index:05d}"
        body = hashlib.sha256(key.encode()).digest() * (64 + index % 200)
        with tally.lock:
            tally.attempted += 1
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
        except (ClientError, BotoCoreError):
            with tally.lock:
                tally.failed += 1
            return
        with tally.lock:
            tally.acknowledged[key] = hashlib.sha256(body).hexdigest()

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(one, range(count)))


def lost_writes(s3: S3Client, bucket: str, tally: Tally) -> list[str]:
    lost = []
    for key, digest in tally.acknowledged.items():
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError:
            lost.append(key)
            continue
        if hashlib.sha256(body).hexdigest() != digest:
            lost.append(key)
    return lost


def test_node_killed_during_a_stream_of_writes(cluster: StorageCluster) -> None:
    s3 = client(cluster)
    s3.create_bucket(Bucket="probe")
    tally = Tally()
    killer = threading.Timer(0.5, cluster.stop_node, args=(1,), kwargs={"kill": True})
    started = time.monotonic()
    killer.start()
    write_stream(s3, "probe", tally, "during-kill", WRITES)
    killer.join()
    lost = lost_writes(s3, "probe", tally)
    print(
        f"\nnode killed mid-stream: {tally.report(len(lost))} in {time.monotonic() - started:.1f} s"
    )
    assert lost == []
    # With 2 of 3 replicas alive every write still reaches its quorum.
    assert tally.failed == 0
    assert len(tally.acknowledged) == WRITES


def test_reads_and_writes_continue_with_a_node_down_and_after_it_returns(
    cluster: StorageCluster,
) -> None:
    s3 = client(cluster)
    s3.create_bucket(Bucket="probe")
    before = Tally()
    write_stream(s3, "probe", before, "before", 60)
    cluster.stop_node(2)
    during = Tally()
    write_stream(s3, "probe", during, "down", 60)
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
    s3 = client(cluster)
    s3.create_bucket(Bucket="probe")
    kept = Tally()
    write_stream(s3, "probe", kept, "kept", 20)
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


def placement_problems(cluster: StorageCluster) -> tuple[int, list[str]]:
    """Every .data file on disk, and those on a device that is not a primary of its partition."""
    ring = Ring.load(cluster.ring_path)
    found, misplaced = 0, []
    for member in cluster.members:
        objects = member.data / "d0" / "objects"
        for data_file in objects.glob("*/*/*/*.data"):
            found += 1
            partition = int(data_file.relative_to(objects).parts[0])
            if member.address not in {d.node for d in ring.primaries(partition)}:
                misplaced.append(f"{member.address}: {data_file.relative_to(objects)}")
    return found, misplaced


def test_handoffs_drain_home_when_the_node_returns(tmp_path: Path) -> None:
    cluster = StorageCluster(
        tmp_path / "cluster", nodes=4, replicas=3, part_power=4, replicate_interval=0.5
    )
    cluster.start()
    try:
        s3 = client(cluster)
        s3.create_bucket(Bucket="probe")
        cluster.stop_node(0)
        tally = Tally()
        write_stream(s3, "probe", tally, "while-down", 60)
        _found, misplaced = placement_problems(cluster)
        assert misplaced, "with a primary down some replicas must have gone to handoffs"
        cluster.start_node(0)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found, misplaced = placement_problems(cluster)
            if not misplaced and found == 3 * len(tally.acknowledged):
                break
            time.sleep(0.5)
        lost = lost_writes(s3, "probe", tally)
        print(
            f"\nhandoffs drained: {tally.report(len(lost))}; {found} replicas on disk,"
            f" {len(misplaced)} still misplaced"
        )
        assert (misplaced, found, lost) == ([], 3 * len(tally.acknowledged), [])
    finally:
        cluster.stop()
