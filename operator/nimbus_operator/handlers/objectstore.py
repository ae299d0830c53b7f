"""kopf handlers of ObjectStore: parse, call the reconciler, publish status and Events."""

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
from nimbus_operator.reconcilers.context import kube, settings
from nimbus_operator.reconcilers.objectstore import reconcile_store
from nimbus_operator.reconcilers.objectstore.deletion import blocking_buckets
from nimbus_operator.reconcilers.status import failure_status

RESOURCE = (STORAGE_GROUP, API_VERSION, "objectstores")


def _reconcile(body: kopf.Body, patch: kopf.Patch) -> None:
    def work() -> dict[str, Any]:
        _design, report = reconcile_store(kube(), dict(body), settings())
        return report_status(
            body,
            phase=report.phase,
            conditions=report.conditions,
            fields=report.fields,
            events=report.events,
        )

    run_reconcile(body, patch, work)


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
def object_store_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    _reconcile(body, patch)


@kopf.timer(*RESOURCE, interval=settings().resync_seconds, initial_delay=2, idle=0)
def object_store_resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Level-based resync: pods scheduled, nodes ready, usage — all converge here."""
    if body.get("metadata", {}).get("deletionTimestamp"):
        return
    _reconcile(body, patch)


@kopf.on.delete(*RESOURCE)
def object_store_deleted(body: kopf.Body, spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
    """Refuse while Buckets live in the store, unless spec.forceDelete; owned objects (nodes,
    gateways, rings, Secret) then go by garbage collection, the volumes stay (Retain)."""
    metadata = body["metadata"]
    blockers = blocking_buckets(kube(), metadata["namespace"], metadata["name"])
    if blockers and not spec.get("forceDelete"):
        message = (
            f"ObjectStore {metadata['name']} still holds Buckets {', '.join(blockers)}: delete "
            "them first, or set spec.forceDelete: true to delete the store with their data"
        )
        previous = dict(body.get("status") or {})
        publish(
            patch, failure_status(previous, generation(body), "BucketsRemain", message, "Deleting")
        )
        raise kopf.TemporaryError(message, delay=10)
    forget(body)
