"""kopf handlers of VirtualServer: every change and a steady resync reconcile it (KubeVirt's
state changes without the VirtualServer changing); deletion frees its quota."""

from __future__ import annotations

from typing import Any

import kopf

from nimbus_operator.constants import API_VERSION, COMPUTE_GROUP
from nimbus_operator.handlers.runtime import forget, report_status, run_reconcile
from nimbus_operator.reconcilers.compute.server import delete_server, reconcile_server
from nimbus_operator.reconcilers.context import kube, settings

RESOURCE = (COMPUTE_GROUP, API_VERSION, "virtualservers")


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
@kopf.timer(*RESOURCE, interval=settings().resync_seconds, initial_delay=1, idle=0)
def virtual_server_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    if body.get("metadata", {}).get("deletionTimestamp"):
        return

    def work() -> dict[str, Any]:
        report = reconcile_server(kube(), dict(body))
        return report_status(
            body,
            phase=report.phase,
            conditions=report.conditions,
            fields=report.fields,
            events=report.events,
        )

    run_reconcile(body, patch, work, waiting_phase="Pending")


@kopf.on.delete(*RESOURCE)
def virtual_server_deleted(body: kopf.Body, **_: Any) -> None:
    delete_server(kube(), dict(body))
    forget(body)
