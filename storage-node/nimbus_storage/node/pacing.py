"""Rate limits for background work: spend units, sleep when ahead of the allowed rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Pacer:
    """Keeps a long-running loop at or under ``per_second`` units (0 or less: unlimited).

    Each ``spend`` pushes a "paid until" time forward by ``amount / per_second``; when that
    time is ahead of the clock the caller sleeps the difference. Idle time is not banked
    beyond ``burst`` seconds, so a loop that paused does not then run flat out.
    """

    def __init__(
        self,
        per_second: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.per_second = per_second
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._paid_until = clock()

    async def spend(self, amount: float) -> None:
        if self.per_second <= 0 or amount <= 0:
            return
        now = self._clock()
        self._paid_until = max(self._paid_until, now - self._burst) + amount / self.per_second
        if self._paid_until > now:
            await self._sleep(self._paid_until - now)
