"""Background passes (replication, auditing) started every ``interval`` seconds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable


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
