"""What stands in the way of deleting a store: the Buckets that live in it."""

from __future__ import annotations

from nimbus_operator.clients.kube import Kube

STORAGE_API = "storage.nimbus.dev/v1alpha1"


def blocking_buckets(kube: Kube, namespace: str, store: str) -> list[str]:
    """``namespace/name`` of every Bucket in the store, from any namespace (a store may admit
    Buckets of other namespaces)."""
    names = []
    for bucket in kube.list(STORAGE_API, "Bucket"):
        metadata = bucket["metadata"]
        ref = (bucket.get("spec") or {}).get("storeRef") or {}
        if (ref.get("namespace") or metadata["namespace"], ref.get("name")) == (namespace, store):
            names.append(f"{metadata['namespace']}/{metadata['name']}")
    return sorted(names)
