"""A full disk on a real cluster: writes go on with every replica, and the gateway answers a
clear 507 InsufficientStorage when no quorum of devices has room.

The full nodes run inside ``unshare -rm`` with a tiny tmpfs as their device (as in
tests/functional/test_node_full_disk.py), so the disk really fills up. The gateway's PUTs ask
``Expect: 100-continue``: a node whose device has no room for the body (plus its reserve)
answers 507 before a byte is sent, so the gateway hands that replica to a handoff node and the
write keeps all of its copies. Each test prints attempted / acknowledged / failed / lost (and
where the copies went), and fails if anything acknowledged cannot be read back intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from nimbus_storage.ring import Ring

from tests.probe.cluster_checks import data_files
from tests.support.load import Load, Writes, cluster_client, lost_writes
from tests.support.storage_cluster import StorageCluster, in_tmpfs

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


@dataclass
class Copies:
    """Where the blobs of one bucket are on disk, as the gateway wrote them."""

    holders: dict[str, set[int]] = field(default_factory=dict)  # key -> nodes with a .data
    handed_off: dict[int, int] = field(default_factory=dict)  # node -> copies not on a primary


def copies_on_disk(cluster: StorageCluster, bucket: str) -> Copies:
    """Every ``.data`` on every node's device (seen through the node's own mounts, so a tmpfs
    device too), by the S3 key its sidecar names (``/bucket/key\\0write-id``)."""
    ring = Ring.load(cluster.ring_path)
    copies = Copies()
    for index, member in enumerate(cluster.members):
        assert member.pid is not None
        objects = Path(f"/proc/{member.pid}/root{member.data / 'd0' / 'objects'}")
        for data_file in data_files(objects):
            sidecar = json.loads(data_file.with_suffix(".meta").read_text())
            key = str(sidecar["name"]).split("\0")[0].removeprefix(f"/{bucket}/")
            copies.holders.setdefault(key, set()).add(index)
            partition = int(data_file.relative_to(objects).parts[0])
            if member.address not in {d.node for d in ring.primaries(partition)}:
                copies.handed_off[index] = copies.handed_off.get(index, 0) + 1
    return copies


def refusals(cluster: StorageCluster, index: int) -> dict[str, int]:
    """Node ``index``'s PUTs answered 507 for want of space: before the body, or mid-body."""
    member = cluster.members[index]
    url = f"http://{member.listen or member.address}/_nimbus/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    counts = {"before_body": 0, "mid_body": 0}
    for line in text.splitlines():
        if line.startswith("nimbus_node_put_no_space_total{"):
            labels, _, value = line.partition("} ")
            when = labels.split('when="')[1].split('"')[0]
            counts[when] = counts.get(when, 0) + int(float(value))
    return counts


def started(
    tmp_path: Path, nodes: int, device_sizes: dict[int, str], *, replicate_interval: float = 30.0
) -> Iterator[StorageCluster]:
    require_namespaces(tmp_path)
    running = StorageCluster(
        tmp_path / "cluster",
        nodes=nodes,
        replicas=3,
        part_power=6,
        device_sizes=device_sizes,
        replicate_interval=replicate_interval,
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def one_full(tmp_path: Path) -> Iterator[StorageCluster]:
    # 4 nodes: each partition's 3 primaries and one handoff. No replication pass during the
    # test, so the copies counted on disk are where the gateway put them.
    yield from started(tmp_path, 4, {1: "2m"}, replicate_interval=3600)


@pytest.fixture
def two_full(tmp_path: Path) -> Iterator[StorageCluster]:
    yield from started(tmp_path, 3, {1: "1m", 2: "1m"})


def body_for(key: str, size: int) -> bytes:
    block = hashlib.sha256(key.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def fill_body(key: str, index: int) -> bytes:
    return body_for(key, 64 * KIB + (index * 37 * KIB) % (448 * KIB))  # 64..512 KiB


def test_one_full_node_does_not_stop_writes(one_full: StorageCluster) -> None:
    s3 = cluster_client(one_full)
    s3.create_bucket(Bucket="probe")
    load = Load([s3], "probe", writers=2, max_writes=WRITES, prefix="fill", body=fill_body)
    tally = load.run().writes
    lost = lost_writes(s3, "probe", tally)
    used, capacity = device_usage(one_full, 1)
    copies = copies_on_disk(one_full, "probe")
    short = sorted(k for k in tally.acknowledged if len(copies.holders.get(k, ())) < 3)
    on_full = sum(1 in nodes for nodes in copies.holders.values())
    refused = refusals(one_full, 1)
    print(
        f"\none full node of 4: {tally.report(len(lost))};"
        f" handed off {sum(copies.handed_off.values())} (by node {copies.handed_off}),"
        f" {on_full} stored on the full node, {len(short)} with fewer than 3 copies;"
        f" the full node refused {refused['before_body']} PUTs before the body and"
        f" {refused['mid_body']} mid-body; full device {used // KIB} of {capacity // KIB} KiB used"
    )
    assert lost == []
    assert tally.failed == 0
    assert len(tally.acknowledged) == WRITES
    # Every write kept its 3 replicas: the full node refused before the body (507 to
    # Expect: 100-continue), and its replica went to the handoff, never failed mid-body.
    assert short == [], f"acknowledged with fewer than 3 copies on disk: {short}"
    assert sum(copies.handed_off.values()) > 0, "nothing was handed off: the test proved nothing"
    assert set(copies.handed_off) <= {0, 2, 3}  # the full node took no one else's replica
    assert used <= capacity
    assert used > capacity // 2, "the small device never filled up: the test proved nothing"


def test_no_quorum_of_free_disks_is_507_insufficient_storage(two_full: StorageCluster) -> None:
    s3 = cluster_client(two_full)
    s3.create_bucket(Bucket="probe")
    tally = Writes(attempted=1)
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket="probe", Key="too/big", Body=body_for("too/big", 4 * MIB))
    tally.errors[raised.value.response["Error"]["Code"]] += 1
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
        # Both said so on the request head: not a byte of the 4 MiB went to them.
        assert refusals(two_full, index) == {"before_body": 1, "mid_body": 0}

    small = body_for("fits", 64 * KIB)
    tally.attempted += 1
    s3.put_object(Bucket="probe", Key="fits", Body=small)
    tally.acknowledged["fits"] = hashlib.sha256(small).hexdigest()
    lost = lost_writes(s3, "probe", tally)
    print(f"\ntwo full nodes of 3: {tally.report(len(lost))}")
    assert lost == []
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="probe").get("Contents", [])] == ["fits"]
