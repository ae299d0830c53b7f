"""Background passes (replication, reconstruction, auditing) started every ``interval``
seconds, and what the node's peer-talking jobs share (``PassRunner``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import ClassVar, Generic, Protocol, TypeVar

from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.protocol.client import NodeClient
from nimbus_storage.ring import Ring

Report = TypeVar("Report")


async def every(interval: float, one_pass: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``one_pass`` and start the next ``interval`` seconds after the last one started,
    until cancelled; a pass that fails is logged (to the ``nimbus.node`` logger) and the next
    one runs on time."""
    log = logging.getLogger("nimbus.node")
    while True:
        started = time.monotonic()
        try:
            await one_pass()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s pass failed", what)
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


class PassSettings(Protocol):
    @property
    def interval(self) -> float: ...


class PassRunner(Generic[Report]):
    """A node's job that makes passes by the ring, talking to its peers (the replicator, the
    database replicator, the reconstructor): one pass at a time (asking for one while one runs
    waits for it), one every ``settings.interval`` seconds. ``client`` is owned: ``close``
    closes it."""

    what: ClassVar[str] = "background"  # names the job's passes in logs

    def __init__(
        self,
        ring: Callable[[], Ring],
        node: str,
        client: NodeClient,
        settings: PassSettings,
        *,
        metrics: NodeMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.ring = ring
        self.node = node
        self.client = client
        self.metrics = metrics
        self.clock = clock
        self._wall_clock = wall_clock
        self._one_pass = asyncio.Lock()
        self._interval = settings.interval

    async def close(self) -> None:
        await self.client.close()

    async def run_once(self) -> Report:
        """One pass over everything local; waits for a pass already running."""
        async with self._one_pass:
            return await self._run_once()

    async def run_forever(self) -> None:
        """Pass after pass, starting one every ``settings.interval`` seconds; until cancelled."""
        await every(self._interval, self.run_once, self.what)

    async def _run_once(self) -> Report:
        raise NotImplementedError
