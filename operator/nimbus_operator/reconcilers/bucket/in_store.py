"""The bucket itself, in its store: settings through the admin API, lifecycle rules through
S3. What the store already has as wanted is not written again, so a resync is reads only.

The store's refusals become ``InvalidSpec`` naming the spec field to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nimbus_operator.clients.admin import AdminRefused
from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import InvalidSpec
from nimbus_operator.models.bucket import BucketSpec
from nimbus_operator.reconcilers.bucket.naming import check_first_claim, owned_elsewhere
from nimbus_operator.reconcilers.bucket.report import StoreClients
from nimbus_operator.reconcilers.bucket.store_access import STORAGE_API, StoreAccess
from nimbus_operator.render.bucket_settings import (
    build_admin_settings,
    build_lifecycle_rules,
    normalized_rules,
    settings_differ,
)


@dataclass(frozen=True)
class BucketInStore:
    view: dict[str, Any]
    """The admin API's view of the bucket (owner, quota, usage, storagePolicy...)."""
    created: bool
    updated: bool


def ensure_bucket(
    kube: Kube,
    clients: StoreClients,
    store: StoreAccess,
    body: dict[str, Any],
    *,
    spec: BucketSpec,
    name: str,
    owner: str,
    first_claim: bool,
) -> BucketInStore:
    """Create or update S3 bucket ``name`` owned by ``owner``; never one another key owns.

    On a Bucket's first claim of a name, an older Bucket of the namespace naming it wins: that
    is looked up (a list of the namespace's Buckets) only when two could collide: a name
    chosen in spec.bucketName, or a bucket of the namespace's owner key already there.
    """
    view = clients.admin.get_bucket(name)
    if view is not None and view.get("owner") != owner:
        raise owned_elsewhere(kube, body, name, store.ref, str(view.get("owner")))
    if first_claim and (spec.bucket_name or view is not None):
        check_first_claim(kube, body, name)
    wanted = build_admin_settings(spec, name, owner)
    if view is not None and not settings_differ(wanted, view):
        return BucketInStore(view, created=False, updated=False)
    try:
        result = clients.admin.put_bucket(name, wanted)
    except AdminRefused as error:
        if error.code == "BucketAlreadyExists":
            raise owned_elsewhere(kube, body, name, store.ref, "unknown") from error
        raise _explained(kube, error, spec, name, store) from error
    return BucketInStore(result, created=view is None, updated=view is not None)


def _explained(
    kube: Kube, error: AdminRefused, spec: BucketSpec, name: str, store: StoreAccess
) -> InvalidSpec:
    detail = str(error)
    if error.code == "InvalidBucketName":
        message = f"spec.bucketName: the store refused the name {name}: {detail}"
    elif error.code == "MalformedPolicy":
        message = f"spec.policy: the store refused the bucket policy: {detail}"
    elif spec.storage_policy and (
        error.code == "InvalidBucketState" or "storage policy" in detail.lower()
    ):
        message = _policy_message(kube, spec.storage_policy, detail, store)
    else:
        message = f"ObjectStore {store.ref} refused bucket {name}: {detail}"
    return InvalidSpec(message, reason=error.code or "Refused")


def _policy_message(kube: Kube, policy: str, detail: str, store: StoreAccess) -> str:
    if kube.get(STORAGE_API, "StoragePolicy", policy) is None:
        advice = f"no StoragePolicy {policy} exists: create it, or name one the store serves"
    else:
        advice = (
            f"StoragePolicy {policy} exists but ObjectStore {store.ref} does not serve it (see "
            "the store's Degraded condition), or the bucket already keeps its data in another "
            "policy"
        )
    return f"spec.storagePolicy {policy}: {advice} ({detail})"


def ensure_lifecycle(clients: StoreClients, spec: BucketSpec, name: str) -> bool:
    """Make the bucket's lifecycle rules those of the spec; True when they were changed."""
    wanted = build_lifecycle_rules(spec.lifecycle)
    if normalized_rules(clients.s3.lifecycle_rules(name)) == normalized_rules(wanted):
        return False
    try:
        clients.s3.put_lifecycle_rules(name, wanted)
    except AdminRefused as error:
        raise InvalidSpec(
            f"spec.lifecycle: the store refused the lifecycle rules: {error}",
            reason=error.code or "InvalidLifecycle",
        ) from error
    return True
