"""A namespace with a Ready store and a Ready Bucket ``images``, where Images come from."""

from __future__ import annotations

import uuid
from typing import Any

from kubernetes import client

from tests.e2e.bucket_helpers import bucket_manifest, is_ready
from tests.e2e.compute_helpers import COMPUTE, Compute
from tests.e2e.test_operator_store import STORE_TIMEOUT, store_manifest
from tests.e2e.waiting import wait_until

STORAGE = ("storage.nimbus.dev", "v1alpha1")


def images_namespace(
    core_v1: client.CoreV1Api,
    custom_objects: client.CustomObjectsApi,
    prefix: str,
    labels: dict[str, str] | None = None,
) -> tuple[str, str]:
    """Create the namespace (``prefix`` and a random suffix, with ``labels``), its store and
    the Bucket ``images``; wait for both Ready. Returns (namespace, the bucket's S3 name)."""
    namespace = f"{prefix}-{uuid.uuid4().hex[:6]}"
    core_v1.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace, labels=labels))
    )
    custom_objects.create_namespaced_custom_object(
        *STORAGE, namespace, "objectstores", store_manifest("store")
    )
    custom_objects.create_namespaced_custom_object(
        *STORAGE, namespace, "buckets", bucket_manifest("images", "store")
    )

    def read() -> dict[str, Any]:
        found: Any = custom_objects.get_namespaced_custom_object(
            *STORAGE, namespace, "buckets", "images"
        )
        return dict(found)

    bucket = wait_until(read, is_ready, "the Bucket images Ready in a Ready store", STORE_TIMEOUT)
    return namespace, str(bucket["status"]["bucketName"])


def image_status(compute: Compute, name: str) -> dict[str, Any]:
    return dict((compute.get("images", name) or {}).get("status") or {})


def bucket_image(name: str, key: str, min_disk: str = "1Gi") -> dict[str, Any]:
    """An Image of the object ``key`` in the Bucket ``images``."""
    return {
        "apiVersion": "/".join(COMPUTE),
        "kind": "Image",
        "metadata": {"name": name},
        "spec": {"source": {"bucket": {"name": "images", "key": key}}, "minDisk": min_disk},
    }
