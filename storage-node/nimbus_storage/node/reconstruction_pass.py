"""One pass of the reconstructor over the partitions of a node's devices: the walk to the right
on primaries, tombstone pushes, and handoff archives moved home (reconstructor.py says what
each does and why)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

from nimbus_storage.blobs.blocks import CorruptBlob
from nimbus_storage.blobs.diskfile import DiskBlobReader, DiskBlobStore, SuffixEntry
from nimbus_storage.blobs.layout import DATA_EXT, TOMBSTONE_EXT
from nimbus_storage.cluster.ec_layout import EC_META, ECFacts
from nimbus_storage.node.fragment_rebuild import rebuild_fragment
from nimbus_storage.node.fragment_states import DATA, DOWN, Archive, Seen
from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.node.pacing import Pacer
from nimbus_storage.node.replication_plan import TOMBSTONE
from nimbus_storage.protocol.client import NodeAnswer, NodeClient, NodeUnavailable, Placement
from nimbus_storage.ring import Ring

if TYPE_CHECKING:
    from nimbus_storage.node.reconstructor import ReconstructionReport, ReconstructorSettings

__all__ = ["ReconstructionPass"]

log = logging.getLogger("nimbus.reconstructor")


class ReconstructionPass:
    """The state of one pass: its report, pacers, and the peers found down (not asked again)."""

    def __init__(
        self,
        *,
        node: str,
        ring: Ring,
        client: NodeClient,
        settings: ReconstructorSettings,
        report: ReconstructionReport,
        metrics: NodeMetrics | None,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.node = node
        self.ring = ring
        self.client = client
        self.settings = settings
        self.report = report
        self.metrics = metrics
        self.clock = clock
        self.items = Pacer(settings.items_per_second, clock=clock, sleep=sleep)
        self.bytes = Pacer(settings.bytes_per_second, clock=clock, sleep=sleep)
        self.down: dict[tuple[str, str], str] = {}  # (node, device) -> why, for this pass
        self.started = self.last_log = clock()

    # --- bookkeeping ------------------------------------------------------------------------

    def failed(self, what: str, exc: object) -> None:
        self.report.failures += 1
        if self.metrics is not None:
            self.metrics.reconstructor_failures.inc()
        log.warning("reconstruction: %s: %s", what, exc)

    def sent(self, amount: int) -> None:
        self.report.bytes_sent += amount
        if self.metrics is not None:
            self.metrics.reconstructor_bytes.inc(amount)

    def maybe_log(self) -> None:
        if self.clock() - self.last_log >= self.settings.log_every:
            self.last_log = self.clock()
            log.info("reconstruction in progress: %s", self.report.counts())

    # --- partitions -------------------------------------------------------------------------

    async def work(self, jobs: Iterator[tuple[DiskBlobStore, int]]) -> None:
        """Take partitions from the shared ``jobs`` until none is left."""
        for store, partition in jobs:
            try:
                await self.partition(store, partition)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("reconstructing %s partition %d", store.device, partition)
                self.failed(f"{store.device} partition {partition}", exc)
            self.report.partitions += 1
            self.maybe_log()

    async def partition(self, store: DiskBlobStore, partition: int) -> None:
        primaries = [Placement(d.node, d.device, partition) for d in self.ring.primaries(partition)]
        here = next(
            (
                i
                for i, p in enumerate(primaries)
                if p.node == self.node and p.device == store.device
            ),
            None,
        )
        listed = await asyncio.to_thread(_list_partition, store, partition)
        settled = await self.settled_suffixes(store, primaries, here) if listed else set()
        for suffix, entry in listed:
            self.report.archives += 1
            self.report.settled += suffix in settled
            try:
                await self.entry(store, primaries, here, entry, settled=suffix in settled)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("reconstructing %r on %s", entry.name, store.device)
                self.failed(f"{entry.kind} {entry.name!r} at {entry.timestamp}", exc)
        if here is None and await asyncio.to_thread(store.prune_partition, partition):
            log.info(
                "handoff partition %d of %s reverted to its primaries", partition, store.device
            )

    async def settled_suffixes(
        self, store: DiskBlobStore, primaries: list[Placement], here: int | None
    ) -> set[str]:
        """The suffixes whose hash the primary to the right of this one shares: it holds the
        same states of the same names, so the walk to the right would stop there at once
        (what it holds may be another fragment index: its own node reverts that). Empty for a
        handoff, or when that primary cannot say."""
        if here is None:
            return set()
        right = primaries[(here + 1) % len(primaries)]
        key = (right.node, right.device)
        if key in self.down:
            return set()
        try:
            theirs = await self.client.replicate(right)
        except NodeUnavailable as exc:
            self.down[key] = str(exc)
            self.failed(f"{right.node}/{right.device} skipped for this pass", exc)
            return set()
        ours = await asyncio.to_thread(store.suffix_hashes, right.partition)
        return {suffix for suffix, digest in ours.items() if theirs.get(suffix) == digest}

    async def entry(
        self,
        store: DiskBlobStore,
        primaries: list[Placement],
        here: int | None,
        entry: SuffixEntry,
        *,
        settled: bool = False,
    ) -> None:
        """Handle one local state; ``settled``: its suffix matches the right neighbour's."""
        if entry.kind == TOMBSTONE:
            if here is None:
                await self.revert_tombstone(store, primaries, entry)
            elif not settled:
                await self.walk(primaries, here, entry.name, entry.timestamp, None)
            return
        archive = await self.local_archive(store, entry.name)
        if archive is None:
            return
        if archive.facts.policy.fragments != len(primaries):
            self.failed(
                f"archive {archive.name!r}",
                f"erasure coding {archive.facts.policy} does not fit a ring of"
                f" {len(primaries)} replicas",
            )
            return
        if here is None or archive.facts.index != here:
            await self.revert(store, primaries, archive)
        elif not settled:
            await self.walk(primaries, here, archive.name, archive.timestamp, archive)

    async def local_archive(self, store: DiskBlobStore, name: str) -> Archive | None:
        """The visible archive of ``name`` here; None when gone or not a fragment archive."""
        reader = await store.open(name)
        if reader is None:
            return None  # deleted meanwhile: the tombstone is handled next pass
        with reader:
            info = reader.info
        meta = dict(info.meta)
        try:
            facts = ECFacts.from_json(meta.pop(EC_META, ""))
        except ValueError:
            self.report.skipped += 1
            return None
        return Archive(name, info.timestamp, info.size, facts, meta)

    # --- primaries: the walk to the right ---------------------------------------------------

    async def look(self, where: Placement, name: str) -> Seen:
        """What ``where`` holds of ``name``; down peers are not asked again this pass."""
        key = (where.node, where.device)
        if key in self.down:
            return Seen(DOWN, reason=self.down[key])
        try:
            seen = Seen.of(await self.client.head(where, name))
        except NodeUnavailable as exc:
            seen = Seen(DOWN, reason=str(exc))
        if seen.kind != DOWN or key in self.down:
            return seen  # (a peer found down by another partition's walk meanwhile is counted)
        self.down[key] = seen.reason
        self.failed(f"{where.node}/{where.device} skipped for this pass", seen.reason)
        return seen

    async def walk(
        self,
        primaries: list[Placement],
        here: int,
        name: str,
        timestamp: str,
        archive: Archive | None,
    ) -> None:
        """Bring the primaries right of ``here`` up to the local state (``archive``, or a
        tombstone at ``timestamp`` when None), up to the first one that holds it or newer."""
        seen: dict[int, Seen] = {}
        count = len(primaries)
        for step in range(1, count):
            index = (here + step) % count
            state = await self.look(primaries[index], name)
            seen[index] = state
            self.report.fragments_checked += 1
            if self.metrics is not None:
                self.metrics.reconstructor_checked.inc()
            if state.kind == DOWN:
                continue
            if archive is None:
                if state.newer_or_same(timestamp, tombstone=True):
                    return
                await self.push_tombstone(primaries[index], name, timestamp)
                continue
            if state.kind == DATA and state.timestamp == timestamp:
                if state.fragment_of(timestamp) == index:
                    return  # it holds its own fragment: the rest is its business
                continue  # another fragment there: its node reverts it, then a later pass
            if state.newer_or_same(timestamp, tombstone=False):
                return  # a newer state there: this archive is stale
            await rebuild_fragment(
                self, archive, primaries=primaries, here=here, target=index, seen=seen
            )

    async def push_tombstone(self, where: Placement, name: str, timestamp: str) -> bool:
        """True when ``where`` now holds the tombstone or something newer."""
        key = (where.node, where.device)
        if key in self.down:
            return False  # down this pass: already counted
        await self.items.spend(1)
        try:
            answer = await self.client.delete(where, name, timestamp)
        except NodeUnavailable as exc:
            self.down[key] = str(exc)
            self.failed(f"tombstone {name!r} to {where.node}/{where.device}", exc)
            return False
        if answer.status in (204, 404):
            self.report.tombstones_pushed += 1
            if self.metrics is not None:
                self.metrics.reconstructor_tombstones.inc()
            return True
        if answer.status == 409:
            return True  # newer data there
        self.failed(
            f"tombstone {name!r} at {timestamp} to {where.node}/{where.device}",
            f"answered {answer.status}",
        )
        return False

    # --- handoffs: moving archives and tombstones home --------------------------------------

    async def revert(
        self, store: DiskBlobStore, primaries: list[Placement], archive: Archive
    ) -> None:
        """Archive ``f`` to primary ``f`` unless it holds it already; deleted here once that
        primary holds it (or something newer)."""
        index = archive.facts.index
        where = primaries[index]
        state = await self.look(where, archive.name)
        if state.kind == DOWN:
            return  # kept here until a later pass (counted by look)
        if not state.holds(archive):
            answer = await self.push_archive(store, where, archive)
            if answer is None:
                return
            if answer.status == 409:  # as new or newer there: which fragment, though?
                stored = (await self.look(where, archive.name)).holds(archive)
            else:
                stored = answer.status == 201
            if not stored:
                self.failed(
                    f"reverting fragment {index} of {archive.name!r} to"
                    f" {where.node}/{where.device}",
                    f"answered {answer.status}",
                )
                return
        filename = archive.timestamp + DATA_EXT
        hash_path = store.hash_dir_for(archive.name)
        if await asyncio.to_thread(store.remove_hash_dir, hash_path, only_if_newest=filename):
            self.report.archives_reverted += 1
            if self.metrics is not None:
                self.metrics.reconstructor_reverted.inc()

    async def push_archive(
        self, store: DiskBlobStore, where: Placement, archive: Archive
    ) -> NodeAnswer | None:
        """The local archive streamed to ``where``; None when it was not sent (replaced
        meanwhile, found corrupt and quarantined, or ``where`` unreachable)."""
        reader = await store.open(archive.name)
        if reader is None:
            return None
        await self.items.spend(1)
        corrupt: list[CorruptBlob] = []
        with reader:
            if reader.info.timestamp != archive.timestamp:
                return None  # replaced meanwhile: next pass
            try:
                return await self.client.put(
                    where,
                    archive.name,
                    self.paced(reader, corrupt),
                    size=reader.info.size,
                    meta=reader.info.meta,
                    timestamp=archive.timestamp,
                )
            except Exception as exc:
                if corrupt:
                    # Never spread a corrupt archive: a rebuild brings a good one back.
                    moved = await asyncio.to_thread(store.quarantine_reader, reader)
                    self.failed(f"corrupt archive quarantined to {moved}", corrupt[0])
                elif isinstance(exc, NodeUnavailable):
                    self.down[(where.node, where.device)] = str(exc)
                    self.failed(f"reverting {archive.name!r} to {where.node}", exc)
                else:
                    raise
                return None

    async def revert_tombstone(
        self, store: DiskBlobStore, primaries: list[Placement], entry: SuffixEntry
    ) -> None:
        """A tombstone to every primary; deleted here once all of them took it."""
        taken = [await self.push_tombstone(p, entry.name, entry.timestamp) for p in primaries]
        if all(taken):
            hash_path = store.hash_dir_for(entry.name)
            await asyncio.to_thread(
                store.remove_hash_dir, hash_path, only_if_newest=entry.timestamp + TOMBSTONE_EXT
            )

    async def paced(
        self, reader: DiskBlobReader, corrupt: list[CorruptBlob]
    ) -> AsyncIterator[bytes]:
        """The local archive, paced; a block failing its check is noted in ``corrupt``."""
        try:
            async for chunk in reader.iter_range(0, reader.info.size - 1):
                await self.bytes.spend(len(chunk))
                self.sent(len(chunk))
                yield chunk
        except CorruptBlob as exc:
            corrupt.append(exc)
            raise


def _list_partition(store: DiskBlobStore, partition: int) -> list[tuple[str, SuffixEntry]]:
    """The newest state of every name in the partition, with its suffix, walking its dirs (not
    the cached suffix hashes: a hash dir lost behind the store's back must not hide others).
    Blocking."""
    suffixes = sorted({path.parent.name for _part, path in store.iter_hashes(partition)})
    return [(s, entry) for s in suffixes for entry in store.list_suffix(partition, s)]
