"""Calls from a gateway to the replicas of one database (a catalog or a bucket index).

A database is placed by the ring like a blob of its name. Writes (``merge``) go to every primary
at once, a handoff standing in for each primary that cannot be reached, and succeed once
``replicas // 2 + 1`` replicas took the rows. ``read_all`` asks that many primaries (others,
then handoffs, standing in for any that fail), so a read overlaps every acknowledged write;
``read_one`` asks replicas in order until one has the database (listings: Swift's choice,
eventually consistent).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from nimbus_storage.cluster.quorum import RingSource, majority, placements
from nimbus_storage.meta.replicated_db import RowBatch
from nimbus_storage.protocol.client import DatabaseMissing, NodeClient, NodeUnavailable, Placement
from nimbus_storage.protocol.db_ops import DbOp
from nimbus_storage.storage_errors import StorageUnavailable

MISSING = object()  # a replica that answered that it has no copy of the database
# Writes still on their way to the replicas beyond the quorum (kept referenced until done).
_BACKGROUND: set[asyncio.Future[Any]] = set()


class DatabaseReplicas:
    def __init__(self, rings: RingSource, client: NodeClient) -> None:
        self.rings = rings
        self.client = client

    def quorum(self) -> int:
        return majority(self.rings.current().replicas)

    async def write(self, name: str, batch: RowBatch) -> dict[str, list[tuple[Any, ...]]]:
        """Merge ``batch`` into a quorum of replicas; the garbage any of them reported (rows as
        they travel: ``rows.rows_of`` types them).

        Returns as soon as a quorum took the rows; the other replicas' merges go on in the
        background (the database replicator makes up for any that fail).
        """
        args = {"rows": {table: [list(r) for r in found] for table, found in batch.items()}}
        answers = await self._fan_out(name, DbOp.MERGE, args, write=True)
        garbage: dict[str, list[tuple[Any, ...]]] = {}
        for answer in answers:
            if not isinstance(answer, dict):
                continue
            for table, found in answer.items():
                known = garbage.setdefault(table, [])
                known.extend(tuple(r) for r in found if tuple(r) not in known)
        return garbage

    async def read_all(
        self, name: str, op: DbOp, args: Mapping[str, Any], *, degraded: bool = False
    ) -> list[Any]:
        """The answers of a quorum of replicas, MISSING for a replica without the database.

        Fewer than a quorum: StorageUnavailable, unless ``degraded``, which settles for any one
        answer (a read for a client while most replicas are down: possibly stale, as Swift
        would serve).
        """
        return await self._fan_out(name, op, args, write=False, degraded=degraded)

    async def claim(self, name: str, op: DbOp, args: Mapping[str, Any]) -> list[Any]:
        """A conditional write (``claim_upload``) on every primary, waiting for every answer:
        of racing claimers, only one can win on a quorum of replicas."""
        return await self._fan_out(name, op, args, write=True, wait_all=True)

    async def read_one(self, name: str, op: DbOp, args: Mapping[str, Any]) -> Any:
        """The answer of the first replica holding the database; MISSING when none does."""
        ring = self.rings.current()
        primaries, handoffs = placements(ring, name)
        unreachable = 0
        for where in [*primaries, *itertools.islice(handoffs, ring.replicas)]:
            try:
                return await self.client.db_call(where, name, op, args)
            except DatabaseMissing:
                continue
            except NodeUnavailable:
                unreachable += 1
        if unreachable >= ring.replicas:
            raise StorageUnavailable(f"No replica of {name} could be reached.")
        return MISSING

    async def _fan_out(
        self,
        name: str,
        op: DbOp,
        args: Mapping[str, Any],
        *,
        write: bool,
        degraded: bool = False,
        wait_all: bool = False,
    ) -> list[Any]:
        """Ask the primaries (a stand-in for each that fails) and return once a quorum
        answered (``wait_all``: once all did); stragglers are cancelled (reads) or left to
        finish (writes)."""
        ring = self.rings.current()
        primaries, handoffs = placements(ring, name)
        needed = majority(ring.replicas)
        # A write goes to every primary; a read to a quorum of them (it overlaps every write
        # quorum), the other primaries and then handoffs standing in for any that fail.
        first = primaries if write else primaries[:needed]
        missing_is_answer = not write or wait_all
        spares = _Spares(
            itertools.chain(primaries[len(first) :], itertools.islice(handoffs, ring.replicas))
        )
        pending = {
            asyncio.ensure_future(self._one(where, spares, name, op, args, missing_is_answer))
            for where in first
        }
        answers: list[Any] = []
        try:
            while pending and (wait_all or len(answers) < needed):
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                answers += [t.result() for t in done if t.result() is not None]
        finally:
            for task in pending:
                if write:
                    _BACKGROUND.add(task)
                    task.add_done_callback(_BACKGROUND.discard)
                else:
                    task.cancel()
        if len(answers) < needed and not (degraded and answers):
            raise StorageUnavailable(
                f"Not enough storage nodes answered for {name}: {len(answers)} of"
                f" {ring.replicas} replicas, {needed} needed."
            )
        return answers

    async def _one(  # noqa: PLR0917 - one slot of the fan-out
        self,
        where: Placement,
        spares: _Spares,
        name: str,
        op: DbOp,
        args: Mapping[str, Any],
        missing_is_answer: bool,
    ) -> Any:
        """The answer of ``where``, or of the next spare handoff if it cannot be reached."""
        candidate: Placement | None = where
        while candidate is not None:
            try:
                return await self.client.db_call(candidate, name, op, args)
            except DatabaseMissing:
                if missing_is_answer:
                    return MISSING
                candidate = spares.take()
            except NodeUnavailable:
                candidate = spares.take()
        return None


class _Spares:
    """Stand-ins shared by the slots of one fan-out, each given out once."""

    def __init__(self, spares: Iterator[Placement]) -> None:
        self._spares = spares

    def take(self) -> Placement | None:
        return next(self._spares, None)
