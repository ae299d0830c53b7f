"""What the probe tests share: a client of the cluster's gateway, streams of writes with a tally
of what was acknowledged, read-back of everything acknowledged, and replica placement on disk.
"""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

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
