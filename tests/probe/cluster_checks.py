"""What the probe tests share: a client of the cluster's gateway, streams of writes with a tally
of what was acknowledged, read-back of everything acknowledged, replica placement on disk, and
writer and reader threads spread over a bounded phase (while the ring changes under them).
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from mypy_boto3_s3 import S3Client
from nimbus_storage.ring import Ring

from e2e.storage_cluster import StorageCluster

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


def data_files(objects: Path) -> list[Path]:
    """The .data files under a device's ``objects`` directory (partition/suffix/hash/*.data).

    Unlike ``Path.glob`` this tolerates directories the replicator removes while it walks."""
    found = []
    for directory, _, names in os.walk(objects):
        relative = Path(directory).relative_to(objects)
        if len(relative.parts) == 3:
            found += [Path(directory) / n for n in names if n.endswith(".data")]
    return found


def placement_problems(cluster: StorageCluster) -> tuple[int, list[str]]:
    """Every .data file on disk, and those on a device that is not a primary of its partition."""
    ring = Ring.load(cluster.ring_path)
    found, misplaced = 0, []
    for member in cluster.members:
        objects = member.data / "d0" / "objects"
        for data_file in data_files(objects):
            found += 1
            partition = int(data_file.relative_to(objects).parts[0])
            if member.address not in {d.node for d in ring.primaries(partition)}:
                misplaced.append(f"{member.address}: {data_file.relative_to(objects)}")
    return found, misplaced


def database_problems(cluster: StorageCluster) -> tuple[dict[str, int], list[str]]:
    """Replicas per database (catalog, bucket indexes) on disk, and those not on a primary
    of their partition (handoffs, or left behind by a rebalance)."""
    ring = Ring.load(cluster.ring_path)
    counts: dict[str, int] = {}
    misplaced = []
    for member in cluster.members:
        for path in (member.data / "d0" / "dbs").glob("*/*.sqlite"):
            name = path.name.removesuffix(".sqlite")
            counts[name] = counts.get(name, 0) + 1
            partition = ring.partition(name)
            primaries = {d.node for d in ring.primaries(partition)}
            if int(path.parent.name) != partition or member.address not in primaries:
                misplaced.append(f"{member.address}: {path.parent.name}/{path.name}")
    return counts, misplaced


@dataclass
class Phase:
    """The bounded phase: clients spread their operations over it, and count those that started
    once the new ring was published."""

    started: float
    seconds: float
    ring_changed: threading.Event = field(default_factory=threading.Event)
    after_change: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def turn(self, index: int, count: int) -> bool:
        """Wait for operation ``index`` of ``count``; False once the phase is over."""
        due = self.started + self.seconds * index / count
        time.sleep(max(0.0, due - time.monotonic()))
        if time.monotonic() >= self.started + self.seconds:
            return False
        if self.ring_changed.is_set():
            with self.lock:
                self.after_change += 1
        return True


@dataclass
class Reads:
    attempted: int = 0
    intact: int = 0
    wrong: list[str] = field(default_factory=list)  # keys that read back other bytes
    transient: int = 0  # 404/503/connection errors while partitions moved
    lock: threading.Lock = field(default_factory=threading.Lock)


def timed_writer(s3: S3Client, tally: Tally, prefix: str, phase: Phase, *, count: int) -> None:
    """``count`` writes spread over the phase (fewer if it ends first)."""
    for index in range(count):
        if not phase.turn(index, count):
            return
        key = f"{prefix}/{index:05d}"
        body = hashlib.sha256(key.encode()).digest() * (64 + index % 200)
        with tally.lock:
            tally.attempted += 1
        try:
            s3.put_object(Bucket="probe", Key=key, Body=body)
        except (ClientError, BotoCoreError):
            with tally.lock:
                tally.failed += 1
            continue
        with tally.lock:
            tally.acknowledged[key] = hashlib.sha256(body).hexdigest()


def timed_reader(
    s3: S3Client, tallies: list[Tally], reads: Reads, seed: int, phase: Phase, *, count: int
) -> None:
    """``count`` reads of random acknowledged keys, spread over the phase; each is checked."""
    pick = random.Random(seed)
    for index in range(count):
        if not phase.turn(index, count):
            return
        known: list[tuple[str, str]] = []
        for tally in tallies:
            with tally.lock:
                known += tally.acknowledged.items()
        key, digest = pick.choice(known)
        with reads.lock:
            reads.attempted += 1
        try:
            body = s3.get_object(Bucket="probe", Key=key)["Body"].read()
        except (ClientError, BotoCoreError):
            with reads.lock:
                reads.transient += 1
            continue
        with reads.lock:
            if hashlib.sha256(body).hexdigest() == digest:
                reads.intact += 1
            else:
                reads.wrong.append(key)
