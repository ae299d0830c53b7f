"""Fault test on a real 3-node, 3-replica cluster: bytes flipped on one node's disk.

Every read must come back intact (the node checks each block before sending it and breaks the
stream on a bad one; the gateway continues on another replica), the corrupt copies must end in
quarantine, and the replicator must bring a good copy back to that node within a wait bounded
by its configured passes (tests/support/waiting.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from mypy_boto3_s3 import S3Client
from nimbus_storage.ring import Ring

from tests.support.load import cluster_client
from tests.support.storage_cluster import StorageCluster
from tests.support.waiting import budget, poll

pytestmark = pytest.mark.probe
SIZES = (4 * 1024, 3 * 1024 * 1024, 5 * 1024 * 1024 + 123)
READS_PER_OBJECT = 15
VICTIM = 0  # the node whose disk goes bad


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


def data_files(cluster: StorageCluster, index: int) -> dict[str, Path]:
    """``{hash dir name: .data path}`` on one node."""
    objects = cluster.members[index].data / "d0" / "objects"
    return {path.parent.name: path for path in objects.glob("*/*/*/*.data")}


def read_first(cluster: StorageCluster, data_file: Path) -> bool:
    """Whether the gateway asks the victim first for this blob (its first primary)."""
    partition = int(data_file.relative_to(data_file.parents[3]).parts[0])
    primaries = Ring.load(cluster.ring_path).primaries(partition)
    return primaries[0].node == cluster.members[VICTIM].address


def put_read_first_by_victim(
    cluster: StorageCluster, s3: S3Client, size: int
) -> tuple[str, bytes, Path]:
    """Put objects of ``size`` until one's blob is read first from the victim (bounded)."""
    for attempt in range(30):
        key = f"size-{size}/{attempt}"
        body = hashlib.sha256(key.encode()).digest() * (size // 32) + b"x" * (size % 32)
        before = set(data_files(cluster, VICTIM))
        s3.put_object(Bucket="probe", Key=key, Body=body)
        new = [p for h, p in data_files(cluster, VICTIM).items() if h not in before]
        if new and read_first(cluster, new[0]):
            return key, body, new[0]
        s3.delete_object(Bucket="probe", Key=key)
    raise AssertionError(f"no blob of {size} bytes landed first on the victim in 30 tries")


def flip_middle(path: Path) -> None:
    with path.open("r+b") as data:
        middle = path.stat().st_size // 2
        data.seek(middle)
        byte = data.read(1)
        data.seek(middle)
        data.write(bytes([byte[0] ^ 0x40]))


def healthy(path: Path) -> bool:
    """The .data is back and matches the md5 its sidecar records."""
    try:
        recorded = json.loads(path.with_suffix(".meta").read_bytes())["md5"]
        return bool(hashlib.md5(path.read_bytes()).hexdigest() == recorded)
    except (OSError, ValueError, KeyError):
        return False


def test_flipped_bytes_are_never_served_and_get_repaired(cluster: StorageCluster) -> None:
    s3 = cluster_client(cluster)
    s3.create_bucket(Bucket="probe")
    objects = [put_read_first_by_victim(cluster, s3, size) for size in SIZES]
    for _key, _body, path in objects:
        flip_middle(path)
        assert not healthy(path)
    quarantine = cluster.members[VICTIM].data / "d0" / "quarantined" / "objects"

    attempted = corrupt_served = 0
    for _round in range(READS_PER_OBJECT):
        for key, body, _path in objects:
            attempted += 1
            got = s3.get_object(Bucket="probe", Key=key)["Body"].read()
            if hashlib.sha256(got).digest() != hashlib.sha256(body).digest():
                corrupt_served += 1
    quarantined = sorted(p.name for p in quarantine.iterdir()) if quarantine.exists() else []

    repair = poll(  # the other nodes' replicators push a good copy back
        lambda: sum(healthy(p) for _k, _b, p in objects),
        lambda repaired: repaired == len(objects),
        within=budget(cluster.replication_seconds(len(objects))),
    )
    repaired = repair.value
    print(
        f"\ncorruption: attempted {attempted} reads, corrupt-served {corrupt_served},"
        f" quarantined {len(quarantined)}, repaired {repaired} of {len(objects)}"
        f" ({repair.seconds:.1f} s waited after the reads)"
    )
    assert corrupt_served == 0
    assert quarantined == sorted(path.parent.name for _k, _b, path in objects)
    assert repaired == len(objects)
    for key, body, _path in objects:  # and the repaired copies read back intact
        assert s3.get_object(Bucket="probe", Key=key)["Body"].read() == body
