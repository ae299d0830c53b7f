"""The reconstructor: keeps every fragment archive of erasure-coded blobs on its own primary
(Swift's object reconstructor). The object replicator cannot do it: it pushes whole copies, and
would hand archive ``i`` to the node that should hold archive ``j``.

A pass walks every partition of every local device. Every visible state (``list_suffix``) of a
name is handled on its own:

* **An archive on a primary device, of this device's fragment index** ``i`` (position ``i`` in
  ``ring.primaries(partition)``): the primaries to its right, ``i+1, i+2, ...`` (mod ``k+m``),
  are checked with a HEAD, up to the first one that holds its own fragment of the same timestamp
  (its index per the archive's ``nimbus-ec`` meta) or something newer. Each one before it that
  holds nothing, an older state or an older tombstone gets its fragment rebuilt here; one that
  cannot be reached is skipped (it may hold nothing when it comes back, and it is not running a
  walk of its own). One that holds another fragment index at the same timestamp is skipped: that
  node reverts its misplaced archive first (below), then a later pass rebuilds it.

  *Who repairs what*: a missing archive is rebuilt by the nearest primary to its left that holds
  the blob. Every missing archive has exactly one such primary, so nothing is rebuilt twice in a
  healthy pass (Swift's reconstructor syncs each primary with both neighbours and accepts the
  duplicate work), and a run of several missing archives is rebuilt in one pass by one node
  rather than one neighbour per pass. The walk is skipped for every name of a suffix whose
  hash the right neighbour shares (one ``POST /replicate`` per partition): it holds the same
  states, so the walk would stop there. In a healthy cluster a pass costs that one request per
  partition, and no HEAD.
  Two nodes with different views (one sees a peer as down) may both rebuild a fragment: the
  second PUT gets 409 (same timestamp), harmless.

* **Rebuilding fragment** ``j`` (fragment_rebuild.py): from ``k`` archives of other indexes,
  unless a handoff holds fragment ``j`` itself (its own pass moves it home, a plain copy), and
  streamed as a PUT to primary ``j`` under the blob's name, timestamp and meta.

* **A tombstone on a primary**: the same walk to the right; a peer with older data (or nothing,
  or an older tombstone) gets a DELETE with the tombstone's timestamp.

* **An archive on a handoff device** (not a primary of the partition), or on a primary whose
  index is not the archive's: PUT it (same name, timestamp and meta) to primary ``f``, ``f``
  being its fragment index, and delete the local copy once that primary holds it (201; or 409
  with a newer state, or the same fragment at the same timestamp). A primary that is down keeps
  it here until a later pass. **A tombstone on a handoff** goes to every primary, and is
  deleted here once all of them took it. An emptied handoff partition dir is removed.

The EC parameters (k, m, codec, segment size, object size, fragment index) come from each
archive's own ``nimbus-ec`` meta (``ECFacts``), so a node needs no EC configuration. Blobs
without that meta (replicated ones) are left alone and counted as skipped.

Rebuilds, reverts and tombstone pushes are paced in items/s and their bytes in bytes/s; partitions
run ``concurrency`` at a time; passes never overlap; a peer that cannot be reached is not asked
again in the same pass. Old tombstones are not reclaimed here (the object replicator's job in
replicated clusters; the next step for erasure-coded ones). The modules: this one runs passes;
reconstruction_pass.py is one pass; fragment_states.py compares a peer's state with the local
one; fragment_rebuild.py rebuilds one archive.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nimbus_storage.blobs.diskfile import DiskBlobStore
from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.node.periodic import PassRunner
from nimbus_storage.node.reconstruction_pass import ReconstructionPass
from nimbus_storage.node.replication_disk import local_partitions
from nimbus_storage.protocol.client import NodeClient
from nimbus_storage.ring import Ring

__all__ = ["ReconstructionReport", "Reconstructor", "ReconstructorSettings"]

log = logging.getLogger("nimbus.reconstructor")


@dataclass(frozen=True, slots=True)
class ReconstructorSettings:
    items_per_second: float = 50.0  # rebuilds, reverts and tombstone pushes; 0: unlimited
    bytes_per_second: float = 20 * 1024 * 1024  # archive bytes sent; 0: unlimited
    interval: float = 30.0  # seconds between the starts of two passes
    concurrency: int = 4  # partitions handled at once
    log_every: float = 60.0  # seconds between progress logs within a pass


@dataclass
class ReconstructionReport:
    partitions: int = 0  # partitions walked
    archives: int = 0  # local archives and tombstones looked at
    settled: int = 0  # of those, in a suffix the right neighbour's hash matches: no HEAD
    fragments_checked: int = 0  # peers' states checked (HEAD)
    fragments_rebuilt: int = 0  # fragments rebuilt and stored on their primary (201)
    archives_reverted: int = 0  # archives moved to their primary and deleted here
    tombstones_pushed: int = 0  # tombstones a primary took (DELETE answered 204/404)
    bytes_sent: int = 0  # archive bytes sent: rebuilt and reverted
    skipped: int = 0  # blobs that are not fragment archives
    failures: int = 0  # unreachable peers, refused pushes, too few fragments, local errors
    seconds: float = 0.0

    def counts(self) -> str:
        return (
            f"{self.partitions} partitions, {self.archives} local states ({self.settled} in"
            f" settled suffixes),"
            f" {self.fragments_checked} peer fragments checked, {self.fragments_rebuilt}"
            f" fragments rebuilt, {self.archives_reverted} archives reverted,"
            f" {self.tombstones_pushed} tombstones pushed, {self.bytes_sent} bytes sent,"
            f" {self.skipped} not archives, {self.failures} failures"
        )


class Reconstructor(PassRunner[ReconstructionReport]):
    """Reconstruction passes for the devices of one node, named ``node`` ("host:port") in the
    ring. ``client`` is owned: ``close`` closes it."""

    what = "reconstruction"

    def __init__(
        self,
        devices: Callable[[], list[DiskBlobStore]],
        ring: Callable[[], Ring],
        node: str,
        client: NodeClient,
        settings: ReconstructorSettings = ReconstructorSettings(),
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

    async def _run_once(self) -> ReconstructionReport:
        ring = self.ring()
        report = ReconstructionReport()
        run = ReconstructionPass(
            node=self.node,
            ring=ring,
            client=self.client,
            settings=self.settings,
            report=report,
            metrics=self.metrics,
            clock=self.clock,
            sleep=self._sleep,
        )
        jobs = iter(await asyncio.to_thread(local_partitions, self.devices(), ring))
        await asyncio.gather(*(run.work(jobs) for _ in range(max(1, self.settings.concurrency))))
        report.seconds = self.clock() - run.started
        log.info("reconstruction pass done in %.1fs: %s", report.seconds, report.counts())
        if self.metrics is not None:
            self.metrics.reconstructor_passes.inc()
            self.metrics.reconstructor_pass_seconds.set(report.seconds)
            self.metrics.reconstructor_last_pass.set(self._wall_clock())
        return report
