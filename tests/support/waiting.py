"""Waiting on a cluster without luck: poll a condition until a deadline derived from what the
cluster is configured to do (its timeouts, its replication interval and rate).

A deadline here is a bound for a broken cluster, never a wait: ``poll`` returns as soon as the
condition holds. What the configuration promises is multiplied by ``SLACK``, because a busy
machine (a full ``make test``, CPU burners beside the probes) runs every process slower than its
configuration says; set ``NIMBUS_TEST_SLACK`` to widen it further.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

SLACK = float(os.environ.get("NIMBUS_TEST_SLACK", "4"))
"""How many times its configured time a step may take on a busy machine."""

POLL_EVERY = 0.1
"""Seconds between two looks at a condition (not a wait for anything to happen)."""


def budget(configured: float, *, floor: float = 5.0) -> float:
    """The deadline for a step the configuration says takes ``configured`` seconds: ``SLACK``
    times it, and never less than ``floor`` (a process's own start-up, a scheduler's hiccup)."""
    return max(floor, SLACK * configured)


@dataclass(frozen=True)
class Polled(Generic[T]):
    value: T  # what the last look saw
    met: bool  # whether it met the condition before the deadline
    seconds: float  # from the first look to the last


def poll(
    look: Callable[[], T],
    done: Callable[[T], bool],
    *,
    within: float,
    every: float = POLL_EVERY,
) -> Polled[T]:
    """Call ``look`` until ``done`` holds for what it returns, or ``within`` seconds passed
    (at least one look, and one more at the deadline)."""
    started = time.monotonic()
    deadline = started + within
    while True:
        value = look()
        now = time.monotonic()
        if done(value):
            return Polled(value, True, now - started)
        if now >= deadline:
            return Polled(value, False, now - started)
        time.sleep(min(every, deadline - now))


def wait_for(condition: Callable[[], bool], *, within: float, what: str) -> float:
    """Poll ``condition`` until it holds; the seconds it took. Fails naming ``what`` (and the
    deadline) when it never does."""
    polled = poll(condition, bool, within=within)
    assert polled.met, f"{what}: not within {within:.1f} s"
    return polled.seconds
