"""An erasure-coded StoragePolicy served by a running store, in a cluster of its own.

StoragePolicies are cluster-wide: every store with enough nodes serves every policy, so adding
one changes the node pods of every store of the session. This test therefore brings up its own
local cluster (its own address block) with its own operator.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from kubernetes import client, config
from nimbus_storage.ring import Ring

from e2e.cluster import Cluster
from e2e.nodeagent.network import ADDRESS_BLOCK_ENV, service_local_address
from tests.e2e.operator_install import install

pytestmark = pytest.mark.e2e

GROUP, VERSION = "storage.nimbus.dev", "v1alpha1"
TIMEOUT = 300.0
NAMESPACE = "archive"


def wait_for(observe: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while True:
        seen = observe()
        if seen:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {TIMEOUT}s waiting for {what}")
        time.sleep(1)


def deletion_refused(custom: client.CustomObjectsApi, policy: str) -> dict[str, Any]:
    """Delete StoragePolicy ``policy`` and wait for the operator's refusal (its Ready
    condition, reason InUse)."""
    custom.delete_cluster_custom_object(GROUP, VERSION, "storagepolicies", policy)

    def refused() -> dict[str, Any] | None:
        found: Any = custom.get_cluster_custom_object(GROUP, VERSION, "storagepolicies", policy)
        conditions = (found.get("status") or {}).get("conditions") or []
        ready = next((c for c in conditions if c["type"] == "Ready"), None)
        return ready if ready and ready["reason"] == "InUse" else None

    result: dict[str, Any] = wait_for(refused, "the deletion refused")
    return result


def test_an_erasure_coded_policy_stores_and_serves_objects(tmp_path: Path) -> None:
    block = int(os.environ.get(ADDRESS_BLOCK_ENV) or 0) + 2
    cluster = Cluster(tmp_path / "run", address_block=block)
    cluster.start()
    try:
        install(cluster.kubeconfig)
        api = config.new_client_from_config(str(cluster.kubeconfig))  # type: ignore[no-untyped-call]
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)

        def create(plural: str, body: dict[str, Any], namespaced: bool = True) -> None:
            body = {"apiVersion": f"{GROUP}/{VERSION}", **body}
            if namespaced:
                custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural, body)
            else:
                custom.create_cluster_custom_object(GROUP, VERSION, plural, body)

        def status(plural: str, name: str) -> dict[str, Any]:
            found: Any = custom.get_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, plural, name
            )
            return dict(found.get("status") or {})

        replicated = {"replicas": 3, "default": True}
        create(
            "storagepolicies",
            {"kind": "StoragePolicy", "metadata": {"name": "replicated"}, "spec": replicated},
            namespaced=False,
        )
        cold = {"erasureCoding": {"data": 2, "parity": 1}}
        create(
            "storagepolicies",
            {"kind": "StoragePolicy", "metadata": {"name": "cold"}, "spec": cold},
            namespaced=False,
        )
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        store = {"nodes": {"count": 3, "volumeSize": "1Gi"}, "gateway": {"replicas": 1}}
        create(
            "objectstores", {"kind": "ObjectStore", "metadata": {"name": "store"}, "spec": store}
        )
        ready = wait_for(
            lambda: (s := status("objectstores", "store")).get("phase") == "Ready" and s,
            "the store Ready",
        )
        assert ready["rings"] == {"cold": 1, "replicated": 1}
        rings = core.read_namespaced_config_map("store-rings", NAMESPACE).data or {}
        assert Ring.from_json(json.loads(rings["cold.json"])).replicas == 3, "2 data + 1 parity"

        bucket = {"storeRef": {"name": "store"}, "storagePolicy": "cold"}
        create("buckets", {"kind": "Bucket", "metadata": {"name": "tapes"}, "spec": bucket})
        claims = [{"bucketClaimName": "tapes", "accessSecretName": "tapes-credentials"}]
        create(
            "bucketaccesses",
            {
                "kind": "BucketAccess",
                "metadata": {"name": "writer"},
                "spec": {"bucketClaims": claims},
            },
        )
        wait_for(lambda: status("bucketaccesses", "writer").get("readyToUse"), "the keys")
        assert status("buckets", "tapes")["storagePolicy"] == "cold"

        secret = core.read_namespaced_secret("tapes-credentials", NAMESPACE).data or {}
        keys = {k: base64.b64decode(v).decode() for k, v in secret.items()}
        service = core.read_namespaced_service("store", NAMESPACE)
        address = service_local_address(service.spec.cluster_ip if service.spec else None, block)
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://{address}:80",
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        body = secrets.token_bytes(3 * 2**20 + 12345)  # several 1 MiB EC segments and a tail
        s3.put_object(Bucket=keys["BUCKET_NAME"], Key="backup.tar", Body=body)

        got = s3.get_object(Bucket=keys["BUCKET_NAME"], Key="backup.tar")["Body"].read()

        assert got == body
        head = s3.head_bucket(Bucket=keys["BUCKET_NAME"])
        headers = head["ResponseMetadata"]["HTTPHeaders"]
        assert headers["x-nimbus-storage-policy"] == "cold"

        # A policy that holds a Bucket's data cannot be deleted: it waits, saying which.
        in_use = deletion_refused(custom, "cold")
        assert f"{NAMESPACE}/tapes" in in_use["message"]
        assert s3.get_object(Bucket=keys["BUCKET_NAME"], Key="backup.tar")["Body"].read() == body
    finally:
        cluster.stop()
