"""Fault tests on a real 3-node cluster whose gateway erasure-codes blobs 2+1, with the nodes'
reconstructors on. One node loses its whole object store (stopped, its ``objects`` dir deleted,
started empty), and the others rebuild every fragment archive it held. One node's archives all
get a flipped byte: reads stay intact, the auditor quarantines every bad archive, and the
reconstructors rebuild them. Afterwards every object reads back with another node stopped, so
from the rebuilt archives. Every wait is bounded by the passes the nodes are configured to run
(tests/support/waiting.py), and ends as soon as the archives are back."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from nimbus_storage.cluster.ec_layout import EC_META, ECFacts
from nimbus_storage.ring import Ring

from tests.probe.cluster_checks import data_files
from tests.support.load import Load, cluster_client, lost_writes
from tests.support.storage_cluster import StorageCluster
from tests.support.waiting import budget, poll

pytestmark = pytest.mark.probe
WRITES = 60
MIB = 1024 * 1024
WIPED = 1
AUDIT_INTERVAL = 1.0  # seconds between the auditor's passes, in the ``audited`` cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[StorageCluster]:
    running = StorageCluster(
        tmp_path / "cluster", nodes=3, replicas=3, part_power=6, ec="2+1", replicate_interval=1.0
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


Archives = dict[str, dict[str, set[int]]]  # blob name -> node address -> fragment indexes


def archives_on_disk(cluster: StorageCluster) -> tuple[Archives, dict[str, str]]:
    """Every fragment archive on every node's device, and each blob's newest timestamp."""
    found: Archives = {}
    newest: dict[str, str] = {}
    for member in cluster.members:
        for data_file in data_files(member.data / "d0" / "objects"):
            timestamp = data_file.name.removesuffix(".data")
            try:
                sidecar = json.loads(data_file.with_name(f"{timestamp}.meta").read_bytes())
            except (FileNotFoundError, ValueError):
                continue  # superseded or removed while we looked
            facts = ECFacts.from_json(sidecar["meta"][EC_META])
            name = sidecar["name"]
            if timestamp < newest.get(name, ""):
                continue
            if timestamp > newest.get(name, ""):
                newest[name] = timestamp
                for where in found.get(name, {}).values():
                    where.clear()
            found.setdefault(name, {}).setdefault(member.address, set()).add(facts.index)
    return found, newest


def incomplete(cluster: StorageCluster, ring: Ring, names: set[str]) -> list[str]:
    """The blobs of ``names`` whose primaries do not each hold their own fragment archive."""
    found, _ = archives_on_disk(cluster)
    missing = []
    for name in sorted(names):
        primaries = ring.primaries(ring.partition(name))
        held = found.get(name, {})
        if any(i not in held.get(d.node, set()) for i, d in enumerate(primaries)):
            missing.append(name)
    return missing


def rebuilt_total(cluster: StorageCluster) -> float:
    total = 0.0
    for member in cluster.members:
        url = f"http://{member.address}/_nimbus/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("nimbus_reconstructor_fragments_rebuilt_total "):
                    total += float(line.split()[1])
    return total


def test_a_wiped_node_gets_every_fragment_archive_back(cluster: StorageCluster) -> None:
    s3 = cluster_client(cluster)
    s3.create_bucket(Bucket="probe")
    large = os.urandom(3 * MIB + 17)  # four segments, the last one short
    s3.put_object(Bucket="probe", Key="large", Body=large)
    tally = Load([s3], "probe", max_writes=WRITES, prefix="before-wipe").run().writes
    ring = Ring.load(cluster.ring_path)
    found, _ = archives_on_disk(cluster)
    names = set(found)
    wiped = cluster.members[WIPED]
    held = sum(len(found[name].get(wiped.address, ())) for name in names)
    assert len(names) == len(tally.acknowledged) + 1
    assert incomplete(cluster, ring, names) == []

    cluster.stop_node(WIPED)
    shutil.rmtree(wiped.data / "d0" / "objects")
    cluster.start_node(WIPED)
    rebuilding = poll(  # the other nodes' reconstructors rebuild what the wiped node held
        lambda: incomplete(cluster, ring, names),
        lambda missing: not missing,
        within=budget(cluster.replication_seconds(held)),
    )
    missing, seconds = rebuilding.value, rebuilding.seconds
    rebuilt = rebuilt_total(cluster)

    cluster.stop_node((WIPED + 1) % cluster.nodes)  # reads now need the rebuilt archives
    lost = lost_writes(s3, "probe", tally)
    read_back = s3.get_object(Bucket="probe", Key="large")["Body"].read()
    print(
        f"\nEC 2+1, one node's objects wiped: {tally.report(len(lost))}, {held} archives"
        f" wiped, {held - len(missing)} back on their primary in {seconds:.1f} s"
        f" ({rebuilt:.0f} rebuilt by the reconstructors), {len(missing)} still missing"
    )
    assert missing == []
    assert rebuilt >= held
    assert lost == []
    assert len(tally.acknowledged) == WRITES
    assert hashlib.sha256(read_back).digest() == hashlib.sha256(large).digest()


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[StorageCluster]:
    running = StorageCluster(
        tmp_path / "cluster",
        nodes=3,
        replicas=3,
        part_power=6,
        ec="2+1",
        replicate_interval=1.0,
        node_args=(
            "--audit-interval",
            str(AUDIT_INTERVAL),
            "--audit-files-per-second",
            "0",
            "--audit-bytes-per-second",
            "0",
        ),
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def quarantined(member_data: Path) -> int:
    found = member_data / "d0" / "quarantined" / "objects"
    return len(list(found.iterdir())) if found.is_dir() else 0


def test_corrupt_archives_are_quarantined_and_rebuilt(audited: StorageCluster) -> None:
    s3 = cluster_client(audited)
    s3.create_bucket(Bucket="probe")
    large = os.urandom(2 * MIB + 5)  # three segments
    s3.put_object(Bucket="probe", Key="large", Body=large)
    tally = Load([s3], "probe", max_writes=WRITES // 2, prefix="before-rot").run().writes
    ring = Ring.load(audited.ring_path)
    names = set(archives_on_disk(audited)[0])
    victim = audited.members[WIPED]
    corrupted = 0
    for data_file in data_files(victim.data / "d0" / "objects"):
        raw = bytearray(data_file.read_bytes())
        raw[len(raw) // 2] ^= 0x5A
        data_file.write_bytes(bytes(raw))
        corrupted += 1

    # Readers go on while one audit pass quarantines the bad archives and the reconstructors
    # rebuild them.
    readers = Load([s3], "probe", writers=0, readers=2, known=[tally], pace=0.05)
    with readers:
        repair = poll(
            lambda: (quarantined(victim.data), incomplete(audited, ring, names)),
            lambda seen: seen[0] >= corrupted and not seen[1],
            within=budget(AUDIT_INTERVAL + audited.replication_seconds(corrupted)),
        )
        readers.wait_for_operations(len(tally.acknowledged))  # at least a round of them
    moved, missing = repair.value
    seconds = repair.seconds
    reads = readers.reads
    rebuilt = rebuilt_total(audited)

    audited.stop_node((WIPED + 1) % audited.nodes)  # reads now need the victim's archives
    lost = lost_writes(s3, "probe", tally)
    read_back = s3.get_object(Bucket="probe", Key="large")["Body"].read()
    print(
        f"\nEC 2+1, a byte flipped in each of one node's {corrupted} archives: {reads.report()}"
        f" meanwhile; {moved} quarantined, {rebuilt:.0f} rebuilt, all back in"
        f" {seconds:.1f} s, {len(missing)} still missing; then with another node down:"
        f" {tally.report(len(lost))}"
    )
    assert (reads.wrong, reads.failed) == ([], 0)
    assert reads.intact > 0, "the reads must have gone on during the repair"
    assert moved == corrupted
    assert missing == []
    assert rebuilt >= corrupted
    assert lost == []
    assert hashlib.sha256(read_back).digest() == hashlib.sha256(large).digest()
