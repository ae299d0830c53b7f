"""Polling helper for end-to-end tests: wait for the cluster to converge, say what it saw."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client

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


def wait_for_event(core_v1: client.CoreV1Api, namespace: str, name: str, reason: str) -> Any:
    """The first Event with ``reason`` about the object ``name`` in ``namespace``, once there
    is one."""
    events = wait_until(
        lambda: (
            (
                core_v1.list_namespaced_event(
                    namespace, field_selector=f"involvedObject.name={name}"
                )
            ).items
        ),
        lambda found: any(event.reason == reason for event in found),
        f"a {reason} Event about {name}",
    )
    return next(event for event in events if event.reason == reason)
