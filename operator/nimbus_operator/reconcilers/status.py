"""Status as every kind reports it: phase, observedGeneration, conditions, kind fields.

A condition keeps its lastTransitionTime while its status stays the same (only the message
and reason may change), as Kubernetes conventions ask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ConditionTuple = tuple[str, bool, str, str]
"""(type, holds, reason, message)"""

Event = tuple[str, str, str]
"""(type, reason, message), as kopf.event takes them."""


@dataclass
class Report:
    """What a reconcile found, for its handler to publish: status fields, conditions, Events."""

    phase: str
    fields: dict[str, Any]
    conditions: list[ConditionTuple]
    events: list[Event] = field(default_factory=list)


def ready(message: str, reason: str = "Ready") -> list[ConditionTuple]:
    """The conditions of an object with nothing left to do."""
    return [("Ready", True, reason, message), ("Progressing", False, reason, "Nothing left to do.")]


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    previous: Iterable[Mapping[str, Any]], current: Iterable[ConditionTuple], generation: int
) -> list[dict[str, Any]]:
    before = {str(item.get("type")): item for item in previous}
    merged = []
    for kind, holds, reason, message in current:
        status = "True" if holds else "False"
        old = before.get(kind)
        since = old.get("lastTransitionTime") if old and old.get("status") == status else None
        merged.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": since or now_text(),
                "observedGeneration": generation,
            }
        )
    return merged


def status_body(
    previous: Mapping[str, Any],
    *,
    phase: str,
    generation: int,
    conditions: Iterable[ConditionTuple],
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole status to publish (fields the reconciler did not compute are left as they
    were: a status patch merges)."""
    body: dict[str, Any] = dict(fields or {})
    body["phase"] = phase
    body["observedGeneration"] = generation
    body["conditions"] = merge_conditions(previous.get("conditions") or [], conditions, generation)
    return body


def failure_status(
    previous: Mapping[str, Any], generation: int, reason: str, message: str, phase: str = "Failed"
) -> dict[str, Any]:
    """Ready=False with what the user must change (a bad spec, a refused request)."""
    return status_body(
        previous,
        phase=phase,
        generation=generation,
        conditions=[
            ("Ready", False, reason, message),
            ("Progressing", False, reason, "Waiting for the spec to be fixed."),
        ],
    )
