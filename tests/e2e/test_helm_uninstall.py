"""``helm uninstall`` keeps what users made (docs/operator.md, "Uninstall"): the CRDs, every
ObjectStore and Bucket, the stores' pods, volumes and keys, and the objects in the buckets.
A later ``helm install`` picks them up again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.e2e.bucket_helpers import bucket_manifest, is_ready
from tests.e2e.conftest import E2ECluster
from tests.e2e.operator_install import (
    OPERATOR_NAMESPACE,
    RELEASE,
    Operator,
    helm,
    install,
    operator_pods,
)
from tests.e2e.test_operator_store import (
    GROUP,
    STORE_TIMEOUT,
    VERSION,
    get_store,
    names,
    s3_client,
    store_manifest,
)
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

READY_TIMEOUT = 120.0
STOP_TIMEOUT = 120.0


@pytest.fixture
def store_namespace(core_v1: client.CoreV1Api) -> Iterator[str]:
    name = f"e2e-kept-{uuid.uuid4().hex[:6]}"
    core_v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core_v1.delete_namespace(name)


def get_bucket(custom_objects: client.CustomObjectsApi, namespace: str) -> dict[str, Any]:
    found: Any = custom_objects.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "buckets", "kept"
    )
    return dict(found)


def test_helm_uninstall_keeps_stores_buckets_and_data_and_install_resumes(  # noqa: PLR0917
    nimbus_operator: Operator,
    e2e_cluster: E2ECluster,
    core_v1: client.CoreV1Api,
    apps_v1: client.AppsV1Api,
    apiextensions_v1: client.ApiextensionsV1Api,
    custom_objects: client.CustomObjectsApi,
    store_namespace: str,
) -> None:
    namespace = store_namespace
    custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "objectstores", store_manifest("store")
    )
    custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "buckets", bucket_manifest("kept", "store")
    )
    bucket = wait_until(
        lambda: get_bucket(custom_objects, namespace),
        is_ready,
        "the Bucket Ready in a Ready store",
        STORE_TIMEOUT,
    )
    s3_name = bucket["status"]["bucketName"]
    s3_client(core_v1, namespace, "store").put_object(Bucket=s3_name, Key="k", Body=b"kept")
    volumes_before = names(core_v1.list_namespaced_persistent_volume_claim(namespace).items)

    try:
        uninstalled = helm(
            e2e_cluster.kubeconfig, "uninstall", RELEASE, "--namespace", OPERATOR_NAMESPACE
        )
        assert uninstalled.returncode == 0, uninstalled.stderr
        wait_until(
            lambda: operator_pods(core_v1),
            lambda pods: not pods,
            "the operator's pods to go",
            STOP_TIMEOUT,
        )

        crds = names(apiextensions_v1.list_custom_resource_definition().items)
        assert {f"{plural}.{GROUP}" for plural in ("objectstores", "buckets")} <= set(crds)
        assert get_store(custom_objects, namespace, "store")["status"]["phase"] == "Ready"
        assert is_ready(get_bucket(custom_objects, namespace))
        assert names(apps_v1.list_namespaced_stateful_set(namespace).items) == ["store-node"]
        assert names(core_v1.list_namespaced_persistent_volume_claim(namespace).items) == (
            volumes_before
        )
        assert len(volumes_before) == 3
        assert "store-admin" in names(core_v1.list_namespaced_secret(namespace).items)
        read = s3_client(core_v1, namespace, "store").get_object(Bucket=s3_name, Key="k")
        assert read["Body"].read() == b"kept", "the store serves its data without the operator"
    finally:
        install(e2e_cluster.kubeconfig)

    custom_objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "buckets", "kept", {"spec": {"versioning": "Enabled"}}
    )
    wait_until(
        lambda: get_bucket(custom_objects, namespace),
        is_ready,
        "the reinstalled operator to reconcile the kept Bucket's change",
        READY_TIMEOUT,
    )
    versioning = s3_client(core_v1, namespace, "store").get_bucket_versioning(Bucket=s3_name)
    assert versioning["Status"] == "Enabled"

    custom_objects.delete_namespaced_custom_object(GROUP, VERSION, namespace, "buckets", "kept")
    custom_objects.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, "objectstores", "store", {"spec": {"forceDelete": True}}
    )
    custom_objects.delete_namespaced_custom_object(
        GROUP, VERSION, namespace, "objectstores", "store"
    )
