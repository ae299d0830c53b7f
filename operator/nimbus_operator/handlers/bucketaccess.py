"""kopf handlers of BucketAccess: parse, call the reconciler, publish status and Events.

A change of spec or of the rotate annotation (storage.nimbus.dev/rotate) reconciles at once;
a slow timer resyncs, and a fast one revokes a rotated-out key once its grace period is over;
deletion revokes every key.
readyToUse and error (COSI's fields) always follow the Ready condition.
"""

from __future__ import annotations

from typing import Any

import kopf

from nimbus_operator.constants import API_VERSION, STORAGE_GROUP
from nimbus_operator.errors import NimbusError, RetryLater
from nimbus_operator.handlers.runtime import (
    forget,
    generation,
    post_events,
    publish,
    run_report,
)
from nimbus_operator.reconcilers.bucket import slow_resync_seconds
from nimbus_operator.reconcilers.bucketaccess import (
    readiness,
    reconcile_access,
    revoke_access,
    rotation_pending,
)
from nimbus_operator.reconcilers.context import kube, settings
from nimbus_operator.reconcilers.status import failure_status

RESOURCE = (STORAGE_GROUP, API_VERSION, "bucketaccesses")


def _reconcile(body: kopf.Body, patch: kopf.Patch) -> None:
    try:
        run_report(  # waiting_phase: the phases a BucketAccess has
            body, patch, lambda current: reconcile_access(kube(), current), waiting_phase="Pending"
        )
    finally:
        publish(patch, readiness(dict(patch.status)))


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
def bucket_access_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    _reconcile(body, patch)


@kopf.on.event(*RESOURCE)
def bucket_access_rotation_requested(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """A new value of the rotate annotation asks for a new key now. (kopf's change detection
    cannot see it: its progress storage ignores every storage.nimbus.dev/ annotation, so the
    raw events are watched for a wanted key that differs from status.accessKeyId.)"""
    if rotation_pending(dict(body)):
        _reconcile(body, patch)


@kopf.timer(*RESOURCE, interval=slow_resync_seconds(settings()), initial_delay=2, idle=0)
def bucket_access_resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Level-based resync: Buckets that changed, keys changed in the store."""
    if body.get("metadata", {}).get("deletionTimestamp"):
        return
    _reconcile(body, patch)


def _previous_key_pending(body: kopf.Body, **_: Any) -> bool:
    return bool((body.get("status") or {}).get("previousAccessKeyId"))


@kopf.timer(
    *RESOURCE,
    interval=settings().resync_seconds,
    initial_delay=1,
    idle=0,
    when=_previous_key_pending,
)
def bucket_access_grace_over(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """While a rotated-out key awaits its revocation: check on it every resync period."""
    if body.get("metadata", {}).get("deletionTimestamp"):
        return
    _reconcile(body, patch)


@kopf.on.delete(*RESOURCE)
def bucket_access_deleted(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Revoke every key of the BucketAccess (its Secrets go with it: they are owned)."""
    try:
        events = revoke_access(kube(), dict(body))
    except NimbusError as error:
        message = f"Cannot revoke the access keys yet: {error}"
        previous = dict(body.get("status") or {})
        failed = failure_status(previous, generation(body), error.reason, message, "Deleting")
        publish(patch, failed | readiness(failed))
        delay = error.delay if isinstance(error, RetryLater) else 10.0
        raise kopf.TemporaryError(message, delay=delay) from error
    post_events(body, events)
    forget(body)
