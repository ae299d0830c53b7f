"""A node cut off by a network partition, on a real 3-node, 3-replica cluster.

Node 2 sits behind a fault proxy (e2e/faultproxy.py) and the gateway runs with short node
timeouts. While writers and a reader keep going, node 2 is blackholed (connections accepted,
never answered), then refuses connections, then heals. Every acknowledged write must read back
intact, no request may take much longer than the node timeout, and once healed the replicators
must bring node 2 up to date.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from mypy_boto3_s3 import S3Client

from e2e.faultproxy import Mode
from e2e.storage_cluster import StorageCluster
from tests.probe.cluster_checks import Tally, client, lost_writes, placement_problems

pytestmark = pytest.mark.probe
CONNECT_TIMEOUT = 0.5
NODE_TIMEOUT = 1.5
PHASES: list[tuple[Mode, float]] = [("pass", 1.0), ("blackhole", 4.0), ("refuse", 3.0)]
AFTER_HEAL = 1.0  # seconds of traffic once healed
WRITERS = 4
PACE = 0.1  # seconds between one writer's writes
MAX_WRITES = 600
CONVERGE_WITHIN = 30.0
GATEWAY_ARGS = ("--node-connect-timeout", str(CONNECT_TIMEOUT), "--node-timeout", str(NODE_TIMEOUT))


@dataclass
class Latencies:
    worst: dict[str, float] = field(default_factory=dict)  # phase -> slowest request, seconds
    reads: int = 0
    read_failures: list[str] = field(default_factory=list)
    phase: str = "pass"
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        phase, started = self.phase, time.monotonic()
        try:
            yield
        finally:
            elapsed = time.monotonic() - started
            with self.lock:
                self.worst[phase] = max(self.worst.get(phase, 0.0), elapsed)

    @property
    def max(self) -> float:
        return max(self.worst.values(), default=0.0)


def _body(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest() * (64 + len(key) * 7 % 200)


def _writer(s3: S3Client, tally: Tally, times: Latencies, stop: threading.Event, n: int) -> None:
    sequence = 0
    while not stop.is_set():
        with tally.lock:
            if tally.attempted >= MAX_WRITES:
                return
            tally.attempted += 1
        key, sequence = f"w{n}/{sequence:05d}", sequence + 1
        body = _body(key)
        try:
            with times.timed():
                s3.put_object(Bucket="probe", Key=key, Body=body)
        except (ClientError, BotoCoreError):
            with tally.lock:
                tally.failed += 1
        else:
            with tally.lock:
                tally.acknowledged[key] = hashlib.sha256(body).hexdigest()
        stop.wait(PACE)


def _reader(s3: S3Client, tally: Tally, times: Latencies, stop: threading.Event) -> None:
    pick = random.Random(7)
    while not stop.is_set():
        with tally.lock:
            keys = list(tally.acknowledged.items())
        if not keys:
            stop.wait(PACE)
            continue
        key, digest = pick.choice(keys)
        try:
            with times.timed():
                got = s3.get_object(Bucket="probe", Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            times.read_failures.append(f"{key}: {exc}")
            continue
        times.reads += 1
        if hashlib.sha256(got).hexdigest() != digest:
            times.read_failures.append(f"{key}: wrong bytes")


def _data_files(cluster: StorageCluster, index: int) -> int:
    return sum(1 for _ in (cluster.members[index].data / "d0" / "objects").glob("*/*/*/*.data"))


@pytest.fixture
def cluster(tmp_path: Path) -> StorageCluster:
    return StorageCluster(
        tmp_path / "cluster",
        nodes=3,
        replicas=3,
        part_power=6,
        replicate_interval=0.5,
        proxied=(2,),
        gateway_args=GATEWAY_ARGS,
    )


def test_partitioned_node_loses_nothing_hangs_nothing_and_converges(
    cluster: StorageCluster,
) -> None:
    cluster.start()
    try:
        s3 = client(cluster)
        s3.create_bucket(Bucket="probe")
        tally, times, stop = Tally(), Latencies(), threading.Event()
        workers = [
            threading.Thread(target=_writer, args=(s3, tally, times, stop, n))
            for n in range(WRITERS)
        ]
        workers.append(threading.Thread(target=_reader, args=(s3, tally, times, stop)))
        for worker in workers:
            worker.start()
        try:
            for mode, seconds in PHASES:
                cluster.partition(2, mode)
                times.phase = mode
                time.sleep(seconds)
            missed = len(tally.acknowledged) - _data_files(cluster, 2)
            cluster.partition(2, "pass")
            times.phase = "healed"
            time.sleep(AFTER_HEAL)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=60)
        lost = lost_writes(s3, "probe", tally)
        deadline = time.monotonic() + CONVERGE_WITHIN
        healed_at = time.monotonic()
        while time.monotonic() < deadline:
            found, misplaced = placement_problems(cluster)
            if not misplaced and found == 3 * len(tally.acknowledged):
                break
            time.sleep(0.5)
        per_node = [_data_files(cluster, i) for i in range(len(cluster.members))]
        worst = ", ".join(f"{phase} {t:.2f} s" for phase, t in times.worst.items())
        print(
            f"\npartition: {tally.report(len(lost))}; reads {times.reads},"
            f" read failures {len(times.read_failures)}; max latency {times.max:.2f} s"
            f" ({worst}); node 2 missed {missed} replicas while cut off;"
            f" replicas per node {per_node} after {time.monotonic() - healed_at:.1f} s"
        )
        assert lost == []
        assert tally.failed == 0, "2 of 3 replicas stay reachable: every write has its quorum"
        assert times.read_failures == []
        assert times.max < 3 * NODE_TIMEOUT
        assert missed > 0, "the partition must have kept writes from node 2"
        assert (misplaced, per_node) == ([], [len(tally.acknowledged)] * 3)
    finally:
        cluster.stop()
