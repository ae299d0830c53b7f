"""The CRDs as the API server enforces them, and StoragePolicies as the operator judges them.

The policies here are erasure coded wider than any 3-node store in this session, so no store
starts serving them (a policy a store can serve becomes a ring and a container in every node
pod of that store).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.operator_install import Operator
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

GROUP, VERSION = "storage.nimbus.dev", "v1alpha1"
# The operator may be busy with other tests' objects (a namespace being torn down): bounded,
# but not tight.
TIMEOUT = 180.0


def refusal(create: Any) -> str:
    with pytest.raises(ApiException) as caught:
        create()
    assert caught.value.status == 422, caught.value.body
    return str(caught.value.body)


def test_the_api_server_refuses_specs_the_crds_forbid(
    nimbus_operator: Operator, custom_objects: client.CustomObjectsApi, namespace: str
) -> None:
    def namespaced(plural: str, kind: str, spec: dict[str, Any]) -> Any:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": "x"}}
        return lambda: custom_objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, dict(body, spec=spec)
        )

    def policy(spec: dict[str, Any]) -> Any:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "StoragePolicy",
            "metadata": {"name": f"bad-{uuid.uuid4().hex[:6]}"},
            "spec": spec,
        }
        return lambda: custom_objects.create_cluster_custom_object(
            GROUP, VERSION, "storagepolicies", body
        )

    assert "spec.nodes.count" in refusal(
        namespaced("objectstores", "ObjectStore", {"nodes": {"count": 0}})
    )
    both = {"replicas": 3, "erasureCoding": {"data": 4, "parity": 2}}
    assert "set exactly one of replicas and erasureCoding" in refusal(policy(both))
    assert "set exactly one of replicas and erasureCoding" in refusal(policy({}))
    too_wide = {"erasureCoding": {"data": 30, "parity": 10}}
    assert "32" in refusal(policy(too_wide))
    named_twice = {"storeRef": {"name": "s"}, "bucketName": "abc", "generateBucketName": "abc"}
    assert "bucketName" in refusal(namespaced("buckets", "Bucket", named_twice))
    assert "spec.bucketName" in refusal(
        namespaced("buckets", "Bucket", {"storeRef": {"name": "s"}, "bucketName": "Not_Valid"})
    )


def test_bucket_updates_the_crd_forbids_are_refused(
    nimbus_operator: Operator, custom_objects: client.CustomObjectsApi, namespace: str
) -> None:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Bucket",
        "metadata": {"name": "pinned"},
        "spec": {"storeRef": {"name": "nowhere"}, "versioning": "Enabled"},
    }
    custom_objects.create_namespaced_custom_object(GROUP, VERSION, namespace, "buckets", body)

    def patch(spec: dict[str, Any]) -> Any:
        return lambda: custom_objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "buckets", "pinned", {"spec": spec}
        )

    assert "versioning cannot be disabled" in refusal(patch({"versioning": "Disabled"}))
    assert "storeRef" in refusal(patch({"storeRef": {"name": "elsewhere"}}))
    patch({"versioning": "Suspended"})()  # allowed, as in S3


def _policy(name: str, data: int, default: bool) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "StoragePolicy",
        "metadata": {"name": name},
        "spec": {"erasureCoding": {"data": data, "parity": 2}, "default": default},
    }


@pytest.fixture
def wide_policies(custom_objects: client.CustomObjectsApi) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        custom_objects.delete_cluster_custom_object(GROUP, VERSION, "storagepolicies", name)


def test_a_second_default_policy_is_refused_with_the_name_of_the_first(
    nimbus_operator: Operator,
    custom_objects: client.CustomObjectsApi,
    wide_policies: list[str],
) -> None:
    first, second = f"wide-{uuid.uuid4().hex[:6]}", f"wider-{uuid.uuid4().hex[:6]}"
    custom_objects.create_cluster_custom_object(
        GROUP, VERSION, "storagepolicies", _policy(first, 6, default=True)
    )
    wide_policies.append(first)

    def status(name: str) -> dict[str, Any]:
        found: Any = custom_objects.get_cluster_custom_object(
            GROUP, VERSION, "storagepolicies", name
        )
        return dict(found.get("status") or {})

    accepted = wait_until(
        lambda: status(first), lambda s: s.get("phase") == "Ready", "first Ready", TIMEOUT
    )
    assert accepted["durability"] == "EC 6+2"

    custom_objects.create_cluster_custom_object(
        GROUP, VERSION, "storagepolicies", _policy(second, 7, default=True)
    )
    wide_policies.append(second)

    refused = wait_until(
        lambda: status(second), lambda s: s.get("phase") == "Failed", "second refused", TIMEOUT
    )
    ready = next(c for c in refused["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["reason"] == "SecondDefault"
    assert f"StoragePolicy {first} is already the default" in ready["message"]
