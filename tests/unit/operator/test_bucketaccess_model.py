"""BucketAccess: bucket claims (COSI's shape), rotation settings, status."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from nimbus_operator.constants import ROTATE_ANNOTATION
from nimbus_operator.models.bucketaccess import (
    AccessedBucket,
    AccessMode,
    BucketAccess,
    BucketAccessPhase,
    BucketAccessSpec,
    BucketAccessStatus,
)
from nimbus_operator.models.common import SpecError

from tests.unit.operator.samples import BUCKET_ACCESSES


def claim(name: str = "logs", secret: str = "logs-creds", **extra: Any) -> dict[str, Any]:
    return {"bucketClaimName": name, "accessSecretName": secret, **extra}


def test_minimal_access_defaults() -> None:
    spec = BucketAccessSpec.from_body(BUCKET_ACCESSES["minimal"])
    (only,) = spec.bucket_claims
    assert only.access_mode is AccessMode.READ_WRITE
    assert spec.rotation.requested_at is None
    assert spec.rotation.grace_period == "1h"
    assert spec.rotation.grace_period_delta == timedelta(hours=1)


def test_full_access() -> None:
    access = BucketAccess.from_body(BUCKET_ACCESSES["full"])
    modes = [c.access_mode for c in access.spec.bucket_claims]
    assert modes == [AccessMode.READ_ONLY, AccessMode.WRITE_ONLY, AccessMode.READ_WRITE]
    assert access.spec.rotation.grace_period_delta == timedelta(hours=1, minutes=30)
    assert access.spec.rotation.requested_at == "2024-05-01T12:00:00Z"
    assert access.rotate_request is None


def test_rotate_annotation() -> None:
    assert ROTATE_ANNOTATION == "storage.nimbus.dev/rotate"
    body = BUCKET_ACCESSES["minimal"]
    annotated = {**body, "metadata": {**body["metadata"], "annotations": {ROTATE_ANNOTATION: "2"}}}
    assert BucketAccess.from_body(annotated).rotate_request == "2"


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({}, "spec.bucketClaims: is required"),
        ({"bucketClaims": []}, "spec.bucketClaims: must have at least 1 item(s) (got 0)"),
        (
            {"bucketClaims": [claim(f"b{i}", f"s{i}") for i in range(17)]},
            "spec.bucketClaims: must have at most 16 items (got 17)",
        ),
        ({"bucketClaims": [{"bucketClaimName": "logs"}]}, "spec.bucketClaims[0].accessSecretName"),
        ({"bucketClaims": [{"accessSecretName": "s"}]}, "spec.bucketClaims[0].bucketClaimName"),
        (
            {"bucketClaims": [claim(accessMode="Admin")]},
            "spec.bucketClaims[0].accessMode: must be one of ReadWrite, ReadOnly, WriteOnly",
        ),
        (
            {"bucketClaims": [claim("a", "s1"), claim("a", "s2")]},
            "spec.bucketClaims[1]: repeats bucketClaimName 'a': each item must be unique",
        ),
        (
            {"bucketClaims": [claim("a", "same"), claim("b", "same")]},
            "spec.bucketClaims: each bucket claim needs its own accessSecretName",
        ),
        (
            {"bucketClaims": [claim()], "rotation": {"gracePeriod": "1 hour"}},
            "spec.rotation.gracePeriod: must be a duration such as 1h, 30m or 90s",
        ),
        (
            {"bucketClaims": [claim()], "rotation": {"gracePeriod": "-1h"}},
            "spec.rotation.gracePeriod: must be a duration",
        ),
        (
            {"bucketClaims": [claim()], "rotation": {"requestedAt": "yesterday"}},
            "spec.rotation.requestedAt: must be an RFC 3339 time",
        ),
    ],
)
def test_bad_specs_name_the_field(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as raised:
        BucketAccessSpec.from_body({"spec": spec})
    assert str(raised.value).startswith(error)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s", timedelta(0)),
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(minutes=90)),
        ("1.5h", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
    ],
)
def test_grace_periods(text: str, expected: timedelta) -> None:
    spec = BucketAccessSpec.from_body(
        {"spec": {"bucketClaims": [claim()], "rotation": {"gracePeriod": text}}}
    )
    assert spec.rotation.grace_period_delta == expected


def test_status_dump_has_cosi_fields() -> None:
    status = BucketAccessStatus(
        observed_generation=1,
        phase=BucketAccessPhase.READY,
        ready_to_use=True,
        accessed_buckets=(
            AccessedBucket(
                bucket_claim_name="logs",
                bucket_name="logs-abc",
                access_secret_name="logs-creds",
                access_mode=AccessMode.READ_ONLY,
            ),
        ),
        access_key_id="NIMBUSKEY",
        last_rotation_time="2024-05-01T12:00:00Z",
    )
    body = status.to_body()
    assert body["readyToUse"] is True
    assert body["accessedBuckets"] == [
        {
            "bucketClaimName": "logs",
            "bucketName": "logs-abc",
            "accessSecretName": "logs-creds",
            "accessMode": "ReadOnly",
        }
    ]
    assert type(body["accessedBuckets"][0]["accessMode"]) is str
    assert BucketAccessStatus.from_body({"status": body}) == status
