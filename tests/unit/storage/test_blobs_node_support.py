"""What the storage node needs from the disk store: a ring's identity, commit outcomes, suffix
hashes and listings, quarantine, and clean failure on a full disk."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nimbus_storage.blobs import suffixes
from nimbus_storage.blobs.diskfile import DiskBlobStore, SuffixEntry, normalize_timestamp
from nimbus_storage.blobs.layout import (
    IDENTITY_FILE,
    IdentityMismatch,
    OnDiskFile,
    StoreIdentity,
)

T1, T2, T3 = (normalize_timestamp(t) for t in (1700000001.0, 1700000002.0, 1700000003.0))
RING = StoreIdentity("ring-prefix", "ring-suffix", 6)


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def store_at(root: Path, device: str = "d0") -> DiskBlobStore:
    return DiskBlobStore(root, device=device, fsync=False, identity=RING)


def names_in(store: DiskBlobStore, count: int) -> list[tuple[int, str, str]]:
    """``count`` names with their partition and suffix."""
    found = []
    for i in range(count):
        name = f"bucket/key-{i}"
        name_hash = store.identity.name_hash(name)
        found.append((store.identity.partition(name_hash), name_hash[-3:], name))
    return found


# --- identity -------------------------------------------------------------------------------


def test_explicit_identity_is_recorded_and_used(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    assert store.identity == RING
    recorded = json.loads((tmp_path / IDENTITY_FILE).read_text())
    assert recorded == {"hash_prefix": "ring-prefix", "hash_suffix": "ring-suffix", "part_power": 6}
    assert store.hash_dir_for("k").parts[-3] == str(RING.partition(RING.name_hash("k")))


def test_two_devices_share_the_identity(tmp_path: Path) -> None:
    one, two = store_at(tmp_path, "d0"), store_at(tmp_path, "d1")
    assert one.objects_dir == tmp_path / "d0" / "objects"
    assert two.objects_dir == tmp_path / "d1" / "objects"
    assert one.hash_dir_for("k").relative_to(one.objects_dir) == two.hash_dir_for("k").relative_to(
        two.objects_dir
    )


@pytest.mark.parametrize(
    "other",
    [
        StoreIdentity("other", "ring-suffix", 6),
        StoreIdentity("ring-prefix", "other", 6),
        StoreIdentity("ring-prefix", "ring-suffix", 7),
    ],
)
def test_mismatching_identity_is_refused(tmp_path: Path, other: StoreIdentity) -> None:
    store_at(tmp_path)
    with pytest.raises(IdentityMismatch, match="the ring has"):
        DiskBlobStore(tmp_path, fsync=False, identity=other)


def test_store_created_without_ring_refuses_a_ring(tmp_path: Path) -> None:
    DiskBlobStore(tmp_path, part_power=6, fsync=False)  # random salt
    with pytest.raises(IdentityMismatch):
        store_at(tmp_path)


# --- commit outcomes ------------------------------------------------------------------------


async def test_put_commit_reports_applied_and_previous(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    info, first = await store.put_commit("k", chunks_of(b"one"), {}, T2)
    assert info.size == 3
    assert first.applied
    assert first.previous is None
    _info, older = await store.put_commit("k", chunks_of(b"old"), {}, T1)
    assert not older.applied
    assert older.previous == OnDiskFile(T2, ".data")
    _info, tie = await store.put_commit("k", chunks_of(b"tie"), {}, T2)
    assert not tie.applied
    _info, newer = await store.put_commit("k", chunks_of(b"new"), {}, T3)
    assert newer.applied
    assert newer.previous == OnDiskFile(T2, ".data")


async def test_delete_commit_reports_what_was_there(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    nothing = await store.delete_commit("k", T1)
    assert nothing.applied
    assert nothing.previous is None
    assert await store.state("k") == OnDiskFile(T1, ".ts")
    await store.put("k", chunks_of(b"x"), {}, T3)
    stale = await store.delete_commit("k", T2)
    assert not stale.applied
    assert stale.previous == OnDiskFile(T3, ".data")
    assert await store.state("missing") is None


# --- suffix hashes ----------------------------------------------------------------------------


async def test_suffix_hashes_change_on_write_and_delete(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    partition, suffix, name = names_in(store, 1)[0]
    assert store.suffix_hashes(partition) == {}
    await store.put(name, chunks_of(b"v1"), {}, T1)
    after_put = store.suffix_hashes(partition)
    assert list(after_put) == [suffix]
    await store.put(name, chunks_of(b"v2"), {}, T2)
    after_overwrite = store.suffix_hashes(partition)
    assert after_overwrite[suffix] != after_put[suffix]
    await store.delete(name, T3)
    after_delete = store.suffix_hashes(partition)
    assert after_delete[suffix] not in (after_put[suffix], after_overwrite[suffix])
    # Reading again without changes answers from the cache, unchanged.
    assert store.suffix_hashes(partition) == after_delete
    assert not (store.objects_dir / str(partition) / suffixes.INVALID_FILE).exists()


async def test_stale_write_does_not_invalidate(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    partition, _suffix, name = names_in(store, 1)[0]
    await store.put(name, chunks_of(b"new"), {}, T2)
    store.suffix_hashes(partition)
    await store.put(name, chunks_of(b"old"), {}, T1)
    assert not (store.objects_dir / str(partition) / suffixes.INVALID_FILE).exists()


async def test_suffix_hash_is_md5_of_sorted_file_names(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    partition, suffix, name = names_in(store, 1)[0]
    await store.put(name, chunks_of(b"v1"), {"a": "b"}, T1)
    name_hash = store.identity.name_hash(name)
    expected = hashlib.md5(f"{name_hash}/{T1}.data\n".encode()).hexdigest()
    assert store.suffix_hashes(partition) == {suffix: expected}


async def test_same_files_on_two_devices_hash_alike(tmp_path: Path) -> None:
    one, two = store_at(tmp_path / "a", "d0"), store_at(tmp_path / "b", "d1")
    names = names_in(one, 40)
    for _p, _s, name in names:
        # Different order, different metadata, different bodies: only names + timestamps count.
        await one.put(name, chunks_of(b"x"), {"m": "1"}, T1)
    for _p, _s, name in reversed(names):
        await two.put(name, chunks_of(b"y"), {}, T1)
    partitions = sorted({p for p, _s, _n in names})
    for partition in partitions:
        assert one.suffix_hashes(partition) == two.suffix_hashes(partition)
    changed_partition, changed_suffix, changed_name = names[0]
    await two.delete(changed_name, T2)
    left, right = one.suffix_hashes(changed_partition), two.suffix_hashes(changed_partition)
    assert {s for s in left if left[s] != right.get(s)} == {changed_suffix}


async def test_recalculate_picks_up_changes_made_behind_the_cache(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    partition, suffix, name = names_in(store, 1)[0]
    await store.put(name, chunks_of(b"v1"), {}, T1)
    cached = store.suffix_hashes(partition)
    (store.hash_dir_for(name) / f"{T2}.ts").write_text("{}")  # not through the store
    assert store.suffix_hashes(partition) == cached
    assert store.suffix_hashes(partition, [suffix])[suffix] != cached[suffix]


async def test_missing_or_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    partition, _suffix, name = names_in(store, 1)[0]
    await store.put(name, chunks_of(b"v1"), {}, T1)
    expected = store.suffix_hashes(partition)
    hashes_file = store.objects_dir / str(partition) / suffixes.HASHES_FILE
    hashes_file.write_text("not json")
    assert store.suffix_hashes(partition) == expected
    hashes_file.unlink()
    assert store.suffix_hashes(partition) == expected
    assert json.loads(hashes_file.read_text())["hashes"] == expected


# --- suffix listing ---------------------------------------------------------------------------


async def test_list_suffix_names_data_and_tombstones(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    seen: dict[tuple[int, str], str] = {}
    for partition, suffix, name in names_in(store, 100_000):
        if (partition, suffix) in seen:
            group = [seen[partition, suffix], name]
            break
        seen[partition, suffix] = name
    await store.put(group[0], chunks_of(b"x"), {}, T1)
    await store.delete(group[1], T2)
    expected = sorted([SuffixEntry(group[0], T1, "data"), SuffixEntry(group[1], T2, "tombstone")])
    assert store.list_suffix(partition, suffix) == expected
    assert store.list_suffix(partition, "fff" if suffix != "fff" else "000") == []


# --- quarantine -------------------------------------------------------------------------------


async def test_quarantine_moves_the_hash_dir_and_invalidates(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    partition, suffix, name = names_in(store, 1)[0]
    await store.put(name, chunks_of(b"x"), {}, T1)
    assert suffix in store.suffix_hashes(partition)
    hash_path = store.hash_dir_for(name)
    moved = store.quarantine(hash_path)
    assert moved == tmp_path / "d0" / "quarantined" / "objects" / hash_path.name
    assert sorted(os.listdir(moved)) == [f"{T1}.data", f"{T1}.meta"]
    assert not hash_path.exists()
    assert await store.open(name) is None
    assert store.suffix_hashes(partition) == {}
    # The same hash quarantined again does not overwrite the first one.
    await store.put(name, chunks_of(b"y"), {}, T2)
    again = store.quarantine(hash_path)
    assert again is not None
    assert again != moved
    assert moved.exists()


async def test_quarantine_spares_a_newer_write(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    await store.put("k", chunks_of(b"x"), {}, T1)
    await store.put("k", chunks_of(b"y"), {}, T2)
    assert store.quarantine(store.hash_dir_for("k"), only_if_newest=f"{T1}.data") is None
    assert store.hash_dir_for("k").exists()
    assert store.quarantine(store.hash_dir_for("k"), only_if_newest=f"{T2}.data") is not None


# --- a full disk ------------------------------------------------------------------------------


class FullDisk:
    """A file object whose writes fail like a full filesystem after ``room`` bytes."""

    def __init__(self, real: object, room: int) -> None:
        self._real = real
        self._room = room

    def write(self, data: bytes) -> int:
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._real.write(data)  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


async def test_enospc_while_streaming_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_at(tmp_path)
    real_open = open

    def full_open(file: object, mode: str = "r", **kwargs: object) -> object:
        handle = real_open(file, mode, **kwargs)  # type: ignore[call-overload]
        return FullDisk(handle, 10) if "w" in mode else handle

    monkeypatch.setattr("nimbus_storage.blobs.diskfile.open", full_open, raising=False)
    with pytest.raises(OSError, match="No space") as caught:
        await store.put("k", chunks_of(b"a" * 8, b"b" * 8), {}, T1)
    assert caught.value.errno == errno.ENOSPC
    assert os.listdir(store.tmp_dir) == []
    assert list(store.iter_hashes()) == []


async def test_enospc_on_the_sidecar_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_at(tmp_path)
    real_write = os.write

    def full_write(fd: int, data: bytes) -> int:
        if data.startswith(b'{"name"'):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr("nimbus_storage.blobs.diskfile.os.write", full_write)
    with pytest.raises(OSError, match="No space"):
        await store.put("k", chunks_of(b"body"), {}, T1)
    assert os.listdir(store.tmp_dir) == []
    assert not store.hash_dir_for("k").exists()


async def test_failed_rename_undoes_the_sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_at(tmp_path)
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        if str(dst).endswith(".data"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr("nimbus_storage.blobs.diskfile.os.replace", replace)
    with pytest.raises(OSError, match="No space"):
        await store.put("k", chunks_of(b"body"), {}, T1)
    assert os.listdir(store.hash_dir_for("k")) == []
    assert os.listdir(store.tmp_dir) == []
