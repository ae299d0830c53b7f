"""The user's Secrets the gateways wait for (the SSE key store, the TLS certificate): a problem
with one is the store's Ready=False condition and a Warning Event when it begins or changes;
a Normal Event when it ends. A resync that finds the same problem says nothing again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Event = tuple[str, str, str]


@dataclass(frozen=True)
class SecretProblem:
    """Why the gateways cannot have a Secret they mount: a condition's reason and message."""

    secret: str
    reason: str
    message: str


@dataclass(frozen=True)
class WatchedSecret:
    """A Secret the store's spec names (``name`` None: it names none), the reasons its
    problems are reported with, and the Normal Event said once they are over."""

    name: str | None
    reasons: tuple[str, ...]
    found_reason: str
    found_message: str


def secret_events(
    problem: SecretProblem | None,
    previous_conditions: Iterable[Mapping[str, Any]],
    watched: Sequence[WatchedSecret],
) -> list[Event]:
    """A Warning when ``problem`` (the one the Ready condition now shows) begins or changes, a
    Normal Event when the one the last status showed is over; nothing when the last status
    already said the same."""
    ready = next((c for c in previous_conditions if c.get("type") == "Ready"), {})
    previous = ready.get("reason") if ready.get("status") == "False" else None
    if problem is not None:
        if previous == problem.reason and ready.get("message") == problem.message:
            return []
        return [("Warning", problem.reason, problem.message)]
    for secret in watched:
        if secret.name is not None and previous in secret.reasons:
            return [("Normal", secret.found_reason, secret.found_message)]
    return []
