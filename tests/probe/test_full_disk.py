"""A full disk on a real cluster: writes go on while a quorum can store them, and the gateway
answers a clear 507 InsufficientStorage when it cannot.

The full nodes run inside ``unshare -rm`` with a tiny tmpfs as their device (as in
tests/functional/test_node_full_disk.py), so the disk really fills up. A node that hits ENOSPC
has already taken part of the body, so the gateway cannot replay that replica on a handoff: it
counts as failed, and the quorum decides. Each test prints attempted / acknowledged / failed /
lost, and fails if anything acknowledged cannot be read back intact.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from mypy_boto3_s3 import S3Client

from e2e.storage_cluster import StorageCluster, in_tmpfs
from tests.probe.cluster_checks import Tally, client, lost_writes

pytestmark = pytest.mark.probe
KIB, MIB = 1024, 1024 * 1024
WRITES = 48


def require_namespaces(where: Path) -> None:
    """Fail (not skip): these tests are the only real full-disk coverage of the cluster."""
    if shutil.which("unshare") is None:
        pytest.fail("`unshare` (util-linux) is needed to give a node a tiny tmpfs device")
    command = in_tmpfs(where / "probe-device", "64k", ["true"])
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        pytest.fail(
            "`unshare -rm` + `mount -t tmpfs` is not permitted here (unprivileged user"
            f" namespaces disabled?): {result.stderr.decode(errors='replace').strip()}"
        )


def device_usage(cluster: StorageCluster, index: int) -> tuple[int, int]:
    """(used, capacity) bytes of node ``index``'s device, seen through its own mounts."""
    member = cluster.members[index]
    assert member.pid is not None
    stat = os.statvfs(f"/proc/{member.pid}/root{member.data / 'd0'}")
    capacity = stat.f_blocks * stat.f_frsize
    return capacity - stat.f_bfree * stat.f_frsize, capacity


def started(tmp_path: Path, nodes: int, device_sizes: dict[int, str]) -> Iterator[StorageCluster]:
    require_namespaces(tmp_path)
    running = StorageCluster(
        tmp_path / "cluster", nodes=nodes, replicas=3, part_power=6, device_sizes=device_sizes
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def one_full(tmp_path: Path) -> Iterator[StorageCluster]:
    yield from started(tmp_path, 4, {1: "2m"})


@pytest.fixture
def two_full(tmp_path: Path) -> Iterator[StorageCluster]:
    yield from started(tmp_path, 3, {1: "1m", 2: "1m"})


def body_for(key: str, size: int) -> bytes:
    block = hashlib.sha256(key.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def write_sizes(s3: S3Client, bucket: str, tally: Tally, count: int) -> None:
    def one(index: int) -> None:
        key = f"fill/{index:04d}"
        body = body_for(key, 64 * KIB + (index * 37 * KIB) % (448 * KIB))  # 64..512 KiB
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

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, range(count)))


def test_one_full_node_does_not_stop_writes(one_full: StorageCluster) -> None:
    s3 = client(one_full)
    s3.create_bucket(Bucket="probe")
    tally = Tally()
    write_sizes(s3, "probe", tally, WRITES)
    lost = lost_writes(s3, "probe", tally)
    used, capacity = device_usage(one_full, 1)
    print(
        f"\none full node of 4: {tally.report(len(lost))};"
        f" full device {used // KIB} of {capacity // KIB} KiB used"
    )
    assert lost == []
    assert tally.failed == 0  # 2 of 3 replicas stored is a quorum
    assert len(tally.acknowledged) == WRITES
    assert used <= capacity
    assert used > capacity // 2, "the small device never filled up: the test proved nothing"


def test_no_quorum_of_free_disks_is_507_insufficient_storage(two_full: StorageCluster) -> None:
    s3 = client(two_full)
    s3.create_bucket(Bucket="probe")
    tally = Tally(attempted=1)
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket="probe", Key="too/big", Body=body_for("too/big", 4 * MIB))
    tally.failed += 1
    error = raised.value.response
    assert error["Error"]["Code"] == "InsufficientStorage"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 507
    # Nothing half-written is visible, and the full devices kept no partial file.
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket="probe", Key="too/big")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert s3.list_objects_v2(Bucket="probe").get("KeyCount") == 0
    for index in (1, 2):
        used, _capacity = device_usage(two_full, index)
        assert used < 256 * KIB, f"node {index} kept {used} bytes of a failed write"

    small = body_for("fits", 64 * KIB)
    tally.attempted += 1
    s3.put_object(Bucket="probe", Key="fits", Body=small)
    tally.acknowledged["fits"] = hashlib.sha256(small).hexdigest()
    lost = lost_writes(s3, "probe", tally)
    print(f"\ntwo full nodes of 3: {tally.report(len(lost))}")
    assert lost == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="probe").get("Contents", [])] == ["fits"]
