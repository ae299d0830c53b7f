"""Object Lock through boto3, in standalone and cluster mode: buckets created with a lock or
given one, default retention, per-version retention (GOVERNANCE and its bypass, COMPLIANCE) and
legal holds, and what each lets remove (test_object_lock_writes.py: the writes that name a lock,
lifecycle, the admin API)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.access_support import plain_user, signed
from tests.functional.conftest import GatewayHandle, error_code
from tests.functional.lock_support import (
    DENIED,
    later,
    lock_bucket,
    release_and_delete,
    versions_of,
)

__all__ = ["lock_bucket"]  # a fixture


# --- the bucket's configuration ---------------------------------------------------------------


def test_bucket_created_with_lock(s3_in_each_mode: S3Client, lock_bucket: str) -> None:
    s3 = s3_in_each_mode
    assert s3.get_bucket_versioning(Bucket=lock_bucket)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}
    assert error_code(
        lambda: s3.put_bucket_versioning(
            Bucket=lock_bucket, VersioningConfiguration={"Status": "Suspended"}
        )
    ) == ("InvalidBucketState", 409)
    assert s3.get_bucket_versioning(Bucket=lock_bucket)["Status"] == "Enabled"


def test_default_retention_applies_to_new_versions(
    s3_in_each_mode: S3Client, lock_bucket: str
) -> None:
    s3 = s3_in_each_mode
    rule = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}},
    }
    s3.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration=rule)  # type: ignore[arg-type]
    assert s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"] == rule
    before = datetime.now(UTC)
    version = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"kept")["VersionId"]
    head = s3.head_object(Bucket=lock_bucket, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert before + timedelta(days=2) - timedelta(seconds=1) <= until
    assert until <= datetime.now(UTC) + timedelta(days=2)
    assert "ObjectLockLegalHoldStatus" not in head
    assert s3.get_object_retention(Bucket=lock_bucket, Key="k")["Retention"]["Mode"] == "GOVERNANCE"
    # The version cannot be removed; a DELETE without a version id only adds a delete marker.
    assert (
        error_code(lambda: s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=version))
        == DENIED
    )
    marker = s3.delete_object(Bucket=lock_bucket, Key="k")
    assert marker["DeleteMarker"] is True
    assert versions_of(s3, lock_bucket, "k") == [version]
    assert s3.get_object(Bucket=lock_bucket, Key="k", VersionId=version)["Body"].read() == b"kept"
    # A year-long COMPLIANCE default replaces it for versions written from now on.
    rule = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}},
    }
    s3.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration=rule)
    s3.put_object(Bucket=lock_bucket, Key="y", Body=b"y")
    head = s3.head_object(Bucket=lock_bucket, Key="y")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=364)


def test_lock_on_an_existing_versioned_bucket(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    enabled = {"ObjectLockEnabled": "Enabled"}
    assert error_code(
        lambda: s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=enabled)  # type: ignore[arg-type]
    ) == ("InvalidBucketState", 409)
    assert error_code(lambda: s3.get_object_lock_configuration(Bucket=bucket)) == (
        "ObjectLockConfigurationNotFoundError",
        404,
    )
    s3.put_object(Bucket=bucket, Key="before", Body=b"b")
    assert error_code(
        lambda: s3.put_object_retention(
            Bucket=bucket,
            Key="before",
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(1)},
        )
    ) == ("InvalidRequest", 400)
    assert error_code(lambda: s3.get_object_retention(Bucket=bucket, Key="before")) == (
        "InvalidRequest",
        400,
    )
    assert error_code(
        lambda: s3.put_object_legal_hold(Bucket=bucket, Key="before", LegalHold={"Status": "ON"})
    ) == ("InvalidRequest", 400)
    assert error_code(lambda: s3.get_object_legal_hold(Bucket=bucket, Key="before")) == (
        "InvalidRequest",
        400,
    )
    assert error_code(
        lambda: s3.put_object(
            Bucket=bucket,
            Key="asks",
            Body=b"x",
            ObjectLockMode="GOVERNANCE",
            ObjectLockRetainUntilDate=later(1),
        )
    ) == ("InvalidRequest", 400)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="asks")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=enabled)  # type: ignore[arg-type]
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == enabled
    s3.put_object_legal_hold(Bucket=bucket, Key="before", LegalHold={"Status": "ON"})
    assert (
        error_code(lambda: s3.delete_object(Bucket=bucket, Key="before", VersionId="null"))
        == DENIED
    )
    s3.put_object_legal_hold(Bucket=bucket, Key="before", LegalHold={"Status": "OFF"})


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}},
            },
            ("MalformedXML", 400),
        ),
        (
            {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 0}},
            },
            ("InvalidRetentionPeriod", 400),
        ),
        (
            {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": -1}},
            },
            ("InvalidRetentionPeriod", 400),
        ),
        (
            {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "governance", "Years": 1}},
            },
            ("MalformedXML", 400),
        ),
        (
            {
                "ObjectLockEnabled": "Disabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 1}},
            },
            ("MalformedXML", 400),
        ),
        (
            {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE"}}},
            ("MalformedXML", 400),
        ),
    ],
)
def test_bad_configurations(
    s3_in_each_mode: S3Client, lock_bucket: str, document: Any, expected: tuple[str, int]
) -> None:
    s3 = s3_in_each_mode
    assert (
        error_code(
            lambda: s3.put_object_lock_configuration(
                Bucket=lock_bucket, ObjectLockConfiguration=document
            )
        )
        == expected
    )
    assert s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"
    }


def test_malformed_documents(gateway_in_each_mode: GatewayHandle, lock_bucket: str) -> None:
    s3 = gateway_in_each_mode.client()
    s3.put_object(Bucket=lock_bucket, Key="k", Body=b"k")
    for path, body in (
        (
            f"{lock_bucket}?object-lock",
            b"<ObjectLockConfiguration><Nope/></ObjectLockConfiguration>",
        ),
        (f"{lock_bucket}/k?retention", b"<Retention><Mode>GOVERNANCE</Mode></Retention>"),
        (
            f"{lock_bucket}/k?retention",
            b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>soon</RetainUntilDate></Retention>",
        ),
        (f"{lock_bucket}/k?legal-hold", b"<LegalHold><Status>on</Status></LegalHold>"),
        (f"{lock_bucket}/k?legal-hold", b"not xml"),
    ):
        status, _headers, answer = signed(gateway_in_each_mode, "PUT", path, body)
        assert (status, b"<Code>MalformedXML</Code>" in answer) == (400, True), (path, body, answer)
    assert error_code(lambda: s3.get_object_retention(Bucket=lock_bucket, Key="k")) == (
        "NoSuchObjectLockConfiguration",
        404,
    )
    assert s3.get_object_legal_hold(Bucket=lock_bucket, Key="k")["LegalHold"] == {"Status": "OFF"}


# --- retention ------------------------------------------------------------------------------


def test_governance_retention_and_its_bypass(s3_in_each_mode: S3Client, lock_bucket: str) -> None:
    s3 = s3_in_each_mode
    first = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"1")["VersionId"]
    second = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"2")["VersionId"]
    retention: Any = {"Mode": "GOVERNANCE", "RetainUntilDate": later(30)}
    s3.put_object_retention(Bucket=lock_bucket, Key="k", VersionId=first, Retention=retention)
    got = s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=first)["Retention"]
    assert got == retention
    assert error_code(lambda: s3.get_object_retention(Bucket=lock_bucket, Key="k")) == (
        "NoSuchObjectLockConfiguration",
        404,
    )  # the latest version has none
    # Extending is allowed; shortening, changing the mode or removing needs the bypass.
    longer: Any = {"Mode": "GOVERNANCE", "RetainUntilDate": later(60)}
    s3.put_object_retention(Bucket=lock_bucket, Key="k", VersionId=first, Retention=longer)
    changes: list[Any] = [retention, {"Mode": "COMPLIANCE", "RetainUntilDate": later(90)}, {}]
    for change in changes:
        assert (
            error_code(
                partial(
                    s3.put_object_retention,
                    Bucket=lock_bucket,
                    Key="k",
                    VersionId=first,
                    Retention=change,
                )
            )
            == DENIED
        )
    assert (
        s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=first)["Retention"] == longer
    )
    s3.put_object_retention(
        Bucket=lock_bucket,
        Key="k",
        VersionId=first,
        Retention=retention,
        BypassGovernanceRetention=True,
    )
    assert (
        s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=first)["Retention"]
        == retention
    )
    # The version stays until a delete bypasses its retention; the other version goes freely.
    assert (
        error_code(lambda: s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=first)) == DENIED
    )
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=second)
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=first, BypassGovernanceRetention=True)
    assert versions_of(s3, lock_bucket, "k") == []


def test_compliance_retention_cannot_be_bypassed(
    s3_in_each_mode: S3Client, lock_bucket: str
) -> None:
    s3 = s3_in_each_mode
    version = s3.put_object(Bucket=lock_bucket, Key="c", Body=b"c")["VersionId"]
    retention: Any = {"Mode": "COMPLIANCE", "RetainUntilDate": later(30)}
    s3.put_object_retention(Bucket=lock_bucket, Key="c", Retention=retention)
    changes: list[Any] = [
        {"Mode": "COMPLIANCE", "RetainUntilDate": later(10)},
        {"Mode": "GOVERNANCE", "RetainUntilDate": later(60)},
        {},
    ]
    for change in changes:
        assert (
            error_code(
                partial(
                    s3.put_object_retention,
                    Bucket=lock_bucket,
                    Key="c",
                    Retention=change,
                    BypassGovernanceRetention=True,
                )
            )
            == DENIED
        )
    assert (
        error_code(
            lambda: s3.delete_object(
                Bucket=lock_bucket, Key="c", VersionId=version, BypassGovernanceRetention=True
            )
        )
        == DENIED
    )
    batch = s3.delete_objects(
        Bucket=lock_bucket,
        Delete={"Objects": [{"Key": "c", "VersionId": version}]},
        BypassGovernanceRetention=True,
    )
    assert [(e["Key"], e["Code"]) for e in batch["Errors"]] == [("c", "AccessDenied")]
    assert "Deleted" not in batch
    longer: Any = {"Mode": "COMPLIANCE", "RetainUntilDate": later(40)}
    s3.put_object_retention(Bucket=lock_bucket, Key="c", Retention=longer)
    assert s3.get_object_retention(Bucket=lock_bucket, Key="c")["Retention"] == longer
    assert s3.get_object(Bucket=lock_bucket, Key="c", VersionId=version)["Body"].read() == b"c"


def test_retention_dates_and_modes(s3_in_each_mode: S3Client, lock_bucket: str) -> None:
    s3 = s3_in_each_mode
    s3.put_object(Bucket=lock_bucket, Key="k", Body=b"k")
    past: Any = {"Mode": "GOVERNANCE", "RetainUntilDate": later(-1)}
    assert error_code(
        lambda: s3.put_object_retention(Bucket=lock_bucket, Key="k", Retention=past)
    ) == ("InvalidArgument", 400)
    bad: Any = {"Mode": "governance", "RetainUntilDate": later(1)}
    assert error_code(
        lambda: s3.put_object_retention(Bucket=lock_bucket, Key="k", Retention=bad)
    ) == ("MalformedXML", 400)
    assert error_code(
        lambda: s3.put_object_retention(
            Bucket=lock_bucket,
            Key="k",
            VersionId="nope",
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(1)},
        )
    ) == ("NoSuchVersion", 404)
    assert error_code(
        lambda: s3.put_object_retention(
            Bucket=lock_bucket,
            Key="absent",
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(1)},
        )
    ) == ("NoSuchKey", 404)


def test_bypass_needs_its_permission(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client
) -> None:
    """The owner may bypass unless a policy denies it; another user only if allowed it."""
    with (
        plain_user(gateway_in_each_mode) as (owner_key, owner),
        plain_user(gateway_in_each_mode) as (other_key, other),
    ):
        name = f"lock-{uuid.uuid4().hex[:12]}"
        owner.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
        try:
            version = owner.put_object(
                Bucket=name,
                Key="k",
                Body=b"k",
                ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=later(5),
            )["VersionId"]

            def allow(*actions: str, deny: str | None = None) -> None:
                statements: list[dict[str, Any]] = [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": [other_key]},
                        "Action": list(actions),
                        "Resource": f"arn:aws:s3:::{name}/*",
                    }
                ]
                if deny:
                    statements.append(
                        {
                            "Effect": "Deny",
                            "Principal": {"AWS": [owner_key]},
                            "Action": deny,
                            "Resource": f"arn:aws:s3:::{name}/*",
                        }
                    )
                owner.put_bucket_policy(
                    Bucket=name,
                    Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}),
                )

            allow("s3:DeleteObjectVersion", deny="s3:BypassGovernanceRetention")
            delete = {
                "Bucket": name,
                "Key": "k",
                "VersionId": version,
                "BypassGovernanceRetention": True,
            }
            assert error_code(lambda: other.delete_object(**delete)) == DENIED  # type: ignore[arg-type]
            assert error_code(lambda: owner.delete_object(**delete)) == DENIED  # type: ignore[arg-type]
            allow("s3:DeleteObjectVersion", "s3:BypassGovernanceRetention")
            other.delete_object(**delete)  # type: ignore[arg-type]
            assert versions_of(owner, name, "k") == []
        finally:
            owner.delete_bucket_policy(Bucket=name)
            release_and_delete(s3_in_each_mode, name)


# --- legal hold -----------------------------------------------------------------------------


def test_legal_hold_keeps_a_version_whatever_its_retention(
    s3_in_each_mode: S3Client, lock_bucket: str
) -> None:
    s3 = s3_in_each_mode
    version = s3.put_object(Bucket=lock_bucket, Key="h", Body=b"h")["VersionId"]
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="h", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=lock_bucket, Key="h")["LegalHold"] == {"Status": "ON"}
    assert s3.head_object(Bucket=lock_bucket, Key="h")["ObjectLockLegalHoldStatus"] == "ON"
    for bypass in (False, True):
        assert (
            error_code(
                partial(
                    s3.delete_object,
                    Bucket=lock_bucket,
                    Key="h",
                    VersionId=version,
                    BypassGovernanceRetention=bypass,
                )
            )
            == DENIED
        )
    # A retention can come and go under the hold: the hold is independent of it.
    s3.put_object_retention(
        Bucket=lock_bucket, Key="h", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(1)}
    )
    s3.put_object_retention(
        Bucket=lock_bucket, Key="h", Retention={}, BypassGovernanceRetention=True
    )
    assert s3.get_object_legal_hold(Bucket=lock_bucket, Key="h")["LegalHold"] == {"Status": "ON"}
    assert (
        error_code(lambda: s3.delete_object(Bucket=lock_bucket, Key="h", VersionId=version))
        == DENIED
    )
    s3.put_object_legal_hold(Bucket=lock_bucket, Key="h", LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket=lock_bucket, Key="h")["LegalHold"] == {"Status": "OFF"}
    s3.delete_object(Bucket=lock_bucket, Key="h", VersionId=version)
    assert versions_of(s3, lock_bucket, "h") == []
