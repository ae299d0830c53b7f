"""What every handler shares: per-object locks, and the one place the operator's errors become
kopf's (and statuses a person can act on)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import kopf

from nimbus_operator import metrics
from nimbus_operator.errors import InvalidSpec, NimbusError, RetryLater
from nimbus_operator.models.errors import SpecError
from nimbus_operator.reconcilers.status import (
    ConditionTuple,
    Report,
    failure_status,
    status_body,
)

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@contextmanager
def object_lock(uid: str) -> Iterator[None]:
    """One reconcile of an object at a time (a timer and a change handler may overlap)."""
    with _locks_guard:
        lock = _locks.setdefault(uid, threading.Lock())
    with lock:
        yield


def generation(body: kopf.Body) -> int:
    return int(body.get("metadata", {}).get("generation") or 0)


def publish(patch: kopf.Patch, status: dict[str, Any]) -> None:
    for key, value in status.items():
        patch.status[key] = value


def run_reconcile(
    body: kopf.Body,
    patch: kopf.Patch,
    reconcile: Callable[[], dict[str, Any]],
    *,
    waiting_phase: str = "Progressing",
    phase_events: bool = True,
) -> None:
    """Run ``reconcile`` (which returns the status to publish); bad specs and refusals become
    Ready=False with the reason, transient failures a retry (status says why meanwhile).
    ``phase_events``: post an Event when the phase changes (kinds whose reconcile posts
    finer-grained Events of their own turn it off)."""
    previous = dict(body.get("status") or {})
    uid = str(body["metadata"]["uid"])
    with metrics.reconciling(str(body.get("kind", "unknown")), uid) as outcome:
        try:
            with object_lock(uid):
                status = reconcile()
        except SpecError as error:
            outcome[0] = "invalid"
            publish(patch, failure_status(previous, generation(body), "InvalidSpec", str(error)))
            _announce(body, previous, "Warning", "InvalidSpec", str(error))
            return
        except InvalidSpec as error:
            outcome[0] = "invalid"
            publish(patch, failure_status(previous, generation(body), error.reason, str(error)))
            _announce(body, previous, "Warning", error.reason, str(error))
            return
        except RetryLater as error:
            outcome[0] = "retry"
            waiting = failure_status(
                previous, generation(body), error.reason, str(error), phase=waiting_phase
            )
            publish(patch, waiting)
            raise kopf.TemporaryError(str(error), delay=error.delay) from error
        except NimbusError as error:
            raise kopf.TemporaryError(str(error), delay=10) from error
        outcome[0] = "ok"
    publish(patch, status)
    if phase_events and status.get("phase") != previous.get("phase"):
        kopf.info(body, reason=f"Phase{status.get('phase')}", message=_ready_message(status))


def forget(body: kopf.Body) -> None:
    """A deletion handler has finished: the object is no longer the operator's."""
    uid = str(body["metadata"]["uid"])
    metrics.forget(uid)
    with _locks_guard:
        _locks.pop(uid, None)


def run_report(
    body: kopf.Body,
    patch: kopf.Patch,
    reconcile: Callable[[dict[str, Any]], Report],
    *,
    waiting_phase: str = "Progressing",
    phase_events: bool = True,
) -> None:
    """``run_reconcile`` of a reconciler that returns a ``Report``: its Events are posted and
    its phase, conditions and fields become the status."""

    def work() -> dict[str, Any]:
        report = reconcile(dict(body))
        return report_status(
            body,
            phase=report.phase,
            conditions=report.conditions,
            fields=report.fields,
            events=report.events,
        )

    run_reconcile(body, patch, work, waiting_phase=waiting_phase, phase_events=phase_events)


Event = tuple[str, str, str]
"""(type, reason, message)"""


def post_events(body: kopf.Body, events: Iterable[Event]) -> None:
    for kind, reason, message in events:
        kopf.event(body, type=kind, reason=reason, message=message)


def report_status(
    body: kopf.Body,
    *,
    phase: str,
    conditions: Iterable[ConditionTuple],
    fields: dict[str, Any],
    events: Iterable[Event] = (),
) -> dict[str, Any]:
    """What every kind's reconcile ends with: post its Events, build the status to publish."""
    post_events(body, events)
    return status_body(
        dict(body.get("status") or {}),
        phase=phase,
        generation=generation(body),
        conditions=conditions,
        fields=fields,
    )


def _ready_message(status: dict[str, Any]) -> str:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("message"))
    return str(status.get("phase"))


def _announce(
    body: kopf.Body, previous: dict[str, Any], kind: str, reason: str, message: str
) -> None:
    """An Event only when the message is new (a timer must not repeat it every pass)."""
    for condition in previous.get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("message") == message:
            return
    kopf.event(body, type=kind, reason=reason, message=message)
