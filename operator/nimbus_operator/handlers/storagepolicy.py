"""kopf handlers of StoragePolicy (cluster-scoped)."""

from __future__ import annotations

from typing import Any

import kopf

from nimbus_operator.constants import API_VERSION, STORAGE_GROUP
from nimbus_operator.handlers.runtime import (
    forget,
    generation,
    publish,
    report_status,
    run_reconcile,
)
from nimbus_operator.reconcilers.context import kube
from nimbus_operator.reconcilers.status import failure_status
from nimbus_operator.reconcilers.storagepolicy import reconcile_policy, users

RESOURCE = (STORAGE_GROUP, API_VERSION, "storagepolicies")


def _reconcile(body: kopf.Body, patch: kopf.Patch) -> None:
    def work() -> dict[str, Any]:
        report = reconcile_policy(kube(), dict(body))
        return report_status(
            body, phase=report.phase, conditions=report.conditions, fields=report.fields
        )

    run_reconcile(body, patch, work, waiting_phase="Pending")  # the phases a policy has


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
def storage_policy_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    _reconcile(body, patch)


@kopf.timer(*RESOURCE, interval=30, initial_delay=5, idle=0)
def storage_policy_resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Keeps inUseBy current and lets a second default become valid once the first is gone."""
    if not body.get("metadata", {}).get("deletionTimestamp"):
        _reconcile(body, patch)


@kopf.on.delete(*RESOURCE)
def storage_policy_deleted(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    name = body["metadata"]["name"]
    in_use = users(kube(), name)
    if in_use:
        message = (
            f"StoragePolicy {name} holds the data of Buckets {', '.join(in_use)}: delete them "
            "first (a policy cannot change under a bucket)"
        )
        publish(
            patch,
            failure_status(
                dict(body.get("status") or {}), generation(body), "InUse", message, "Deleting"
            ),
        )
        raise kopf.TemporaryError(message, delay=15)
    forget(body)
