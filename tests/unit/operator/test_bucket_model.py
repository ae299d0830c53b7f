"""Bucket: S3 naming rules, name generation, versioning, quota, lifecycle, policy."""

from __future__ import annotations

from typing import Any

import pytest
from nimbus_operator.models.bucket import (
    Bucket,
    BucketPhase,
    BucketSpec,
    BucketStatus,
    DeletionPolicy,
    Versioning,
)
from nimbus_operator.models.common import SpecError

from tests.unit.operator.samples import BUCKETS

STORE = {"storeRef": {"name": "store"}}


def test_minimal_bucket_defaults() -> None:
    spec = BucketSpec.from_body(BUCKETS["minimal"])
    assert spec.store_ref.name == "store"
    assert spec.bucket_name is None
    assert spec.generate_bucket_name is None
    assert spec.storage_policy is None
    assert spec.versioning is Versioning.DISABLED
    assert spec.deletion_policy is DeletionPolicy.RETAIN
    assert (spec.quota, spec.lifecycle, spec.policy, spec.owner_secret) == (None,) * 4


def test_full_bucket() -> None:
    bucket = Bucket.from_body(BUCKETS["full"])
    spec = bucket.spec
    assert spec.bucket_name == "team-a.logs-2024"
    assert spec.versioning is Versioning.ENABLED
    assert spec.quota is not None
    assert spec.quota.max_size_bytes == 100 * 2**30
    assert spec.quota.max_objects == 1_000_000
    assert spec.lifecycle is not None
    first, second = spec.lifecycle.rules
    assert (first.id, first.prefix, first.expiration_days, first.enabled) == (
        "expire-tmp",
        "tmp/",
        7,
        True,
    )
    assert second.enabled is False
    assert spec.policy is not None
    assert spec.policy.statements[0]["Action"] == ["s3:GetObject"]
    assert bucket.owner_secret_name == "logs-owner"


def test_owner_secret_name_defaults_to_the_bucket_name() -> None:
    assert Bucket.from_body(BUCKETS["generated-name"]).owner_secret_name == "sample-owner"
    assert Bucket.from_body(BUCKETS["minimal"]).owner_secret_name is None


def test_policy_statements_are_copied_not_shared() -> None:
    body = BUCKETS["full"]
    spec = BucketSpec.from_body(body)
    assert spec.policy is not None
    assert spec.policy.statements[0] is not body["spec"]["policy"]["statements"][0]


@pytest.mark.parametrize(
    "name", ["abc", "a-b.c", "0123456789", "a" * 63, "my.bucket.example.com", "x1-"[:2] + "z"]
)
def test_valid_bucket_names(name: str) -> None:
    assert BucketSpec.from_body({"spec": {**STORE, "bucketName": name}}).bucket_name == name


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("ab", "must be at least 3 characters long"),
        ("a" * 64, "must be at most 63 characters long"),
        ("Logs", "must be lowercase letters, digits, '.' and '-'"),
        ("logs_2024", "must be lowercase letters, digits, '.' and '-'"),
        ("-logs", "must be lowercase letters"),
        ("logs.", "must be lowercase letters"),
        ("logs\n", "must be lowercase letters"),
        ("my..bucket", "must not contain two adjacent periods (got 'my..bucket')"),
        ("192.168.5.4", "must not be formatted as an IP address"),
        ("xn--bucket", "must not start with xn--, sthree-, amzn-s3-demo-"),
        ("sthree-bucket", "must not start with"),
        ("bucket-s3alias", "must not end with -s3alias"),
        ("bucket--ol-s3", "must not end with"),
    ],
)
def test_invalid_bucket_names(name: str, error: str) -> None:
    with pytest.raises(SpecError) as raised:
        BucketSpec.from_body({"spec": {**STORE, "bucketName": name}})
    assert str(raised.value).startswith(f"spec.bucketName: {error}")


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({}, "spec.storeRef: is required"),
        ({"storeRef": {}}, "spec.storeRef.name: is required"),
        ({"storeRef": "store"}, "spec.storeRef: must be an object"),
        (
            {**STORE, "bucketName": "abc", "generateBucketName": "abc"},
            "spec: set at most one of bucketName and generateBucketName",
        ),
        ({**STORE, "generateBucketName": "a" * 55}, "spec.generateBucketName: must be at most 54"),
        ({**STORE, "generateBucketName": "logs-"}, "spec.generateBucketName: must be lowercase"),
        ({**STORE, "generateBucketName": "a..b"}, "spec.generateBucketName: must not contain"),
        ({**STORE, "storagePolicy": "EC"}, "spec.storagePolicy: must be a Kubernetes object name"),
        ({**STORE, "versioning": "On"}, "spec.versioning: must be one of Enabled, Suspended"),
        (
            {**STORE, "deletionPolicy": "Orphan"},
            "spec.deletionPolicy: must be one of Retain, Delete",
        ),
        ({**STORE, "quota": {"maxSize": "lots"}}, "spec.quota.maxSize: must be a quantity"),
        ({**STORE, "quota": {"maxObjects": -1}}, "spec.quota.maxObjects: must be at least 0"),
        (
            {**STORE, "lifecycle": {"rules": [{"id": "r"}]}},
            "spec.lifecycle.rules[0]: set at least one action: expirationDays, "
            "noncurrentVersionExpirationDays, abortIncompleteMultipartUploadDays",
        ),
        (
            {**STORE, "lifecycle": {"rules": [{"expirationDays": 1}]}},
            "spec.lifecycle.rules[0].id: is required",
        ),
        (
            {**STORE, "lifecycle": {"rules": [{"id": "r", "expirationDays": 0}]}},
            "spec.lifecycle.rules[0].expirationDays: must be at least 1 (got 0)",
        ),
        (
            {
                **STORE,
                "lifecycle": {
                    "rules": [{"id": "r", "expirationDays": 1}, {"id": "r", "expirationDays": 2}]
                },
            },
            "spec.lifecycle.rules[1]: repeats id 'r': each item must be unique",
        ),
        (
            {
                **STORE,
                "lifecycle": {"rules": [{"id": f"r{i}", "expirationDays": 1} for i in range(101)]},
            },
            "spec.lifecycle.rules: must have at most 100 items (got 101)",
        ),
        ({**STORE, "policy": {"statements": ["allow"]}}, "spec.policy.statements[0]: must be an"),
        (
            {**STORE, "ownerSecret": {"name": "Owner"}},
            "spec.ownerSecret.name: must be a Kubernetes",
        ),
    ],
)
def test_bad_specs_name_the_field(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as raised:
        BucketSpec.from_body({"spec": spec})
    assert str(raised.value).startswith(error)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Disabled", "Enabled"),
        ("Disabled", "Suspended"),
        ("Enabled", "Suspended"),
        ("Suspended", "Enabled"),
        ("Enabled", "Enabled"),
    ],
)
def test_allowed_versioning_changes(old: str, new: str) -> None:
    BucketSpec.check_update(
        {"spec": {**STORE, "versioning": old}}, {"spec": {**STORE, "versioning": new}}
    )


@pytest.mark.parametrize("old", ["Enabled", "Suspended"])
def test_versioning_cannot_be_disabled_once_enabled(old: str) -> None:
    with pytest.raises(SpecError) as raised:
        BucketSpec.check_update(
            {"spec": {**STORE, "versioning": old}}, {"spec": {**STORE, "versioning": "Disabled"}}
        )
    assert str(raised.value) == (
        "spec.versioning: versioning cannot be disabled once enabled; use Suspended"
    )


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ({}, {"storeRef": {"name": "other"}}, "spec.storeRef: storeRef cannot change"),
        ({"bucketName": "abc"}, {"bucketName": "abd"}, "spec: bucketName cannot be added"),
        ({"bucketName": "abc"}, {}, "spec: bucketName cannot be added"),
        ({}, {"bucketName": "abc"}, "spec: bucketName cannot be added"),
        ({"generateBucketName": "a"}, {}, "spec: generateBucketName cannot be added"),
        ({}, {"storagePolicy": "ec"}, "spec: storagePolicy cannot be added"),
    ],
)
def test_identity_fields_are_immutable(
    old: dict[str, Any], new: dict[str, Any], error: str
) -> None:
    with pytest.raises(SpecError) as raised:
        BucketSpec.check_update({"spec": {**STORE, **old}}, {"spec": {**STORE, **new}})
    assert str(raised.value).startswith(error)


def test_mutable_fields_can_change() -> None:
    old = {**STORE, "bucketName": "abc", "quota": {"maxObjects": 1}, "deletionPolicy": "Retain"}
    new = {**old, "quota": {"maxObjects": 2}, "deletionPolicy": "Delete"}
    BucketSpec.check_update({"spec": old}, {"spec": new})


def test_status_round_trip() -> None:
    status = BucketStatus(
        observed_generation=3,
        phase=BucketPhase.READY,
        bucket_name="logs-x1y2z3w4",
        endpoint="http://s3.apps.svc",
        storage_policy="default",
        used_bytes=10,
        objects=1,
        config_map_name="logs",
        owner_secret_name="logs-owner",
    )
    assert BucketStatus.from_body({"status": status.to_body()}) == status
