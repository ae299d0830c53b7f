"""A Bucket's S3 name, and the checks that no two Buckets ever hold the same bucket.

- Within a namespace, two Buckets naming the same S3 bucket of the same store would share it
  (they derive the same owner): the older keeps it, the newer is refused.
- Across namespaces the store refuses (another owner); the message then names the Bucket
  that holds it, when there is one.
"""

from __future__ import annotations

from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import InvalidSpec
from nimbus_operator.reconcilers.bucket.store_access import STORAGE_API
from nimbus_operator.render.bucket_names import default_bucket_name, generated_bucket_name


def s3_name(body: dict[str, Any]) -> str:
    """The S3 name of the Bucket ``body``: spec.bucketName, else the one recorded in
    status.bucketName, else derived (generateBucketName and the uid, or namespace-name)."""
    spec = body.get("spec") or {}
    metadata = body["metadata"]
    if spec.get("bucketName"):
        return str(spec["bucketName"])
    recorded = (body.get("status") or {}).get("bucketName")
    if recorded:
        return str(recorded)
    if spec.get("generateBucketName"):
        return generated_bucket_name(str(spec["generateBucketName"]), str(metadata["uid"]))
    return default_bucket_name(str(metadata["namespace"]), str(metadata["name"]))


def store_of(body: dict[str, Any]) -> tuple[str, str]:
    """(namespace, name) of the ObjectStore a Bucket body names."""
    ref = (body.get("spec") or {}).get("storeRef") or {}
    return str(ref.get("namespace") or body["metadata"]["namespace"]), str(ref.get("name"))


def _age(body: dict[str, Any]) -> tuple[str, str]:
    metadata = body["metadata"]
    return str(metadata.get("creationTimestamp") or ""), str(metadata.get("uid") or "")


def _holders(
    candidates: list[dict[str, Any]], body: dict[str, Any], name: str
) -> list[dict[str, Any]]:
    """The other Buckets that name S3 bucket ``name`` in the same store as ``body``."""
    store = store_of(body)
    uid = body["metadata"]["uid"]
    return [
        other
        for other in candidates
        if other["metadata"].get("uid") != uid
        and store_of(other) == store
        and s3_name(other) == name
        and other["metadata"].get("deletionTimestamp") is None
    ]


def check_first_claim(kube: Kube, body: dict[str, Any], name: str) -> None:
    """Refuse the S3 name when an older Bucket of the same namespace already holds it."""
    namespace = body["metadata"]["namespace"]
    for other in _holders(kube.list(STORAGE_API, "Bucket", namespace), body, name):
        if _age(other) < _age(body):
            raise InvalidSpec(
                f"Bucket {namespace}/{other['metadata']['name']} already holds S3 bucket {name} "
                "in this store: two Buckets cannot share one bucket; choose another "
                "spec.bucketName, or delete one of them",
                reason="BucketNameInUse",
            )


def owned_elsewhere(
    kube: Kube, body: dict[str, Any], name: str, store_ref: str, owner: str
) -> InvalidSpec:
    """The error for an S3 bucket the store says another owner holds, naming the holder."""
    namespace = body["metadata"]["namespace"]
    holders = [
        other
        for other in _holders(kube.list(STORAGE_API, "Bucket"), body, name)
        if other["metadata"].get("namespace") != namespace
    ]
    if holders:
        holder = holders[0]["metadata"]
        whose = f"Bucket {holder['namespace']}/{holder['name']} of namespace {holder['namespace']}"
    else:
        whose = f"another owner (access key {owner}), not a Bucket of namespace {namespace}"
    return InvalidSpec(
        f"S3 bucket {name} in ObjectStore {store_ref} already belongs to {whose}: a Bucket "
        "cannot take over a bucket of another namespace; choose another spec.bucketName (or "
        "use generateBucketName)",
        reason="BucketAlreadyExists",
    )


def held_by_another(kube: Kube, body: dict[str, Any], name: str) -> bool:
    """Whether another Bucket of the namespace (not being deleted) names S3 bucket ``name``."""
    namespace = body["metadata"]["namespace"]
    return bool(_holders(kube.list(STORAGE_API, "Bucket", namespace), body, name))
