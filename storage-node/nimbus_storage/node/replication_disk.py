"""The replicator's work on the local disk. Blocking: callers run these in worker threads."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from nimbus_storage.blobs.diskfile import DiskBlobStore, SuffixEntry
from nimbus_storage.blobs.layout import DATA_EXT, TOMBSTONE_EXT, OnDiskFile, newest_state
from nimbus_storage.node.replication_plan import TOMBSTONE
from nimbus_storage.ring import Ring

log = logging.getLogger("nimbus.node")


def local_partitions(
    stores: Iterable[DiskBlobStore], ring: Ring
) -> list[tuple[DiskBlobStore, int]]:
    """Every partition dir on ``stores`` that ``ring`` has (a pass's work: the replicator's
    and the reconstructor's); one beyond the ring is logged and left alone."""
    jobs: list[tuple[DiskBlobStore, int]] = []
    for store in stores:
        for partition in store.partitions():
            if partition < ring.partition_count:
                jobs.append((store, partition))
            else:
                log.warning("%s holds partition %d beyond the ring", store.device, partition)
    return jobs


def list_partition(store: DiskBlobStore, partition: int) -> dict[str, list[SuffixEntry]]:
    """``{suffix: listing}`` of every suffix of the partition that holds something."""
    return {
        suffix: store.list_suffix(partition, suffix) for suffix in store.suffix_hashes(partition)
    }


def remove_replicated(store: DiskBlobStore, entries: Iterable[SuffixEntry]) -> int:
    """Delete the hash dir of each entry whose state is still the visible one; how many went.

    A name written again since ``entries`` were listed keeps its dir: the new state has not
    been replicated yet.
    """
    removed = 0
    for entry in entries:
        filename = entry.timestamp + (TOMBSTONE_EXT if entry.kind == TOMBSTONE else DATA_EXT)
        if store.remove_hash_dir(store.hash_dir_for(entry.name), only_if_newest=filename):
            removed += 1
    return removed


def reclaim_tombstones(store: DiskBlobStore, partition: int, reclaim_before: str) -> int:
    """Delete the hash dirs whose visible state is a tombstone older than ``reclaim_before``."""
    removed = 0
    for _partition, hash_path in store.iter_hashes(partition):
        newest = _newest(hash_path)
        if newest is None or newest.ext != TOMBSTONE_EXT or newest.timestamp >= reclaim_before:
            continue
        if store.remove_hash_dir(hash_path, only_if_newest=newest.filename):
            removed += 1
    return removed


def _newest(hash_path: Path) -> OnDiskFile | None:
    try:
        return newest_state(os.listdir(hash_path))
    except FileNotFoundError:
        return None
