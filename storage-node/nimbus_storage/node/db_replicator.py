"""The database replicator: brings every replica of a catalog or bucket index up to date.

Swift's container replicator, push model and incremental. Each pass walks every database
replica on the node's available devices (``Databases.local``):

* on a device that is one of the database's primaries (per the ring: the same partition and
  hashing as blobs), it pushes to every other primary the rows that peer has not been sent
  yet. Each replica has a random id (``replica_id``); the local replica remembers, per peer
  replica (``<node>/<device>/<replica id>``), the local change number it was sent up to
  (``sync_point``), so a pass sends only rows changed since, in batches of ``batch_rows``. A
  peer that lost its replica gets a new one with a new id, and so everything again. Once every
  peer is up to date, deletion rows older than ``reclaim_age`` are forgotten here;
* on any other device (a handoff that took writes while a primary was down, or a replica a
  rebalance moved away) it pushes to every primary the same way and, when all of them took
  everything and no row arrived meanwhile, removes the local replica. A primary that cannot be
  reached keeps the replica here until a later pass.

Databases run ``concurrency`` at a time; passes never overlap. The ring comes from a callable,
asked once per pass. Metrics go to the node's registry; each pass logs its counts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from nimbus_storage.meta.replicated_db import ReplicatedDB
from nimbus_storage.node.databases import Databases, LocalDB
from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.node.periodic import PassRunner
from nimbus_storage.protocol.client import (
    DatabaseMissing,
    NodeClient,
    NodeUnavailable,
    Placement,
)
from nimbus_storage.protocol.db_ops import DbOp
from nimbus_storage.ring import Ring

__all__ = ["DBReplicationReport", "DBReplicator", "DBReplicatorSettings"]

log = logging.getLogger("nimbus.db_replicator")


@dataclass(frozen=True, slots=True)
class DBReplicatorSettings:
    interval: float = 30.0  # seconds between the starts of two passes
    batch_rows: int = 1000  # rows per table in one merge sent to a peer
    reclaim_age: float = 7 * 24 * 3600.0  # seconds a deletion row is kept
    concurrency: int = 4  # databases replicated at once


@dataclass
class DBReplicationReport:
    databases: int = 0  # local replicas checked
    rows_pushed: int = 0  # rows sent to peers (each peer counted)
    peers_synced: int = 0  # peer replicas that were behind and were brought up to date
    handoffs_removed: int = 0  # replicas pushed to all their primaries and removed here
    rows_reclaimed: int = 0  # deletion rows forgotten after reclaim_age
    failures: int = 0  # peers unreachable or refusing, local errors
    seconds: float = 0.0

    def counts(self) -> str:
        return (
            f"{self.databases} databases checked, {self.rows_pushed} rows pushed,"
            f" {self.peers_synced} peers synced, {self.handoffs_removed} handoffs removed,"
            f" {self.rows_reclaimed} deletion rows reclaimed, {self.failures} failures"
        )


class DBReplicator(PassRunner[DBReplicationReport]):
    """Database replication passes for one node, named ``node`` ("host:port") in the ring.

    ``devices`` gives the names of the node's available devices; ``databases`` is the node's
    (shared with its request handlers, so a removed replica is also closed for them).
    ``client`` is owned: ``close`` closes it.
    """

    what = "database replication"

    def __init__(
        self,
        devices: Callable[[], list[str]],
        databases: Databases,
        ring: Callable[[], Ring],
        node: str,
        client: NodeClient,
        *,
        settings: DBReplicatorSettings = DBReplicatorSettings(),
        metrics: NodeMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if settings.batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        super().__init__(
            ring, node, client, settings, metrics=metrics, clock=clock, wall_clock=wall_clock
        )
        self.devices = devices
        self.databases = databases
        self.settings = settings
        self._generation: int | None = None

    async def _run_once(self) -> DBReplicationReport:
        ring = self.ring()
        if ring.generation != self._generation:
            log.info("replicating databases by ring generation %d", ring.generation)
            self._generation = ring.generation
        started = self.clock()
        report = DBReplicationReport()
        reclaim_before = int((self._wall_clock() - self.settings.reclaim_age) * 1e9)
        run = _Pass(self, ring, report, reclaim_before)
        devices = self.devices()
        found = await asyncio.to_thread(lambda: list(self.databases.local(devices)))
        jobs = iter(found)
        await asyncio.gather(*(run.work(jobs) for _ in range(max(1, self.settings.concurrency))))
        report.seconds = self.clock() - started
        log.info("database replication pass done in %.1fs: %s", report.seconds, report.counts())
        if self.metrics is not None:
            self.metrics.db_passes.inc()
            self.metrics.db_last_pass.set(self._wall_clock())
        return report


class _Pass:
    def __init__(
        self, replicator: DBReplicator, ring: Ring, report: DBReplicationReport, reclaim_before: int
    ) -> None:
        self.replicator = replicator
        self.ring = ring
        self.report = report
        self.reclaim_before = reclaim_before
        self.client = replicator.client
        self.metrics = replicator.metrics

    def failed(self, what: str, exc: object) -> None:
        self.report.failures += 1
        if self.metrics is not None:
            self.metrics.db_failures.inc()
        log.warning("database replication: %s: %s", what, exc)

    async def work(self, jobs: Iterator[LocalDB]) -> None:
        """Take database replicas from the shared ``jobs`` until none is left."""
        for found in jobs:
            self.report.databases += 1
            try:
                await self.database(found)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("replicating %s", _describe(found))
                self.failed(_describe(found), exc)

    async def database(self, found: LocalDB) -> None:
        databases = self.replicator.databases
        db = await asyncio.to_thread(
            databases.get, found.device, found.partition, found.name, create=False, pin=True
        )
        if db is None:  # removed since it was listed
            return
        try:
            await self._replicate(db, found)
        finally:
            databases.unpin(found.device, found.partition, found.name)

    async def _replicate(self, db: ReplicatedDB, found: LocalDB) -> None:
        databases = self.replicator.databases
        partition = self.ring.partition(found.name)
        primaries = self.ring.primaries(partition)
        node = self.replicator.node
        here = found.partition == partition and any(
            d.node == node and d.device == found.device for d in primaries
        )
        started = await asyncio.to_thread(db.last_change)
        targets = [
            Placement(d.node, d.device, partition)
            for d in primaries
            if not (here and d.node == node and d.device == found.device)
        ]
        synced = [await self.push(db, found.name, target) for target in targets]
        if here:
            if all(synced):
                await self.reclaim(db, found)
            return
        if not all(synced):
            log.info(
                "keeping %s: %d of %d primaries not in sync",
                _describe(found),
                synced.count(False),
                len(synced),
            )
            return
        # On the event loop, not in a thread: the node's handlers merge on the loop too, so no
        # merge can land between the check and the removal.
        if _remove_if_unchanged(databases, found, db, started):
            self.report.handoffs_removed += 1
            if self.metrics is not None:
                self.metrics.db_handoffs_reverted.inc()
            log.info("%s handed to its primaries and removed here", _describe(found))
        else:
            log.info("keeping %s: rows arrived while it was pushed", _describe(found))

    async def push(self, db: ReplicatedDB, name: str, where: Placement) -> bool:
        """Send ``where`` every row of ``db`` it was not sent yet; False when that failed."""
        try:
            await self._push(db, name, where)
        except (NodeUnavailable, DatabaseMissing) as exc:
            self.failed(f"pushing {name} to {where.node}/{where.device}", exc)
            return False
        return True

    async def _push(self, db: ReplicatedDB, name: str, where: Placement) -> None:
        peer_id = await self._peer_id(where, name)
        point = (
            0 if peer_id is None else await asyncio.to_thread(db.sync_point, _key(where, peer_id))
        )
        target = await asyncio.to_thread(db.last_change)
        if peer_id is not None and point >= target:
            return  # up to date
        batch_rows = self.replicator.settings.batch_rows
        while True:
            batch, upto = await asyncio.to_thread(db.rows_since, point, batch_rows)
            if batch or peer_id is None:  # an empty merge still creates a missing replica
                await self.client.db_call(where, name, DbOp.MERGE, {"rows": batch})
                pushed = sum(len(found) for found in batch.values())
                self.report.rows_pushed += pushed
                if self.metrics is not None:
                    self.metrics.db_rows_pushed.inc(pushed)
            if peer_id is None:
                peer_id = await self._peer_id(where, name)
                if peer_id is None:
                    raise DatabaseMissing(f"{where.node} has no replica of {name} after a merge")
            await asyncio.to_thread(db.set_sync_point, _key(where, peer_id), upto)
            point = upto
            if upto >= target:
                break
        self.report.peers_synced += 1

    async def _peer_id(self, where: Placement, name: str) -> str | None:
        """The id of the peer's replica; None when it has none yet."""
        try:
            found = await self.client.db_call(where, name, DbOp.REPLICA_ID, {})
        except DatabaseMissing:
            return None
        if not isinstance(found, str) or not found:
            raise NodeUnavailable(f"{where.node}: replica id of {name} is not a string")
        return found

    async def reclaim(self, db: ReplicatedDB, found: LocalDB) -> None:
        reclaimed = await asyncio.to_thread(db.reclaim, self.reclaim_before)
        if reclaimed:
            self.report.rows_reclaimed += reclaimed
            log.info("reclaimed %d deletion rows of %s", reclaimed, _describe(found))


def _key(where: Placement, replica_id: str) -> str:
    """The sync point name of one peer replica."""
    return f"{where.node}/{where.device}/{replica_id}"


def _describe(found: LocalDB) -> str:
    return f"{found.name} on {found.device} partition {found.partition}"


def _remove_if_unchanged(
    databases: Databases, found: LocalDB, db: ReplicatedDB, pushed_upto: int
) -> bool:
    """Remove the replica unless rows arrived after ``pushed_upto``, the change every primary
    was sent up to. Called on the event loop, between two requests of the node."""
    if db.last_change() != pushed_upto:
        return False
    databases.remove(found)
    return True
