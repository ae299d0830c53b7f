"""Polling helper for end-to-end tests: wait for the cluster to converge, say what it saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.25


def wait_until(
    observe: Callable[[], T],
    done: Callable[[T], bool],
    what: str,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> T:
    """Call ``observe`` until ``done(observation)``; on timeout fail with the last observation."""
    deadline = time.monotonic() + timeout
    while True:
        observation = observe()
        if done(observation):
            return observation
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what}; last saw: {observation!r}"
            )
        time.sleep(POLL_SECONDS)
