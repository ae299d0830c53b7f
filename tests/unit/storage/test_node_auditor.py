"""The auditor quarantines blobs whose bytes no longer match their facts, and nothing else."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nimbus_storage.blobs.blocks import BLOCK_SIZE
from nimbus_storage.blobs.diskfile import DiskBlobStore, normalize_timestamp
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.node.auditor import AuditorSettings, run_pass
from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.node.pacing import Pacer

T1, T2 = normalize_timestamp(1700000001.0), normalize_timestamp(1700000002.0)
RING = StoreIdentity("p", "s", 4)
UNLIMITED = AuditorSettings(files_per_second=0, bytes_per_second=0)


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.fixture
def store(tmp_path: Path) -> DiskBlobStore:
    return DiskBlobStore(tmp_path, device="d0", fsync=False, identity=RING)


def data_file(store: DiskBlobStore, name: str, timestamp: str = T1) -> Path:
    return store.hash_dir_for(name) / f"{timestamp}.data"


async def test_good_blobs_and_tombstones_are_left_alone(store: DiskBlobStore) -> None:
    for i in range(10):
        await store.put(f"good-{i}", chunks_of(b"x" * i), {}, T1)
    await store.delete("deleted", T1)
    metrics = NodeMetrics()
    report = await run_pass([store], UNLIMITED, metrics=metrics)
    assert report.files == 10
    assert report.bytes == sum(range(10))
    assert report.quarantined == []
    assert report.errors == 0
    assert len(list(store.iter_hashes())) == 11
    assert metrics.registry.get_sample_value("nimbus_auditor_files_checked_total") == 10
    assert metrics.registry.get_sample_value("nimbus_auditor_bytes_checked_total") == 45


async def test_flipped_byte_is_quarantined(store: DiskBlobStore) -> None:
    await store.put("good", chunks_of(b"fine data"), {}, T1)
    await store.put("bad", chunks_of(b"original"), {}, T1)
    path = data_file(store, "bad")
    raw = bytearray(path.read_bytes())
    raw[3] ^= 0x01
    path.write_bytes(bytes(raw))
    metrics = NodeMetrics()
    report = await run_pass([store], UNLIMITED, metrics=metrics)
    hash_name = store.hash_dir_for("bad").name
    assert report.quarantined == [store.device_dir / "quarantined" / "objects" / hash_name]
    assert sorted(os.listdir(report.quarantined[0])) == [f"{T1}.data", f"{T1}.meta"]
    assert await store.open("bad") is None
    reader = await store.open("good")
    assert reader is not None
    reader.close()
    assert metrics.registry.get_sample_value("nimbus_auditor_quarantined_total") == 1
    # A second pass finds nothing more to do.
    assert (await run_pass([store], UNLIMITED)).quarantined == []


async def test_truncated_data_is_quarantined(store: DiskBlobStore) -> None:
    await store.put("short", chunks_of(b"0123456789"), {}, T1)
    os.truncate(data_file(store, "short"), 4)
    report = await run_pass([store], UNLIMITED)
    assert len(report.quarantined) == 1
    assert not store.hash_dir_for("short").exists()


async def test_data_without_sidecar_is_quarantined(store: DiskBlobStore) -> None:
    await store.put("k", chunks_of(b"data"), {}, T1)
    (store.hash_dir_for("k") / f"{T1}.meta").unlink()
    report = await run_pass([store], UNLIMITED)
    assert len(report.quarantined) == 1


async def test_quarantine_changes_the_suffix_hash(store: DiskBlobStore) -> None:
    await store.put("k", chunks_of(b"data"), {}, T1)
    partition = RING.partition(RING.name_hash("k"))
    before = store.suffix_hashes(partition)
    os.truncate(data_file(store, "k"), 1)
    await run_pass([store], UNLIMITED)
    assert store.suffix_hashes(partition) != before


async def test_all_devices_are_walked(tmp_path: Path) -> None:
    stores = [DiskBlobStore(tmp_path, device=d, fsync=False, identity=RING) for d in ("a", "b")]
    for store in stores:
        await store.put("k", chunks_of(b"data"), {}, T1)
        os.truncate(data_file(store, "k"), 1)
    report = await run_pass(stores, UNLIMITED)
    assert sorted(p.parts[-4] for p in report.quarantined) == ["a", "b"]


async def test_pass_is_paced_by_files_and_bytes(store: DiskBlobStore) -> None:
    for i in range(4):
        await store.put(f"k{i}", chunks_of(b"x" * 1000), {}, T1)
    clock = FakeClock()
    slow_files = AuditorSettings(files_per_second=2, bytes_per_second=0)
    assert await paced_pass(store, slow_files, clock) == pytest.approx(
        2.0, abs=0.01
    )  # 4 files at 2/s
    clock = FakeClock()
    slow_bytes = AuditorSettings(files_per_second=0, bytes_per_second=1000)
    assert await paced_pass(store, slow_bytes, clock) == pytest.approx(4.0, abs=0.01)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


async def paced_pass(store: DiskBlobStore, settings: AuditorSettings, clock: FakeClock) -> float:
    report = await run_pass([store], settings, clock=clock, sleep=clock.sleep)
    assert report.files == 4
    assert report.seconds == pytest.approx(clock.slept)
    return clock.slept


async def test_pacer_sleeps_only_when_ahead() -> None:
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        await pacer.spend(1)
    assert clock.slept == pytest.approx(1.0)
    clock.now += 100  # idle: at most one second of burst is banked
    for _ in range(20):
        await pacer.spend(1)
    assert clock.slept == pytest.approx(2.0)
    await Pacer(0, clock=clock, sleep=clock.sleep).spend(1e9)
    assert clock.slept == pytest.approx(2.0)


async def test_auditor_uses_the_block_check(
    store: DiskBlobStore, caplog: pytest.LogCaptureFixture
) -> None:
    await store.put("big", chunks_of(b"a" * BLOCK_SIZE, b"b" * 10), {}, T1)
    path = data_file(store, "big")
    with path.open("r+b") as data:
        data.seek(BLOCK_SIZE + 3)
        data.write(b"c")
    report = await run_pass([store], UNLIMITED)
    assert len(report.quarantined) == 1
    assert "block 1 crc32c" in caplog.text
