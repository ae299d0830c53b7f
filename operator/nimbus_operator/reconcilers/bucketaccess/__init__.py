"""The BucketAccess reconciler: app credentials to Buckets, their Secrets, rotation, revocation."""

from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.reconcilers.bucket.report import Connect, Event, Report, connect
from nimbus_operator.reconcilers.bucketaccess.reconcile import reconcile_access, wanted_key
from nimbus_operator.reconcilers.bucketaccess.revocation import delete_access
from nimbus_operator.reconcilers.bucketaccess.status import readiness


def revoke_access(kube: Kube, body: dict[str, Any], connect: Connect = connect) -> list[Event]:
    """The finalizer's work: every key the BucketAccess may have in any store, revoked."""
    status = body.get("status") or {}
    keys = {status.get("accessKeyId"), status.get("previousAccessKeyId"), wanted_key(body)}
    return delete_access(kube, body, keys, connect)


def rotation_pending(body: dict[str, Any]) -> bool:
    """Whether the object asks for another key than the one it has (a rotation request the
    operator has not acted on yet); False before the first key and while being deleted."""
    if body["metadata"].get("deletionTimestamp"):
        return False
    current = (body.get("status") or {}).get("accessKeyId")
    return current is not None and current != wanted_key(body)


__all__ = ["Report", "readiness", "reconcile_access", "revoke_access", "rotation_pending"]
