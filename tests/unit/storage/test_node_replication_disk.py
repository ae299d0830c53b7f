"""The replicator's local-disk steps: remove what was replicated, reclaim old tombstones, prune."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nimbus_storage.blobs.diskfile import DiskBlobStore, SuffixEntry, normalize_timestamp
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.node.replication_disk import (
    list_partition,
    reclaim_tombstones,
    remove_replicated,
)

RING = StoreIdentity("p", "s", 2)
T1, T2 = normalize_timestamp(1700000001.0), normalize_timestamp(1700000002.0)
CUTOFF = normalize_timestamp(1700000001.5)


async def chunks_of(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.fixture
def store(tmp_path: Path) -> DiskBlobStore:
    return DiskBlobStore(tmp_path, device="d0", fsync=False, identity=RING)


def same_partition(store: DiskBlobStore, count: int) -> tuple[int, list[str]]:
    groups: dict[int, list[str]] = {}
    for i in range(200):
        name = f"k{i}"
        group = groups.setdefault(store.identity.partition(store.identity.name_hash(name)), [])
        group.append(name)
        if len(group) == count:
            return store.identity.partition(store.identity.name_hash(name)), group
    raise AssertionError("not enough names in one partition")


async def test_list_partition_groups_the_listing_by_suffix(store: DiskBlobStore) -> None:
    partition, (a, b) = same_partition(store, 2)
    await store.put(a, chunks_of(b"x"), {}, T1)
    await store.delete(b, T2)
    listed = list_partition(store, partition)
    assert sorted(e for entries in listed.values() for e in entries) == [
        SuffixEntry(a, T1, "data"),
        SuffixEntry(b, T2, "tombstone"),
    ]
    assert set(listed) == {store.identity.name_hash(n)[-3:] for n in (a, b)}


async def test_only_the_replicated_state_is_removed(store: DiskBlobStore) -> None:
    partition, (kept, rewritten) = same_partition(store, 2)
    await store.put(kept, chunks_of(b"old"), {}, T1)
    await store.put(rewritten, chunks_of(b"old"), {}, T1)
    listed = [e for entries in list_partition(store, partition).values() for e in entries]
    await store.put(rewritten, chunks_of(b"written after the listing"), {}, T2)

    assert remove_replicated(store, listed) == 1

    assert await store.state(kept) is None
    assert not store.hash_dir_for(kept).exists()
    reader = await store.open(rewritten)
    assert reader is not None
    reader.close()
    assert not store.prune_partition(partition)  # a blob is left: the partition stays
    assert (store.objects_dir / str(partition)).is_dir()


async def test_an_emptied_partition_is_pruned_with_its_hash_cache(store: DiskBlobStore) -> None:
    partition, (name,) = same_partition(store, 1)
    await store.put(name, chunks_of(b"x"), {}, T1)
    assert store.suffix_hashes(partition)  # writes hashes.json
    listed = [e for entries in list_partition(store, partition).values() for e in entries]
    assert remove_replicated(store, listed) == 1
    assert store.suffix_hashes(partition) == {}
    assert store.prune_partition(partition)
    assert not (store.objects_dir / str(partition)).exists()
    assert partition not in store.partitions()
    await store.put(name, chunks_of(b"again"), {}, T2)  # the partition comes back on a write
    assert partition in store.partitions()


async def test_reclaim_removes_only_old_tombstones(store: DiskBlobStore) -> None:
    partition, (old, recent, live) = same_partition(store, 3)
    await store.delete(old, T1)
    await store.delete(recent, T2)
    await store.put(live, chunks_of(b"x"), {}, T1)
    before = store.suffix_hashes(partition)

    assert reclaim_tombstones(store, partition, CUTOFF) == 1

    assert not store.hash_dir_for(old).exists()
    assert await store.state(recent) is not None
    assert await store.state(live) is not None
    assert store.suffix_hashes(partition) != before  # the suffix hash followed
    assert reclaim_tombstones(store, partition, CUTOFF) == 0
