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
from nimbus_operator.reconcilers.objectstore.secret_watch import pending_change
from nimbus_operator.reconcilers.status import failure_status

RESOURCE = (STORAGE_GROUP, API_VERSION, "objectstores")
_handled_changes: dict[str, str] = {}
"""Per store uid, the last mark of a changed Secret it was reconciled for (this process: a new
leader acts once on each mark it finds, which its resume handlers would do anyway)."""


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


def _secret_change_pending(body: kopf.Body, **_: Any) -> bool:
    handled = _handled_changes.get(str(body["metadata"]["uid"]))
    return pending_change(body, handled) is not None


@kopf.on.event(*RESOURCE, when=_secret_change_pending)
def object_store_secret_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """A Secret the store names was created, changed or deleted (`handlers.store_secrets`
    marked it): reconcile now. Marked as handled first, so a reconcile that must wait does not
    run again on its own status update; the resync retries it."""
    uid = str(body["metadata"]["uid"])
    mark = pending_change(body, _handled_changes.get(uid))
    if mark is None:
        return
    _handled_changes[uid] = mark
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
    _handled_changes.pop(str(metadata["uid"]), None)
    forget(body)
