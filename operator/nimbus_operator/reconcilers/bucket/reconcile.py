"""Reconcile one Bucket: read the world, converge it, report what is.

Steps (each idempotent, so a reconcile killed midway is finished by the next): find the store
(it must exist, admit the Bucket's namespace and serve S3); choose the S3 name (refused if an
older Bucket of the namespace holds it); create or update the bucket through the admin API,
owned by the namespace's key for that name (refused if another key owns it); its lifecycle
rules through S3; the ConfigMap for apps; the owner Secret when asked for.
"""

from __future__ import annotations

from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.models.bucket import Bucket
from nimbus_operator.reconcilers.bucket.in_store import (
    BucketInStore,
    ensure_bucket,
    ensure_lifecycle,
)
from nimbus_operator.reconcilers.bucket.naming import s3_name, store_of
from nimbus_operator.reconcilers.bucket.owned import apply_owned
from nimbus_operator.reconcilers.bucket.owner_secret import sync_owner_secret
from nimbus_operator.reconcilers.bucket.report import Connect, Event, Report, connect
from nimbus_operator.reconcilers.bucket.store_access import StoreAccess, find_store
from nimbus_operator.reconcilers.status import ConditionTuple
from nimbus_operator.render.bucket_names import owner_access_key
from nimbus_operator.render.bucket_objects import Owner, build_bucket_configmap


def reconcile_bucket(kube: Kube, body: dict[str, Any], connect: Connect = connect) -> Report:
    bucket = Bucket.from_body(body)
    namespace = str(bucket.metadata.namespace)
    previous = body.get("status") or {}
    store_namespace, store_name = store_of(body)
    store = find_store(kube, store_namespace, store_name, namespace)
    name = s3_name(body)
    owner_key = owner_access_key(namespace, name)
    clients = connect(store)
    in_store = ensure_bucket(
        kube,
        clients,
        store,
        body,
        spec=bucket.spec,
        name=name,
        owner=owner_key,
        first_claim=previous.get("bucketName") != name,
    )
    lifecycle_changed = ensure_lifecycle(clients, bucket.spec, name)
    owner = Owner("Bucket", bucket.metadata.name, namespace, str(bucket.metadata.uid))
    location = store.location(name)
    configmap = bucket.metadata.name
    apply_owned(
        kube,
        build_bucket_configmap(owner, configmap, location),
        owner.uid,
        "metadata.name (the ConfigMap is named after the Bucket)",
    )
    owner_secret, events = sync_owner_secret(
        kube,
        clients.admin,
        bucket,
        owner=owner,
        location=location,
        owner_key=owner_key,
        previous_name=previous.get("ownerSecretName"),
    )
    events = _events(in_store, lifecycle_changed, name, store) + events
    usage = in_store.view.get("usage") or {}
    fields = {
        "bucketName": name,
        "endpoint": store.endpoint,
        "storagePolicy": in_store.view.get("storagePolicy"),
        "usedBytes": int(usage.get("bytes") or 0),
        "objects": int(usage.get("objects") or 0),
        "configMapName": configmap,
        "ownerSecretName": owner_secret,
    }
    conditions: list[ConditionTuple] = [
        (
            "Ready",
            True,
            "BucketReady",
            f"S3 bucket {name} is served at {store.endpoint} by ObjectStore {store.ref}; apps "
            f"find it in ConfigMap {configmap} and get keys through a BucketAccess.",
        ),
        ("Progressing", False, "Converged", "Nothing left to do."),
        _degraded(bucket, in_store.view),
    ]
    return Report("Ready", fields, conditions, events)


def _events(
    in_store: BucketInStore, lifecycle_changed: bool, name: str, store: StoreAccess
) -> list[Event]:
    events: list[Event] = []
    if in_store.created:
        events.append(("Normal", "BucketCreated", f"S3 bucket {name} created in {store.ref}"))
    elif in_store.updated:
        events.append(("Normal", "BucketUpdated", f"S3 bucket {name} settings updated"))
    if lifecycle_changed:
        events.append(("Normal", "LifecycleUpdated", f"Lifecycle rules of {name} updated"))
    return events


def _degraded(bucket: Bucket, view: dict[str, Any]) -> ConditionTuple:
    """Degraded when the bucket cannot be what the spec says, or holds more than its quota."""
    if str(bucket.spec.versioning) == "Disabled" and view.get("versioning") not in (
        None,
        "Disabled",
    ):
        return (
            "Degraded",
            True,
            "VersioningEnabled",
            f"The bucket's versioning is {view.get('versioning')} and S3 cannot disable it "
            "again: set spec.versioning to Enabled or Suspended.",
        )
    quota = view.get("quota") or {}
    usage = view.get("usage") or {}
    for limit, used, unit in (("maxBytes", "bytes", "bytes"), ("maxObjects", "objects", "objects")):
        if quota.get(limit) is not None and int(usage.get(used) or 0) > int(quota[limit]):
            return (
                "Degraded",
                True,
                "OverQuota",
                f"The bucket holds {usage.get(used)} {unit}, more than its quota of "
                f"{quota[limit]}: uploads are refused until objects are deleted or "
                "spec.quota is raised.",
            )
    return ("Degraded", False, "AsSpecified", "The bucket is as its spec says.")
