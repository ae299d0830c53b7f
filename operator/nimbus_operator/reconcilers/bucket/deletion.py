"""What deleting a Bucket does in its store (the finalizer's work).

deletionPolicy Delete removes every object and version, then the bucket (admin API
``DELETE buckets/{name}?purge=true``); Retain keeps both, and a Bucket of the same namespace
naming it later adopts it again. Either way the owner key is revoked. Only a bucket this
Bucket holds is touched: never one another key owns, nor one an older Bucket of the
namespace holds.

A store that is gone leaves nothing to clean. A store that cannot be reached is waited for,
unless it is itself being deleted or the namespace is: then the bucket is left behind (an
Event says so) rather than blocking the namespace's deletion for ever.
"""

from __future__ import annotations

from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import InvalidSpec, RetryLater
from nimbus_operator.reconcilers.bucket.naming import held_by_another, s3_name, store_of
from nimbus_operator.reconcilers.bucket.report import Connect, Event, connect
from nimbus_operator.reconcilers.bucket.store_access import StoreAccess, find_store
from nimbus_operator.render.bucket_names import owner_access_key


def namespace_terminating(kube: Kube, namespace: str) -> bool:
    found = kube.get("v1", "Namespace", namespace) or {}
    return bool(found.get("metadata", {}).get("deletionTimestamp")) or (
        (found.get("status") or {}).get("phase") == "Terminating"
    )


def reachable_store(kube: Kube, body: dict[str, Any]) -> StoreAccess | None:
    """The store a departing object's credentials or bucket live in; None when it is gone
    (or cannot be reached while it or the namespace is going away)."""
    namespace = str(body["metadata"]["namespace"])
    store_namespace, store_name = store_of(body)
    try:
        return find_store(
            kube,
            store_namespace,
            store_name,
            namespace,
            require_ready=False,
            check_admission=False,
        )
    except InvalidSpec:
        return None
    except RetryLater:
        if namespace_terminating(kube, namespace):
            return None
        raise


def delete_bucket(kube: Kube, body: dict[str, Any], connect: Connect = connect) -> list[Event]:
    """Clean the store up for a deleted Bucket; the Events say what was done."""
    namespace = str(body["metadata"]["namespace"])
    spec = body.get("spec") or {}
    store = reachable_store(kube, body)
    if store is None:
        return [("Normal", "StoreGone", "The ObjectStore is gone: nothing left to clean")]
    name = s3_name(body)
    owner_key = owner_access_key(namespace, name)
    recorded = (body.get("status") or {}).get("bucketName") == name
    try:
        return _clean(
            kube, body, store, connect, name=name, owner_key=owner_key, recorded=recorded, spec=spec
        )
    except RetryLater as error:
        if store.deleting or namespace_terminating(kube, namespace):
            return [
                (
                    "Warning",
                    "BucketLeftInStore",
                    f"S3 bucket {name} was left in ObjectStore {store.ref}, which is being "
                    f"deleted or cannot be reached: {error}",
                )
            ]
        raise


def _clean(
    kube: Kube,
    body: dict[str, Any],
    store: StoreAccess,
    connect: Connect,
    *,
    name: str,
    owner_key: str,
    recorded: bool,
    spec: dict[str, Any],
) -> list[Event]:
    clients = connect(store)
    events: list[Event] = []
    view = clients.admin.get_bucket(name)
    ours = view is not None and view.get("owner") == owner_key
    if ours and not recorded and held_by_another(kube, body, name):
        ours = False
    if ours and spec.get("deletionPolicy") == "Delete":
        clients.admin.delete_bucket(name, purge=True)
        events.append(("Normal", "BucketDeleted", f"S3 bucket {name} and its objects deleted"))
    elif ours:
        events.append(
            (
                "Normal",
                "BucketRetained",
                f"S3 bucket {name} is kept in ObjectStore {store.ref} (deletionPolicy Retain); "
                "a Bucket of this namespace naming it adopts it again",
            )
        )
    asked_owner_secret = spec.get("ownerSecret") is not None or (body.get("status") or {}).get(
        "ownerSecretName"
    )
    if ours and asked_owner_secret:
        clients.admin.delete_credential(owner_key)
    return events
