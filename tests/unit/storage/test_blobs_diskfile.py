"""Blob stores: Swift's on-disk layout, atomic visibility, last writer wins, ranged reads.

The behavioural tests run against both the disk store and the memory store, which must agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from nimbus_storage.blobs.api import BlobStore
from nimbus_storage.blobs.diskfile import DiskBlobStore, normalize_timestamp
from nimbus_storage.blobs.errors import BodySizeMismatch
from nimbus_storage.blobs.layout import IDENTITY_FILE, obsolete_files, parse_filename
from nimbus_storage.blobs.memory import MemoryBlobStore

T1, T2, T3 = (normalize_timestamp(t) for t in (1700000001.0, 1700000002.0, 1700000003.0))


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def failing_after(parts: Iterable[bytes], error: Exception) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise error


async def read_all(store: BlobStore, name: str) -> bytes | None:
    reader = await store.open(name)
    if reader is None:
        return None
    try:
        return b"".join([c async for c in reader.iter_range(0, reader.info.size - 1)])
    finally:
        reader.close()


@pytest.fixture(params=["disk", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "disk":
        return DiskBlobStore(tmp_path, part_power=8, fsync=False)
    return MemoryBlobStore()


@pytest.fixture
def disk(tmp_path: Path) -> DiskBlobStore:
    return DiskBlobStore(tmp_path, part_power=8)


def files_in(path: Path) -> list[str]:
    return sorted(os.listdir(path)) if path.exists() else []


# --- behaviour shared by both stores ------------------------------------------------------------


async def test_put_then_open_returns_data_and_facts(store: BlobStore) -> None:
    info = await store.put("b/k", chunks_of(b"hello ", b"world"), {"content-type": "x/y"}, T1)
    assert info.size == 11
    assert info.md5_hex == hashlib.md5(b"hello world").hexdigest()
    reader = await store.open("b/k")
    assert reader is not None
    assert reader.info.meta == {"content-type": "x/y"}
    assert reader.info.timestamp == T1
    assert reader.info.md5_hex == info.md5_hex
    reader.close()
    assert await read_all(store, "b/k") == b"hello world"


async def test_missing_name_opens_as_none(store: BlobStore) -> None:
    assert await store.open("nothing-here") is None


async def test_failing_iterator_stores_nothing(store: BlobStore) -> None:
    with pytest.raises(ConnectionResetError):
        await store.put("k", failing_after([b"partial"], ConnectionResetError()), {}, T1)
    assert await store.open("k") is None


async def test_failing_iterator_keeps_the_previous_version(store: BlobStore) -> None:
    await store.put("k", chunks_of(b"old"), {}, T1)
    with pytest.raises(ValueError, match="bad checksum"):
        await store.put("k", failing_after([b"new"], ValueError("bad checksum")), {}, T2)
    assert await read_all(store, "k") == b"old"


@pytest.mark.parametrize("body", [b"short", b"much too long"])
async def test_wrong_size_is_rejected(store: BlobStore, body: bytes) -> None:
    with pytest.raises(BodySizeMismatch):
        await store.put("k", chunks_of(body), {}, T1, expected_size=8)
    assert await store.open("k") is None


async def test_expected_size_match_is_accepted(store: BlobStore) -> None:
    info = await store.put("k", chunks_of(b"1234", b"5678"), {}, T1, expected_size=8)
    assert info.size == 8


async def test_newer_write_wins(store: BlobStore) -> None:
    await store.put("k", chunks_of(b"first"), {}, T1)
    await store.put("k", chunks_of(b"second"), {}, T2)
    assert await read_all(store, "k") == b"second"


async def test_older_write_arriving_late_stays_invisible(store: BlobStore) -> None:
    await store.put("k", chunks_of(b"newer"), {}, T2)
    info = await store.put("k", chunks_of(b"older"), {}, T1)
    assert info.timestamp == T1  # accepted...
    assert await read_all(store, "k") == b"newer"  # ...but never visible


async def test_tie_keeps_the_first_write(store: BlobStore) -> None:
    await store.put("k", chunks_of(b"first"), {}, T1)
    await store.put("k", chunks_of(b"second"), {}, T1)
    assert await read_all(store, "k") == b"first"


async def test_tombstone_hides_older_data(store: BlobStore) -> None:
    await store.put("k", chunks_of(b"data"), {}, T1)
    await store.delete("k", T2)
    assert await store.open("k") is None


async def test_older_tombstone_does_not_hide_newer_data(store: BlobStore) -> None:
    await store.put("k", chunks_of(b"data"), {}, T2)
    await store.delete("k", T1)
    assert await read_all(store, "k") == b"data"


async def test_data_older_than_tombstone_stays_deleted(store: BlobStore) -> None:
    await store.delete("k", T2)
    await store.put("k", chunks_of(b"late"), {}, T1)
    assert await store.open("k") is None
    await store.put("k", chunks_of(b"revived"), {}, T3)
    assert await read_all(store, "k") == b"revived"


async def test_tombstone_beats_data_of_the_same_timestamp(store: BlobStore) -> None:
    await store.put("k", chunks_of(b"data"), {}, T1)
    await store.delete("k", T1)
    assert await store.open("k") is None


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 9, b"0123456789"),
        (3, 5, b"345"),
        (7, 100, b"789"),  # end clamps to the last byte
        (9, 9, b"9"),
        (5, 4, b""),  # empty range
    ],
)
async def test_ranges(store: BlobStore, start: int, end: int, expected: bytes) -> None:
    await store.put("k", chunks_of(b"0123", b"456789"), {}, T1)
    reader = await store.open("k")
    assert reader is not None
    chunks = [c async for c in reader.iter_range(start, end, chunk_size=2)]
    reader.close()
    assert b"".join(chunks) == expected
    assert all(len(c) <= 2 for c in chunks)


async def test_empty_blob(store: BlobStore) -> None:
    info = await store.put("k", chunks_of(), {}, T1, expected_size=0)
    assert info.md5_hex == hashlib.md5(b"").hexdigest()
    assert await read_all(store, "k") == b""


async def test_reader_keeps_its_version_after_an_overwrite(store: BlobStore) -> None:
    await store.put("k", chunks_of(b"old bytes"), {}, T1)
    reader = await store.open("k")
    assert reader is not None
    await store.put("k", chunks_of(b"new bytes"), {}, T2)
    assert b"".join([c async for c in reader.iter_range(0, 8)]) == b"old bytes"
    reader.close()


async def test_closed_reader_refuses_to_read(store: BlobStore) -> None:
    await store.put("k", chunks_of(b"abc"), {}, T1)
    reader = await store.open("k")
    assert reader is not None
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        _ = [c async for c in reader.iter_range(0, 2)]


# --- the disk layout ----------------------------------------------------------------------------


def test_normalize_timestamp_is_fixed_width() -> None:
    assert normalize_timestamp(1.5) == "0000000001.50000"
    assert normalize_timestamp(1700000000.123456) == "1700000000.12346"


async def test_layout_follows_swift(disk: DiskBlobStore, tmp_path: Path) -> None:
    await disk.put("/bucket/key", chunks_of(b"x"), {"a": "b"}, T1)
    identity = json.loads((tmp_path / IDENTITY_FILE).read_text())
    salted = identity["hash_prefix"] + "/bucket/key" + identity["hash_suffix"]
    name_hash = hashlib.md5(salted.encode()).hexdigest()
    partition = int(name_hash[:8], 16) >> (32 - 8)
    hash_dir = tmp_path / "d0" / "objects" / str(partition) / name_hash[-3:] / name_hash
    assert disk.hash_dir_for("/bucket/key") == hash_dir
    assert files_in(hash_dir) == [f"{T1}.data", f"{T1}.meta"]
    assert (hash_dir / f"{T1}.data").read_bytes() == b"x"
    sidecar = json.loads((hash_dir / f"{T1}.meta").read_text())
    assert sidecar["name"] == "/bucket/key"
    assert sidecar["meta"] == {"a": "b"}
    assert 0 <= partition < 256
    assert list(disk.iter_hashes()) == [(partition, hash_dir)]


async def test_salt_is_kept_across_restarts(tmp_path: Path) -> None:
    first = DiskBlobStore(tmp_path, part_power=8, fsync=False)
    await first.put("k", chunks_of(b"kept"), {}, T1)
    again = DiskBlobStore(tmp_path, part_power=8, fsync=False)
    assert again.hash_dir_for("k") == first.hash_dir_for("k")
    assert await read_all(again, "k") == b"kept"


def test_salt_differs_between_stores(tmp_path: Path) -> None:
    one = DiskBlobStore(tmp_path / "one", fsync=False)
    two = DiskBlobStore(tmp_path / "two", fsync=False)
    assert one.identity.name_hash("k") != two.identity.name_hash("k")


def test_part_power_cannot_change(tmp_path: Path) -> None:
    DiskBlobStore(tmp_path, part_power=8, fsync=False)
    with pytest.raises(ValueError, match="part_power=8"):
        DiskBlobStore(tmp_path, part_power=10, fsync=False)


async def test_overwrite_reclaims_older_files(disk: DiskBlobStore) -> None:
    await disk.put("k", chunks_of(b"1"), {}, T1)
    await disk.put("k", chunks_of(b"2"), {}, T2)
    assert files_in(disk.hash_dir_for("k")) == [f"{T2}.data", f"{T2}.meta"]
    await disk.delete("k", T3)
    assert files_in(disk.hash_dir_for("k")) == [f"{T3}.ts"]


async def test_stale_write_leaves_no_file(disk: DiskBlobStore) -> None:
    await disk.put("k", chunks_of(b"new"), {}, T2)
    await disk.put("k", chunks_of(b"old"), {}, T1)
    await disk.delete("k", T1)
    assert files_in(disk.hash_dir_for("k")) == [f"{T2}.data", f"{T2}.meta"]
    assert files_in(disk.tmp_dir) == []


async def test_failed_write_leaves_no_data_and_no_temp_file(disk: DiskBlobStore) -> None:
    with pytest.raises(ConnectionResetError):
        await disk.put("k", failing_after([b"a" * 1000], ConnectionResetError()), {}, T1)
    assert files_in(disk.tmp_dir) == []
    assert files_in(disk.hash_dir_for("k")) == []
    assert list(disk.iter_hashes()) == []


async def test_tombstone_of_a_missing_name_is_written(disk: DiskBlobStore) -> None:
    await disk.delete("never-written", T1)
    assert files_in(disk.hash_dir_for("never-written")) == [f"{T1}.ts"]


async def test_meta_without_data_is_an_unfinished_write(disk: DiskBlobStore) -> None:
    await disk.put("k", chunks_of(b"committed"), {}, T1)
    # A crash between the sidecar rename and the data rename leaves this behind:
    (disk.hash_dir_for("k") / f"{T2}.meta").write_text("{}")
    assert await read_all(disk, "k") == b"committed"


def test_cleanup_order_and_orphan_sidecars() -> None:
    names = [f"{T1}.data", f"{T1}.meta", f"{T2}.meta", f"{T3}.ts", "junk.txt"]
    assert obsolete_files(names) == [f"{T1}.data", f"{T1}.meta", f"{T2}.meta"]
    # A sidecar newer than everything may belong to a write in progress: kept.
    assert obsolete_files([f"{T1}.data", f"{T1}.meta", f"{T2}.meta"]) == []
    assert parse_filename("junk.txt") is None


def test_cleanup_tmp_removes_only_old_files(disk: DiskBlobStore) -> None:
    old = disk.tmp_dir / "old.tmp"
    fresh = disk.tmp_dir / "fresh.tmp"
    old.write_bytes(b"")
    fresh.write_bytes(b"")
    os.utime(old, (1.0, 1.0))
    assert disk.cleanup_tmp(older_than=3600) == 1
    assert files_in(disk.tmp_dir) == ["fresh.tmp"]


async def test_large_blob_streams_in_chunks(disk: DiskBlobStore) -> None:
    body = os.urandom(3 * 1024 * 1024 + 5)
    parts = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    info = await disk.put("big", chunks_of(*parts), {}, T1, expected_size=len(body))
    assert info.md5_hex == hashlib.md5(body).hexdigest()
    reader = await disk.open("big")
    assert reader is not None
    sizes = [len(c) async for c in reader.iter_range(0, len(body) - 1)]
    reader.close()
    assert sizes == [1024 * 1024] * 3 + [5]


async def test_concurrent_writers_converge_on_the_newest(disk: DiskBlobStore) -> None:
    stamps = [normalize_timestamp(1700000000.0 + n) for n in range(12)]
    random.Random(3).shuffle(stamps)
    writes = [disk.put("k", chunks_of(ts.encode()), {}, ts) for ts in stamps[:8]]
    deletes = [disk.delete("k", ts) for ts in stamps[8:]]
    await asyncio.gather(*writes, *deletes)
    newest = max(stamps)
    expected = [f"{newest}.ts"] if newest in stamps[8:] else [f"{newest}.data", f"{newest}.meta"]
    assert files_in(disk.hash_dir_for("k")) == expected
    assert files_in(disk.tmp_dir) == []


async def test_cancelled_upload_leaves_no_temp_file(disk: DiskBlobStore) -> None:
    started = asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        yield b"first chunk"
        started.set()
        await asyncio.sleep(3600)
        yield b"never"

    task = asyncio.create_task(disk.put("k", stalled(), {}, T1))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files_in(disk.tmp_dir) == []
    assert await disk.open("k") is None
