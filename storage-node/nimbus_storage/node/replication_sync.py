"""Bringing one peer's copy of a partition up to date with the local one (push only).

Compare suffix hashes (``POST /replicate``), recompute the differing suffixes on both sides,
list each still differing suffix on both sides and push what ``replication_plan`` picks: data as
a streamed PUT with the same timestamp and metadata, tombstones as a DELETE with the same
timestamp. A peer that cannot be reached ends its sync for this pass (the next pass retries).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from nimbus_storage.blobs.blocks import CorruptBlob
from nimbus_storage.blobs.diskfile import DiskBlobReader, DiskBlobStore, SuffixEntry
from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.node.pacing import Pacer
from nimbus_storage.node.replication_plan import (
    TOMBSTONE,
    differing_suffixes,
    plan_pushes,
    push_accepted,
)
from nimbus_storage.protocol.client import NodeClient, NodeUnavailable, Placement

log = logging.getLogger("nimbus.replicator")

LocalListing = Callable[[str], Awaitable[list[SuffixEntry]]]


@dataclass
class ReplicationReport:
    partitions: int = 0  # partitions checked
    suffixes_synced: int = 0  # differing suffixes brought up to date on a peer
    objects_pushed: int = 0  # data written on a peer (201)
    tombstones_pushed: int = 0  # tombstones a peer took (204/404)
    bytes_pushed: int = 0
    handoffs_reverted: int = 0  # partitions pushed to their primaries and removed here
    tombstones_reclaimed: int = 0
    failures: int = 0  # peers unreachable or refusing, failed pushes, local errors
    seconds: float = 0.0

    def counts(self) -> str:
        return (
            f"{self.partitions} partitions checked, {self.suffixes_synced} suffixes synced,"
            f" {self.objects_pushed} objects ({self.bytes_pushed} bytes) and"
            f" {self.tombstones_pushed} tombstones pushed, {self.handoffs_reverted} handoff"
            f" partitions reverted, {self.tombstones_reclaimed} tombstones reclaimed,"
            f" {self.failures} failures"
        )


class PeerSync:
    """Pushes for one pass: shares the pass's report, rate limits and client."""

    def __init__(
        self,
        client: NodeClient,
        report: ReplicationReport,
        *,
        items: Pacer,
        bytes_: Pacer,
        reclaim_before: str,
        metrics: NodeMetrics | None,
    ) -> None:
        self.client = client
        self.report = report
        self.items = items
        self.bytes = bytes_
        self.reclaim_before = reclaim_before
        self.metrics = metrics

    def failed(self, what: str, exc: object) -> None:
        self.report.failures += 1
        if self.metrics is not None:
            self.metrics.replication_failures.inc()
        log.warning("replication: %s: %s", what, exc)

    async def sync(
        self, store: DiskBlobStore, partition: int, peer: Placement, listing: LocalListing
    ) -> bool:
        """Push to ``peer`` what it lacks; True when it now holds every state listed here."""
        try:
            return await self._sync(store, partition, peer, listing)
        except NodeUnavailable as exc:
            self.failed(f"partition {partition} to {peer.node}/{peer.device}", exc)
            return False

    async def _sync(
        self, store: DiskBlobStore, partition: int, peer: Placement, listing: LocalListing
    ) -> bool:
        local = await asyncio.to_thread(store.suffix_hashes, partition)
        differing = differing_suffixes(local, await self.client.replicate(peer))
        if not differing:
            return True
        # Both sides recompute what differs: a cached hash may predate an unnoticed change.
        local = await asyncio.to_thread(store.suffix_hashes, partition, differing)
        remote = await self.client.replicate(peer, differing)
        differing = differing_suffixes({s: local[s] for s in differing if s in local}, remote)
        in_sync = True
        for suffix in differing:
            pushes = plan_pushes(
                await listing(suffix),
                await self.client.list_suffix(peer, suffix),
                reclaim_before=self.reclaim_before,
            )
            results = [await self._push(store, peer, entry) for entry in pushes]
            if all(results):
                self.report.suffixes_synced += 1
            in_sync = in_sync and all(results)
        return in_sync

    async def _push(self, store: DiskBlobStore, peer: Placement, entry: SuffixEntry) -> bool:
        """One state to the peer; False when it refused. NodeUnavailable when unreachable."""
        await self.items.spend(1)
        if entry.kind == TOMBSTONE:
            answer = await self.client.delete(peer, entry.name, entry.timestamp)
            if answer.status in (204, 404):
                self.report.tombstones_pushed += 1
                if self.metrics is not None:
                    self.metrics.replication_tombstones.inc()
        else:
            reader = await store.open(entry.name)
            if reader is None:
                return True  # deleted meanwhile: the tombstone goes out next pass
            corrupt: list[CorruptBlob] = []
            with reader:
                info = reader.info
                try:
                    answer = await self.client.put(
                        peer,
                        info.name,
                        self._paced(reader, corrupt),
                        size=info.size,
                        meta=info.meta,
                        timestamp=info.timestamp,
                    )
                except Exception:
                    if not corrupt:
                        raise
                if corrupt:
                    # Never spread a corrupt copy: quarantine it, a peer's copy comes back.
                    moved = await asyncio.to_thread(store.quarantine_reader, reader)
                    self.failed(f"corrupt local copy quarantined to {moved}", corrupt[0])
                    return False
            if answer.status == 201:
                self.report.objects_pushed += 1
                if self.metrics is not None:
                    self.metrics.replication_objects.inc()
        if push_accepted(entry, answer.status):
            return True
        self.failed(
            f"{entry.kind} {entry.name!r} at {entry.timestamp} to {peer.node}/{peer.device}",
            f"answered {answer.status}",
        )
        return False

    async def _paced(
        self, reader: DiskBlobReader, corrupt: list[CorruptBlob]
    ) -> AsyncIterator[bytes]:
        """The blob, paced; a block failing its check is noted in ``corrupt`` and raised."""
        try:
            async for chunk in reader.iter_range(0, reader.info.size - 1):
                await self.bytes.spend(len(chunk))
                self.report.bytes_pushed += len(chunk)
                if self.metrics is not None:
                    self.metrics.replication_bytes.inc(len(chunk))
                yield chunk
        except CorruptBlob as exc:
            corrupt.append(exc)
            raise
