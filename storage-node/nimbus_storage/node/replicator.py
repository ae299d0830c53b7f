"""The replicator: keeps every primary of every partition up to date, and empties handoffs.

Each pass walks every partition of every local device (Swift's object replicator, push model):

* on a device that is one of the partition's primaries (per the ring), it brings every other
  primary up to date (``replication_sync``). Once every peer answered and took every push,
  tombstones older than ``reclaim_age`` are deleted here (Swift's reclaim_age);
* on any other device (a handoff that took writes while a primary was down, or data a
  rebalance moved away) it pushes the partition to all of its primaries and, once every primary
  holds every state, deletes the local copies and the partition dir. A primary that is down
  keeps the data here until a later pass.

Pushes are paced in items/s and bytes/s and partitions run ``concurrency`` at a time; passes
never overlap. The ring comes from a callable, asked once per pass (the node's reloads the ring
file when it changed). Metrics go to the node's registry; each pass logs its counts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from nimbus_storage.blobs.api import normalize_timestamp
from nimbus_storage.blobs.diskfile import DiskBlobStore, SuffixEntry
from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.node.pacing import Pacer
from nimbus_storage.node.periodic import PassRunner
from nimbus_storage.node.replication_disk import (
    list_partition,
    local_partitions,
    reclaim_tombstones,
    remove_replicated,
)
from nimbus_storage.node.replication_sync import PeerSync, ReplicationReport
from nimbus_storage.protocol.client import NodeClient, Placement
from nimbus_storage.ring import Device, Ring

__all__ = ["ReplicationReport", "Replicator", "ReplicatorSettings"]

log = logging.getLogger("nimbus.replicator")


@dataclass(frozen=True, slots=True)
class ReplicatorSettings:
    items_per_second: float = 50.0  # objects and tombstones pushed; 0: unlimited
    bytes_per_second: float = 20 * 1024 * 1024  # 0: unlimited
    interval: float = 30.0  # seconds between the starts of two passes
    concurrency: int = 4  # partitions replicated at once
    reclaim_age: float = 7 * 24 * 3600.0  # seconds a tombstone is kept
    log_every: float = 60.0  # seconds between progress logs within a pass


class Replicator(PassRunner[ReplicationReport]):
    """Replication passes for the devices of one node, named ``node`` ("host:port") in the ring.

    ``client`` is owned: ``close`` closes it.
    """

    what = "replication"

    def __init__(
        self,
        devices: Callable[[], list[DiskBlobStore]],
        ring: Callable[[], Ring],
        node: str,
        client: NodeClient,
        settings: ReplicatorSettings = ReplicatorSettings(),
        *,
        metrics: NodeMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            ring, node, client, settings, metrics=metrics, clock=clock, wall_clock=wall_clock
        )
        self.devices = devices
        self.settings = settings
        self._sleep = sleep
        self._generation: int | None = None

    async def _run_once(self) -> ReplicationReport:
        ring = self.ring()
        if ring.generation != self._generation:
            log.info("replicating by ring generation %d", ring.generation)
            self._generation = ring.generation
        settings, clock = self.settings, self.clock
        report = ReplicationReport()
        sync = PeerSync(
            self.client,
            report,
            items=Pacer(settings.items_per_second, clock=clock, sleep=self._sleep),
            bytes_=Pacer(settings.bytes_per_second, clock=clock, sleep=self._sleep),
            reclaim_before=normalize_timestamp(self._wall_clock() - settings.reclaim_age),
            metrics=self.metrics,
        )
        run = _Pass(self, ring, sync)
        jobs = iter(await asyncio.to_thread(local_partitions, self.devices(), ring))
        await asyncio.gather(*(run.work(jobs) for _ in range(max(1, settings.concurrency))))
        report.seconds = clock() - run.started
        log.info("replication pass done in %.1fs: %s", report.seconds, report.counts())
        if self.metrics is not None:
            self.metrics.replication_passes.inc()
            self.metrics.replication_pass_seconds.set(report.seconds)
            self.metrics.replication_last_pass.set(self._wall_clock())
        return report


class _Pass:
    def __init__(self, replicator: Replicator, ring: Ring, sync: PeerSync) -> None:
        self.replicator = replicator
        self.ring = ring
        self.sync = sync
        self.report = sync.report
        self.clock = replicator.clock
        self.started = self.last_log = self.clock()

    async def work(self, jobs: Iterator[tuple[DiskBlobStore, int]]) -> None:
        """Take partitions from the shared ``jobs`` until none is left."""
        for store, partition in jobs:
            try:
                await self.partition(store, partition)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("replicating %s partition %d", store.device, partition)
                self.sync.failed(f"{store.device} partition {partition}", exc)
            self.report.partitions += 1
            self.maybe_log()

    def maybe_log(self) -> None:
        if self.clock() - self.last_log >= self.replicator.settings.log_every:
            self.last_log = self.clock()
            log.info("replication in progress: %s", self.report.counts())

    async def partition(self, store: DiskBlobStore, partition: int) -> None:
        primaries = self.ring.primaries(partition)
        here = self._local_device(store, primaries)
        if here is None:
            await self.revert_handoff(store, partition, primaries)
            return
        peers = [_placement(d, partition) for d in primaries if d.id != here.id]

        async def fresh_listing(suffix: str) -> list[SuffixEntry]:
            return await asyncio.to_thread(store.list_suffix, partition, suffix)

        synced = [await self.sync.sync(store, partition, p, fresh_listing) for p in peers]
        if all(synced):
            reclaimed = await asyncio.to_thread(
                reclaim_tombstones, store, partition, self.sync.reclaim_before
            )
            if reclaimed:
                self.report.tombstones_reclaimed += reclaimed
                if self.replicator.metrics is not None:
                    self.replicator.metrics.replication_reclaimed.inc(reclaimed)
                await asyncio.to_thread(store.prune_partition, partition)  # if now empty

    async def revert_handoff(
        self, store: DiskBlobStore, partition: int, primaries: list[Device]
    ) -> None:
        """Push the partition to every primary; delete it here once all of them hold it."""
        listed = await asyncio.to_thread(list_partition, store, partition)

        async def listing_at_start(suffix: str) -> list[SuffixEntry]:
            return listed.get(suffix, [])

        targets = [_placement(d, partition) for d in primaries]
        synced = [await self.sync.sync(store, partition, t, listing_at_start) for t in targets]
        if not all(synced):
            log.info(
                "keeping handoff partition %d on %s: %d of %d primaries not in sync",
                partition,
                store.device,
                synced.count(False),
                len(synced),
            )
            return
        entries = [entry for suffix_entries in listed.values() for entry in suffix_entries]
        await asyncio.to_thread(remove_replicated, store, entries)
        if await asyncio.to_thread(store.prune_partition, partition):
            self.report.handoffs_reverted += 1
            if self.replicator.metrics is not None:
                self.replicator.metrics.replication_handoffs_reverted.inc()
            log.info(
                "handoff partition %d of %s reverted to its primaries", partition, store.device
            )

    def _local_device(self, store: DiskBlobStore, primaries: list[Device]) -> Device | None:
        node = self.replicator.node
        return next((d for d in primaries if d.node == node and d.device == store.device), None)


def _placement(device: Device, partition: int) -> Placement:
    return Placement(device.node, device.device, partition)
