"""Taking a BucketAccess's keys back out of the stores: after a rotation's grace period, from
stores no claim reaches any more, and when the BucketAccess is deleted (the finalizer).

The stores a BucketAccess's keys live in are recorded in status.accessedBuckets[].store, so
they are found even when the Buckets are gone first (a namespace being deleted). A store that
is gone takes its credentials with it; one that cannot be reached is waited for, unless it or
the namespace is being deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import InvalidSpec, RetryLater
from nimbus_operator.reconcilers.bucket.deletion import namespace_terminating
from nimbus_operator.reconcilers.bucket.naming import store_of
from nimbus_operator.reconcilers.bucket.report import Connect, Event, connect
from nimbus_operator.reconcilers.bucket.store_access import STORAGE_API, find_store


def recorded_stores(status: Mapping[str, Any]) -> set[str]:
    """``namespace/name`` of every store status.accessedBuckets names."""
    return {str(item["store"]) for item in status.get("accessedBuckets") or [] if item.get("store")}


def revoke(
    kube: Kube, namespace: str, store_ref: str, keys: Iterable[str | None], connect: Connect
) -> bool:
    """Delete ``keys`` from the store; False when they were left behind (store going away)."""
    store_namespace, _, store_name = store_ref.partition("/")
    try:
        store = find_store(
            kube,
            store_namespace,
            store_name,
            namespace,
            require_ready=False,
            check_admission=False,
        )
    except InvalidSpec:
        return True
    except RetryLater:
        if namespace_terminating(kube, namespace):
            return False
        raise
    admin = connect(store).admin
    try:
        for key in sorted({key for key in keys if key}):
            admin.delete_credential(key)
    except RetryLater:
        if store.deleting or namespace_terminating(kube, namespace):
            return False
        raise
    return True


def _claimed_stores(kube: Kube, body: dict[str, Any]) -> set[str]:
    namespace = body["metadata"]["namespace"]
    refs = set()
    for claim in (body.get("spec") or {}).get("bucketClaims") or []:
        bucket = kube.get(STORAGE_API, "Bucket", str(claim.get("bucketClaimName")), namespace)
        if bucket is not None:
            refs.add("/".join(store_of(bucket)))
    return refs


def delete_access(
    kube: Kube, body: dict[str, Any], keys: Iterable[str | None], connect: Connect = connect
) -> list[Event]:
    """Revoke ``keys`` (current, previous, wanted) from every store they may be in."""
    namespace = str(body["metadata"]["namespace"])
    status = body.get("status") or {}
    wanted = set(keys)
    left = [
        ref
        for ref in sorted(recorded_stores(status) | _claimed_stores(kube, body))
        if not revoke(kube, namespace, ref, wanted, connect)
    ]
    named = ", ".join(sorted(key for key in wanted if key))
    if left:
        return [
            (
                "Warning",
                "CredentialsLeftInStore",
                f"Keys {named} were left in ObjectStore {', '.join(left)}, which is going away",
            )
        ]
    return [("Normal", "CredentialsRevoked", f"Access keys {named} revoked")]
