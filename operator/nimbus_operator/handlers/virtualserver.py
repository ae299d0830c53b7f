"""kopf handlers of VirtualServer: every change and a steady resync reconcile it (KubeVirt's
state changes without the VirtualServer changing); deletion frees its quota."""

from __future__ import annotations

import time
from typing import Any

import kopf

from nimbus_operator.constants import API_VERSION, COMPUTE_GROUP
from nimbus_operator.handlers.runtime import forget, run_report
from nimbus_operator.reconcilers.compute.server import delete_server, reconcile_server
from nimbus_operator.reconcilers.context import kube, settings

RESOURCE = (COMPUTE_GROUP, API_VERSION, "virtualservers")
SETTLED: dict[str, tuple[str | None, str | None]] = {
    "ACTIVE": ("Running", "Running"),
    "SHUTOFF": ("Stopped", "Stopped"),
    "ERROR": (None, None),
}
"""Settled statuses: the powerState the spec must ask, and KubeVirt's printableStatus."""
SETTLED_RESYNC_SECONDS = 60.0
_last_full: dict[str, float] = {}
"""When each server was last reconciled in full (this process: a new leader starts afresh)."""


def _reconcile(body: kopf.Body, patch: kopf.Patch) -> None:
    run_report(
        body,
        patch,
        lambda current: reconcile_server(kube(), current),
        waiting_phase="Pending",
        phase_events=False,
    )
    _last_full[str(body["metadata"]["uid"])] = time.monotonic()


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
def virtual_server_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    if not body.get("metadata", {}).get("deletionTimestamp"):
        _reconcile(body, patch)


@kopf.timer(
    *RESOURCE,
    interval=settings().resync_seconds,
    initial_delay=settings().resync_seconds,
    idle=0,
)
def virtual_server_resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Follows KubeVirt's state changes: every resync while something is under way, about
    once a minute once the server is settled (thousands of them would otherwise keep the
    operator busy reading what has not changed)."""
    if body.get("metadata", {}).get("deletionTimestamp"):
        return
    last = _last_full.get(str(body["metadata"]["uid"]), 0.0)
    if _settled(body) and time.monotonic() - last < SETTLED_RESYNC_SECONDS:
        return
    _reconcile(body, patch)


def _settled(body: kopf.Body) -> bool:
    """Nothing under way: the status says what the spec asks, and KubeVirt agrees."""
    status = body.get("status") or {}
    wanted = (body.get("spec") or {}).get("powerState") or "Running"
    expected = SETTLED.get(str(status.get("status")))
    return (
        expected is not None
        and expected[0] in (wanted, None)
        and expected[1] in (status.get("vmStatus"), None)
        and not status.get("taskState")
        and status.get("observedGeneration") == body.get("metadata", {}).get("generation")
    )


@kopf.on.delete(*RESOURCE)
def virtual_server_deleted(body: kopf.Body, **_: Any) -> None:
    delete_server(kube(), dict(body))
    _last_full.pop(str(body["metadata"]["uid"]), None)
    forget(body)
