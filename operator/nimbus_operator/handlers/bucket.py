"""kopf handlers of Bucket: parse, call the reconciler, publish status and Events.

A timer resyncs every Bucket (usage, a store that came up, drift in the store), at most once a
minute (`slow_resync_seconds`: there may be thousands); deletion runs the finalizer's clean-up
(`reconcilers.bucket.delete_bucket`) and is retried while the store cannot be reached.
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
from nimbus_operator.reconcilers.bucket import (
    delete_bucket,
    reconcile_bucket,
    slow_resync_seconds,
)
from nimbus_operator.reconcilers.context import kube, settings
from nimbus_operator.reconcilers.status import failure_status

RESOURCE = (STORAGE_GROUP, API_VERSION, "buckets")


def _reconcile(body: kopf.Body, patch: kopf.Patch) -> None:
    # waiting_phase: the phases a Bucket has.
    run_report(
        body, patch, lambda current: reconcile_bucket(kube(), current), waiting_phase="Pending"
    )


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
def bucket_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    _reconcile(body, patch)


@kopf.timer(*RESOURCE, interval=slow_resync_seconds(settings()), initial_delay=2, idle=0)
def bucket_resync(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """Level-based resync: usage, a store that became ready, settings changed in the store."""
    if body.get("metadata", {}).get("deletionTimestamp"):
        return
    _reconcile(body, patch)


@kopf.on.delete(*RESOURCE)
def bucket_deleted(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    """deletionPolicy Delete removes the bucket and its objects, Retain keeps them; the owner
    key is revoked. While the store cannot be reached, the Bucket stays (status says why)."""
    try:
        events = delete_bucket(kube(), dict(body))
    except NimbusError as error:
        message = f"Cannot clean the bucket up yet: {error}"
        previous = dict(body.get("status") or {})
        publish(
            patch, failure_status(previous, generation(body), error.reason, message, "Deleting")
        )
        delay = error.delay if isinstance(error, RetryLater) else 10.0
        raise kopf.TemporaryError(message, delay=delay) from error
    post_events(body, events)
    forget(body)
