"""What stands in the way of deleting a store: the Buckets that live in it."""

from __future__ import annotations

from nimbus_operator.clients.kube import Kube

STORAGE_API = "storage.nimbus.dev/v1alpha1"


def blocking_buckets(kube: Kube, namespace: str, store: str) -> list[str]:
    names = []
    for bucket in kube.list(STORAGE_API, "Bucket", namespace):
        ref = ((bucket.get("spec") or {}).get("storeRef") or {}).get("name")
        if ref == store:
            names.append(str(bucket["metadata"]["name"]))
    return sorted(names)
