"""From a BucketAccess's bucket claims to the buckets they reach: each claim's Bucket (of the
same namespace, Ready), its S3 name and its store, and the grants per store.

A Bucket missing or not ready yet is waited for (``RetryLater``, the message names it): the
BucketAccess and its Buckets are often applied together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import RetryLater
from nimbus_operator.models.bucketaccess import AccessMode, BucketAccess, BucketClaim
from nimbus_operator.reconcilers.bucket.naming import store_of
from nimbus_operator.reconcilers.bucket.store_access import (
    NOT_READY_DELAY,
    STORAGE_API,
    StoreAccess,
    find_store,
)

GRANTS = {
    AccessMode.READ_ONLY: "RO",
    AccessMode.READ_WRITE: "RW",
    AccessMode.WRITE_ONLY: "WO",
}
"""BucketAccess modes as the admin API's credential grants."""


@dataclass(frozen=True)
class ResolvedClaim:
    index: int
    claim: BucketClaim
    bucket_name: str
    store: StoreAccess

    @property
    def grant(self) -> str:
        return GRANTS[AccessMode(self.claim.access_mode)]

    @property
    def secret_field(self) -> str:
        return f"spec.bucketClaims[{self.index}].accessSecretName"


def _bucket_ready(bucket: dict[str, Any]) -> str | None:
    """None when the Bucket is Ready with an S3 name, else why not."""
    status = bucket.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") == "True" and status.get("bucketName"):
                return None
            return str(condition.get("message") or condition.get("reason"))
    return "it has no status yet"


def resolve_claims(kube: Kube, access: BucketAccess) -> list[ResolvedClaim]:
    namespace = str(access.metadata.namespace)
    stores: dict[tuple[str, str], StoreAccess] = {}
    resolved = []
    for index, claim in enumerate(access.spec.bucket_claims):
        where = f"spec.bucketClaims[{index}]"
        name = claim.bucket_claim_name
        bucket = kube.get(STORAGE_API, "Bucket", name, namespace)
        if bucket is None or bucket["metadata"].get("deletionTimestamp"):
            state = "does not exist" if bucket is None else "is being deleted"
            raise RetryLater(
                f"{where}: Bucket {namespace}/{name} {state}: create it, or change "
                "bucketClaimName to a Bucket of this namespace",
                reason="BucketNotFound",
                delay=NOT_READY_DELAY,
            )
        problem = _bucket_ready(bucket)
        if problem is not None:
            raise RetryLater(
                f"{where}: Bucket {name} is not ready yet: {problem}",
                reason="BucketNotReady",
                delay=NOT_READY_DELAY,
            )
        key = store_of(bucket)
        if key not in stores:
            stores[key] = find_store(kube, key[0], key[1], namespace)
        bucket_name = str(bucket["status"]["bucketName"])
        resolved.append(ResolvedClaim(index, claim, bucket_name, stores[key]))
    return resolved


def grants_by_store(
    claims: Iterable[ResolvedClaim],
) -> dict[str, tuple[StoreAccess, dict[str, str]]]:
    """For each store (by ``namespace/name``): the store and the grants the key holds there."""
    grouped: dict[str, tuple[StoreAccess, dict[str, str]]] = {}
    for claim in claims:
        _store, grants = grouped.setdefault(claim.store.ref, (claim.store, {}))
        grants[claim.bucket_name] = claim.grant
    return grouped
