"""Buckets and BucketAccesses end to end: the operator (installed by Helm, a pod under its own
service account) makes buckets in a real store and hands apps keys in Secrets; boto3 with
nothing but those Secrets reads and writes through the store's Service.

One store serves the module (its namespace admits a second namespace, for the cross-namespace
tests); the last test deletes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from kubernetes import client
from mypy_boto3_s3 import S3Client

from tests.e2e.bucket_helpers import (
    ROTATE_ANNOTATION,
    Resources,
    access_manifest,
    admin_client,
    bucket_manifest,
    is_ready,
    local_url,
    ready,
    s3_from_secret,
    s3_with_key,
    secret_data,
    store_manifest,
)
from tests.e2e.operator_install import Operator
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

STORE = "store"
STORE_TIMEOUT = 240.0
"""A store: pods scheduled, rings built, every process started (tens of seconds, 2 cores)."""
READY_TIMEOUT = 60.0
"""A Bucket or BucketAccess: a reconcile or two (the chart's e2e resync is 3 s)."""
GRACE_PERIOD_SECONDS = 5
RECOVERY_TIMEOUT = 120.0
"""A gateway pod rescheduled and serving again, then a Bucket's retry."""
OPERATOR_LABEL = "app.kubernetes.io/component=operator"
SECRET_KEYS = {
    "COSI_PROTOCOL",
    "BUCKET_NAME",
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_S3_ADDRESSING_STYLE",
    "BUCKET_HOST",
    "BUCKET_PORT",
    "BUCKET_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "COSI_S3_ENDPOINT",
    "COSI_S3_REGION",
    "COSI_S3_BUCKET_ID",
    "COSI_S3_ADDRESSING_STYLE",
    "COSI_S3_ACCESS_KEY_ID",
    "COSI_S3_ACCESS_SECRET_KEY",
}


@dataclass(frozen=True)
class Site:
    namespace: str
    """Holds the store."""
    guest: str
    """Another namespace the store admits."""
    home: Resources
    away: Resources


@pytest.fixture(scope="module")
def site(
    nimbus_operator: Operator,
    core_v1: client.CoreV1Api,
    custom_objects: client.CustomObjectsApi,
) -> Iterator[Site]:
    suffix = uuid.uuid4().hex[:6]
    namespace, guest = f"e2e-bkt-{suffix}", f"e2e-bkt-{suffix}-guest"
    for name in (namespace, guest):
        core_v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    home = Resources(custom_objects, namespace)
    home.create("objectstores", store_manifest(STORE, admitted=[guest]))
    wait_until(
        lambda: home.get("objectstores", STORE),
        lambda obj: obj.get("status", {}).get("phase") == "Ready",
        "the ObjectStore to become Ready",
        STORE_TIMEOUT,
    )
    yield Site(namespace, guest, home, Resources(custom_objects, guest))
    core_v1.delete_namespace(guest)
    core_v1.delete_namespace(namespace)


def wait_ready(resources: Resources, plural: str, name: str) -> dict[str, Any]:
    return wait_until(
        lambda: resources.get(plural, name),
        is_ready,
        f"{plural} {resources.namespace}/{name} Ready",
        READY_TIMEOUT,
    )


def wait_not_ready(resources: Resources, plural: str, name: str) -> dict[str, Any]:
    return wait_until(
        lambda: resources.get(plural, name),
        lambda obj: ready(obj).get("status") == "False",
        f"{plural} {resources.namespace}/{name} Ready=False",
        READY_TIMEOUT,
    )


def wait_gone(resources: Resources, plural: str, name: str) -> None:
    wait_until(
        lambda: resources.exists(plural, name),
        lambda exists: not exists,
        f"{plural} {resources.namespace}/{name} gone",
        READY_TIMEOUT,
    )


def error_code(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def test_a_bucket_and_its_accesses_serve_s3_with_the_keys_of_their_secrets(
    site: Site, core_v1: client.CoreV1Api
) -> None:
    home, namespace = site.home, site.namespace
    home.create("buckets", bucket_manifest("photos", STORE))
    home.create("bucketaccesses", access_manifest("writer", [("photos", "ReadWrite", "photos-rw")]))
    home.create("bucketaccesses", access_manifest("reader", [("photos", "ReadOnly", "photos-ro")]))
    status = wait_ready(home, "buckets", "photos")["status"]
    name, endpoint = f"{namespace}-photos", f"http://store.{namespace}.svc"
    assert (status["bucketName"], status["endpoint"]) == (name, endpoint)
    assert core_v1.read_namespaced_config_map("photos", namespace).data == {
        "COSI_PROTOCOL": "S3",
        "BUCKET_NAME": name,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_S3_ADDRESSING_STYLE": "path",
        "BUCKET_HOST": f"store.{namespace}.svc",
        "BUCKET_PORT": "80",
        "BUCKET_REGION": "us-east-1",
    }
    writer = wait_ready(home, "bucketaccesses", "writer")["status"]
    wait_ready(home, "bucketaccesses", "reader")
    keys = secret_data(core_v1, namespace, "photos-rw")
    assert set(keys) == SECRET_KEYS
    assert writer["readyToUse"] is True
    assert writer["accessKeyId"] == keys["AWS_ACCESS_KEY_ID"] == keys["COSI_S3_ACCESS_KEY_ID"]
    assert writer["accessedBuckets"] == [
        {
            "bucketClaimName": "photos",
            "bucketName": name,
            "accessSecretName": "photos-rw",
            "accessMode": "ReadWrite",
            "store": f"{namespace}/{STORE}",
        }
    ]

    read_write = s3_from_secret(core_v1, namespace, "photos-rw")
    read_write.put_object(Bucket=name, Key="hello.txt", Body=b"hello")
    assert read_write.get_object(Bucket=name, Key="hello.txt")["Body"].read() == b"hello"
    read_only = s3_from_secret(core_v1, namespace, "photos-ro")
    assert read_only.get_object(Bucket=name, Key="hello.txt")["Body"].read() == b"hello"
    assert error_code(lambda: read_only.put_object(Bucket=name, Key="no", Body=b"x")) == (
        "AccessDenied"
    )


def test_quota_refuses_uploads_and_a_lowered_quota_applies_at_once(
    site: Site, core_v1: client.CoreV1Api
) -> None:
    home = site.home
    quota = {"maxSize": "64Ki", "maxObjects": 10}
    home.create("buckets", bucket_manifest("capped", STORE, quota=quota))
    home.create("bucketaccesses", access_manifest("capped", [("capped", "ReadWrite", "capped")]))
    name = wait_ready(home, "buckets", "capped")["status"]["bucketName"]
    wait_ready(home, "bucketaccesses", "capped")
    s3 = s3_from_secret(core_v1, site.namespace, "capped")
    s3.put_object(Bucket=name, Key="first", Body=b"x" * 40 * 1024)
    big = b"x" * 40 * 1024
    assert error_code(lambda: s3.put_object(Bucket=name, Key="second", Body=big)) == (
        "QuotaExceeded"
    )

    home.patch("buckets", "capped", {"spec": {"quota": {"maxSize": "64Ki", "maxObjects": 2}}})
    wait_ready(home, "buckets", "capped")
    s3.put_object(Bucket=name, Key="small", Body=b"1")
    assert error_code(lambda: s3.put_object(Bucket=name, Key="one-more", Body=b"1")) == (
        "QuotaExceeded"
    )


def test_versioning_lifecycle_and_policy_reach_the_bucket_and_follow_edits(
    site: Site, core_v1: client.CoreV1Api
) -> None:
    home, namespace = site.home, site.namespace
    name = f"configured-{uuid.uuid4().hex[:6]}"
    statement = {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"]}
    home.create(
        "buckets",
        bucket_manifest(
            "configured",
            STORE,
            bucketName=name,
            versioning="Enabled",
            lifecycle={"rules": [{"id": "tmp", "prefix": "tmp/", "expirationDays": 7}]},
            policy={"statements": [statement]},
        ),
    )
    wait_ready(home, "buckets", "configured")
    admin = admin_s3(core_v1, namespace)
    assert admin.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    rules = admin.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert [(r["ID"], r["Filter"]["Prefix"], r["Expiration"]["Days"]) for r in rules] == [
        ("tmp", "tmp/", 7)
    ]
    admin.put_object(Bucket=name, Key="public.txt", Body=b"for all")
    anonymous = boto3.client(
        "s3",
        endpoint_url=local_url(core_v1, f"http://store.{namespace}.svc"),
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}),
    )
    assert anonymous.get_object(Bucket=name, Key="public.txt")["Body"].read() == b"for all"

    home.patch(
        "buckets",
        "configured",
        {"spec": {"lifecycle": {"rules": [{"id": "tmp", "expirationDays": 1}]}, "policy": None}},
    )
    wait_ready(home, "buckets", "configured")
    rules = admin.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert [(r["ID"], r["Filter"]["Prefix"], r["Expiration"]["Days"]) for r in rules] == [
        ("tmp", "", 1)
    ]
    assert error_code(lambda: anonymous.get_object(Bucket=name, Key="public.txt")) == (
        "AccessDenied"
    )


def admin_s3(core_v1: client.CoreV1Api, namespace: str) -> S3Client:
    data = secret_data(core_v1, namespace, f"{STORE}-admin")
    return s3_with_key(core_v1, namespace, STORE, data["accessKey"], data["secretKey"])


def refused(s3: S3Client, bucket: str) -> bool:
    try:
        s3.list_objects_v2(Bucket=bucket)
    except ClientError as error:
        return error.response["Error"]["Code"] == "InvalidAccessKeyId"
    return False


def test_rotation_keeps_the_old_key_for_the_grace_period_then_revokes_it(
    site: Site, core_v1: client.CoreV1Api
) -> None:
    home, namespace = site.home, site.namespace
    home.create("buckets", bucket_manifest("rotating", STORE))
    grace = f"{GRACE_PERIOD_SECONDS}s"
    manifest = access_manifest("rotator", [("rotating", "ReadWrite", "rotator")], grace)
    home.create("bucketaccesses", manifest)
    name = wait_ready(home, "buckets", "rotating")["status"]["bucketName"]
    first = wait_ready(home, "bucketaccesses", "rotator")["status"]["accessKeyId"]
    old_keys = secret_data(core_v1, namespace, "rotator")
    old = s3_with_key(core_v1, namespace, STORE, first, old_keys["AWS_SECRET_ACCESS_KEY"])
    old.put_object(Bucket=name, Key="before", Body=b"1")

    home.patch("bucketaccesses", "rotator", {"metadata": {"annotations": {ROTATE_ANNOTATION: "1"}}})
    status = wait_until(
        lambda: home.get("bucketaccesses", "rotator").get("status") or {},
        lambda status: status.get("accessKeyId") not in (None, first),
        "a new access key",
        READY_TIMEOUT,
    )
    assert status["previousAccessKeyId"] == first
    assert status["previousKeyExpiresAt"]
    assert status["lastRotationTime"]
    assert secret_data(core_v1, namespace, "rotator")["AWS_ACCESS_KEY_ID"] == status["accessKeyId"]
    s3_from_secret(core_v1, namespace, "rotator").put_object(Bucket=name, Key="after", Body=b"2")
    assert not refused(old, name), "the old key works during its grace period"

    wait_until(
        lambda: refused(old, name),
        bool,
        "the old key revoked once its grace period is over",
        GRACE_PERIOD_SECONDS + READY_TIMEOUT,
    )
    status = wait_until(
        lambda: home.get("bucketaccesses", "rotator").get("status") or {},
        lambda status: "previousAccessKeyId" not in status,
        "the previous key gone from the status",
        READY_TIMEOUT,
    )
    assert status["lastRotationTime"]


def test_missing_store_unknown_policy_and_missing_bucket_are_ready_false_with_a_reason(
    site: Site, core_v1: client.CoreV1Api
) -> None:
    home, namespace = site.home, site.namespace
    home.create("buckets", bucket_manifest("lost", "no-such-store"))
    home.create("buckets", bucket_manifest("golden", STORE, storagePolicy="no-such-policy"))
    home.create("bucketaccesses", access_manifest("orphan", [("ghost", "ReadOnly", "orphan")]))

    lost = ready(wait_not_ready(home, "buckets", "lost"))
    assert lost["reason"] == "StoreNotFound"
    assert f"ObjectStore {namespace}/no-such-store does not exist" in lost["message"]
    golden = ready(wait_not_ready(home, "buckets", "golden"))
    assert golden["message"].startswith("spec.storagePolicy no-such-policy:")
    assert "StoragePolicy no-such-policy" in golden["message"]
    orphan = wait_not_ready(home, "bucketaccesses", "orphan")["status"]
    assert orphan["readyToUse"] is False
    assert f"Bucket {namespace}/ghost does not exist" in orphan["error"]

    events = core_v1.list_namespaced_event(namespace).items
    reasons = {(e.involved_object.name, e.reason) for e in events}
    assert ("lost", "StoreNotFound") in reasons


def test_two_namespaces_cannot_own_the_same_s3_bucket(
    site: Site, core_v1: client.CoreV1Api, custom_objects: client.CustomObjectsApi, namespace: str
) -> None:
    name = f"shared-{uuid.uuid4().hex[:6]}"
    shared = {"name": STORE, "namespace": site.namespace}
    site.home.create("buckets", bucket_manifest("first", STORE, bucketName=name))
    wait_ready(site.home, "buckets", "first")
    owner = admin_client(core_v1, site.namespace, STORE).get_bucket(name)
    assert owner is not None

    second = bucket_manifest("second", STORE, bucketName=name)
    second["spec"]["storeRef"] = shared
    site.away.create("buckets", second)
    refusal = ready(wait_not_ready(site.away, "buckets", "second"))
    assert refusal["reason"] == "BucketAlreadyExists"
    assert f"Bucket {site.namespace}/first" in refusal["message"]
    after = admin_client(core_v1, site.namespace, STORE).get_bucket(name)
    assert after is not None
    assert after["owner"] == owner["owner"]

    own = bucket_manifest("own", STORE, generateBucketName="guest")
    own["spec"]["storeRef"] = shared
    site.away.create("buckets", own)
    assert wait_ready(site.away, "buckets", "own")["status"]["bucketName"].startswith("guest-")

    stranger = Resources(custom_objects, namespace)
    intruder = bucket_manifest("intruder", STORE, bucketName=name)
    intruder["spec"]["storeRef"] = shared
    stranger.create("buckets", intruder)
    assert ready(wait_not_ready(stranger, "buckets", "intruder"))["reason"] == "StoreNotShared"


def _set_schedulable(core_v1: client.CoreV1Api, schedulable: bool) -> None:
    for node in core_v1.list_node().items:
        assert node.metadata is not None
        core_v1.patch_node(str(node.metadata.name), {"spec": {"unschedulable": not schedulable}})


def test_a_gateway_that_is_down_makes_buckets_wait_then_recover(
    site: Site, core_v1: client.CoreV1Api
) -> None:
    home, namespace = site.home, site.namespace
    home.create("buckets", bucket_manifest("steady", STORE, quota={"maxObjects": 5}))
    name = wait_ready(home, "buckets", "steady")["status"]["bucketName"]
    selector = f"storage.nimbus.dev/store={STORE},app.kubernetes.io/component=gateway"
    # Cordoned nodes keep the gateway's replacement Pending: down until they are uncordoned.
    _set_schedulable(core_v1, False)
    try:
        for pod in core_v1.list_namespaced_pod(namespace, label_selector=selector).items:
            assert pod.metadata is not None
            core_v1.delete_namespaced_pod(
                str(pod.metadata.name),
                namespace,
                body=client.V1DeleteOptions(grace_period_seconds=0),
            )
        wait_until(
            lambda: core_v1.list_namespaced_pod(namespace, label_selector=selector).items,
            lambda pods: all(p.spec is not None and not p.spec.node_name for p in pods),
            "the gateway down (its replacement unscheduled)",
            READY_TIMEOUT,
        )
        home.patch("buckets", "steady", {"spec": {"quota": {"maxObjects": 7}}})
        waiting = wait_not_ready(home, "buckets", "steady")
        assert ready(waiting)["reason"] in {"GatewayUnavailable", "GatewayError", "StoreNotReady"}
        assert waiting["status"]["phase"] == "Pending"
    finally:
        _set_schedulable(core_v1, True)
    wait_until(
        lambda: home.get("buckets", "steady"),
        is_ready,
        "the Bucket Ready again once the gateway is back",
        RECOVERY_TIMEOUT,
    )
    view = admin_client(core_v1, namespace, STORE).get_bucket(name)
    assert view is not None
    assert view["quota"]["maxObjects"] == 7


def test_an_operator_killed_mid_reconcile_converges_without_duplicates_or_leaks(
    site: Site, nimbus_operator: Operator, core_v1: client.CoreV1Api
) -> None:
    home, namespace = site.home, site.namespace
    home.create("buckets", bucket_manifest("crash-gen", STORE, generateBucketName="crash"))
    home.create("buckets", bucket_manifest("crash-default", STORE))
    claims = [("crash-gen", "ReadWrite", "crash-gen"), ("crash-default", "ReadOnly", "crash-d")]
    home.create("bucketaccesses", access_manifest("survivor", claims))
    wait_until(
        lambda: home.get("buckets", "crash-gen")["metadata"].get("finalizers") or [],
        bool,
        "the reconcile of the Buckets to have begun",
        READY_TIMEOUT,
    )
    pods = core_v1.list_namespaced_pod(nimbus_operator.namespace, label_selector=OPERATOR_LABEL)
    for pod in pods.items:
        assert pod.metadata is not None
        core_v1.delete_namespaced_pod(
            str(pod.metadata.name),
            nimbus_operator.namespace,
            body=client.V1DeleteOptions(grace_period_seconds=0),
        )

    timeout = RECOVERY_TIMEOUT
    generated = wait_until(
        lambda: home.get("buckets", "crash-gen"), is_ready, "crash-gen Ready", timeout
    )["status"]["bucketName"]
    wait_until(lambda: home.get("buckets", "crash-default"), is_ready, "Ready", timeout)
    access = wait_until(lambda: home.get("bucketaccesses", "survivor"), is_ready, "Ready", timeout)
    admin = admin_client(core_v1, namespace, STORE)
    buckets = [view["name"] for view in admin.call("GET", "buckets")]
    assert [b for b in buckets if b.startswith("crash-")] == [generated]
    assert f"{namespace}-crash-default" in buckets
    description = f"BucketAccess {namespace}/survivor"
    keys = [c["accessKey"] for c in admin.credentials() if c["description"] == description]
    assert keys == [access["status"]["accessKeyId"]]


def test_deletion_policy_delete_removes_the_bucket_and_its_objects_retain_keeps_them(
    site: Site, core_v1: client.CoreV1Api
) -> None:
    home, namespace = site.home, site.namespace
    home.create("buckets", bucket_manifest("doomed", STORE, deletionPolicy="Delete"))
    home.create("buckets", bucket_manifest("kept", STORE, deletionPolicy="Retain"))
    doomed = wait_ready(home, "buckets", "doomed")["status"]["bucketName"]
    kept = wait_ready(home, "buckets", "kept")["status"]["bucketName"]
    admin = admin_s3(core_v1, namespace)
    for bucket in (doomed, kept):
        admin.put_object(Bucket=bucket, Key="object", Body=b"data")

    home.delete("buckets", "doomed")
    home.delete("buckets", "kept")
    for name in ("doomed", "kept"):
        wait_gone(home, "buckets", name)
    store_admin = admin_client(core_v1, namespace, STORE)
    assert store_admin.get_bucket(doomed) is None
    retained = store_admin.get_bucket(kept)
    assert retained is not None
    assert retained["usage"]["objects"] == 1
    assert admin.get_object(Bucket=kept, Key="object")["Body"].read() == b"data"


def test_store_deletion_waits_for_its_buckets(site: Site) -> None:
    """Last: it deletes the module's store."""
    home = site.home
    home.create("buckets", bucket_manifest("anchor", STORE))
    wait_ready(home, "buckets", "anchor")
    home.delete("objectstores", STORE)
    blocked = wait_until(
        lambda: home.get("objectstores", STORE),
        lambda store: ready(store).get("reason") == "BucketsRemain",
        "the store's deletion blocked by its Buckets",
        READY_TIMEOUT,
    )
    assert f"{home.namespace}/anchor" in ready(blocked)["message"]
    assert home.exists("objectstores", STORE)

    for side in (home, site.away):  # the guest namespace's Buckets live in this store too
        buckets: Any = side.api.list_namespaced_custom_object(
            "storage.nimbus.dev", "v1alpha1", side.namespace, "buckets"
        )
        if side is site.away and buckets["items"]:
            assert f"{side.namespace}/" in ready(blocked)["message"], "other namespaces count"
        for item in buckets["items"]:
            side.delete("buckets", item["metadata"]["name"])
    wait_gone(home, "objectstores", STORE)
