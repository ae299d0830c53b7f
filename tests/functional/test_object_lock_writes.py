"""Object Lock through boto3, in standalone and cluster mode: the writes that name a lock
(PutObject, CopyObject, multipart uploads, browser POST uploads), who sees a version's lock,
lifecycle and the admin API, which leave locked versions where they are."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.access_support import plain_user, signed
from tests.functional.conftest import GatewayHandle, error_code
from tests.functional.lock_support import DENIED, later, lock_bucket, versions_of
from tests.functional.test_admin import admin
from tests.functional.test_post_object import post

__all__ = ["lock_bucket"]  # a fixture


# --- writes that name a lock ----------------------------------------------------------------


def test_put_and_copy_with_lock_headers(s3_in_each_mode: S3Client, lock_bucket: str) -> None:
    s3 = s3_in_each_mode
    until = later(3)
    s3.put_object(
        Bucket=lock_bucket,
        Key="src",
        Body=b"source",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )
    head = s3.head_object(Bucket=lock_bucket, Key="src")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", until)
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    got = s3.get_object(Bucket=lock_bucket, Key="src")
    assert (got["ObjectLockMode"], got["ObjectLockLegalHoldStatus"]) == ("COMPLIANCE", "ON")
    # A copy does not inherit its source's lock; it gets the one it names.
    s3.copy_object(
        Bucket=lock_bucket, Key="plain", CopySource={"Bucket": lock_bucket, "Key": "src"}
    )
    assert "ObjectLockMode" not in s3.head_object(Bucket=lock_bucket, Key="plain")
    s3.copy_object(
        Bucket=lock_bucket,
        Key="locked",
        CopySource={"Bucket": lock_bucket, "Key": "src"},
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
    )
    head = s3.head_object(Bucket=lock_bucket, Key="locked")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", until)
    assert "ObjectLockLegalHoldStatus" not in head


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"x-amz-object-lock-mode": "GOVERNANCE"}, "InvalidArgument"),
        ({"x-amz-object-lock-retain-until-date": "2099-01-01T00:00:00Z"}, "InvalidArgument"),
        (
            {
                "x-amz-object-lock-mode": "FOREVER",
                "x-amz-object-lock-retain-until-date": "2099-01-01T00:00:00Z",
            },
            "InvalidArgument",
        ),
        (
            {
                "x-amz-object-lock-mode": "GOVERNANCE",
                "x-amz-object-lock-retain-until-date": "2001-01-01T00:00:00Z",
            },
            "InvalidArgument",
        ),
        (
            {
                "x-amz-object-lock-mode": "GOVERNANCE",
                "x-amz-object-lock-retain-until-date": "tomorrow",
            },
            "InvalidArgument",
        ),
        ({"x-amz-object-lock-legal-hold": "on"}, "InvalidArgument"),
    ],
)
def test_bad_lock_headers_store_nothing(
    gateway_in_each_mode: GatewayHandle, lock_bucket: str, headers: dict[str, str], code: str
) -> None:
    status, _headers, answer = signed(
        gateway_in_each_mode, "PUT", f"{lock_bucket}/bad", b"data", headers
    )
    assert status == 400
    assert f"<Code>{code}</Code>".encode() in answer
    s3 = gateway_in_each_mode.client()
    assert "Versions" not in s3.list_object_versions(Bucket=lock_bucket, Prefix="bad")


def test_lock_headers_need_their_read_permissions(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, lock_bucket: str
) -> None:
    s3 = s3_in_each_mode
    s3.put_object(
        Bucket=lock_bucket,
        Key="k",
        Body=b"k",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=later(1),
        ObjectLockLegalHoldStatus="ON",
    )
    with plain_user(gateway_in_each_mode) as (reader_key, reader):

        def allow(*actions: str) -> None:
            statement = {
                "Effect": "Allow",
                "Principal": {"AWS": [reader_key]},
                "Action": list(actions),
                "Resource": f"arn:aws:s3:::{lock_bucket}/*",
            }
            document = {"Version": "2012-10-17", "Statement": [statement]}
            s3.put_bucket_policy(Bucket=lock_bucket, Policy=json.dumps(document))

        try:
            allow("s3:GetObject")
            head = reader.head_object(Bucket=lock_bucket, Key="k")
            assert "ObjectLockMode" not in head
            assert "ObjectLockLegalHoldStatus" not in head
            allow("s3:GetObject", "s3:GetObjectRetention")
            head = reader.head_object(Bucket=lock_bucket, Key="k")
            assert head["ObjectLockMode"] == "GOVERNANCE"
            assert "ObjectLockLegalHoldStatus" not in head
            allow("s3:GetObject", "s3:GetObjectLegalHold")
            head = reader.head_object(Bucket=lock_bucket, Key="k")
            assert "ObjectLockMode" not in head
            assert head["ObjectLockLegalHoldStatus"] == "ON"
        finally:
            s3.delete_bucket_policy(Bucket=lock_bucket)


def test_uploads_without_lock_headers_get_the_default_retention(
    gateway_in_each_mode: GatewayHandle, lock_bucket: str
) -> None:
    """A browser POST upload names no lock (its lock fields are 501); the bucket's default
    retention still applies, as it does to every new version."""
    s3 = gateway_in_each_mode.client(signature_version="s3v4")
    rule: Any = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
    }
    s3.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration=rule)
    form = s3.generate_presigned_post(lock_bucket, "posted")
    reply = post(form["url"], dict(form["fields"]), b"from a browser")
    assert reply.status == 204
    head = s3.head_object(Bucket=lock_bucket, Key="posted")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert (
        error_code(
            lambda: s3.delete_object(
                Bucket=lock_bucket, Key="posted", VersionId=reply.headers["x-amz-version-id"]
            )
        )
        == DENIED
    )


def test_multipart_uploads_take_their_lock_at_creation(
    s3_in_each_mode: S3Client, lock_bucket: str
) -> None:
    s3 = s3_in_each_mode
    until = later(2)

    def upload(key: str, **lock: Any) -> str:
        created = s3.create_multipart_upload(Bucket=lock_bucket, Key=key, **lock)
        part = s3.upload_part(
            Bucket=lock_bucket, Key=key, UploadId=created["UploadId"], PartNumber=1, Body=b"p"
        )
        done = s3.complete_multipart_upload(
            Bucket=lock_bucket,
            Key=key,
            UploadId=created["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
        return done["VersionId"]

    version = upload(
        "named",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )
    head = s3.head_object(Bucket=lock_bucket, Key="named")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", until)
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    assert not any(name.startswith("x-nimbus") for name in head["ResponseMetadata"]["HTTPHeaders"])
    assert (
        error_code(lambda: s3.delete_object(Bucket=lock_bucket, Key="named", VersionId=version))
        == DENIED
    )
    # An upload naming no lock gets the default retention in force when it completes.
    created = s3.create_multipart_upload(Bucket=lock_bucket, Key="default")
    rule: Any = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    }
    s3.put_object_lock_configuration(Bucket=lock_bucket, ObjectLockConfiguration=rule)
    s3.abort_multipart_upload(Bucket=lock_bucket, Key="default", UploadId=created["UploadId"])
    upload("default")
    assert s3.head_object(Bucket=lock_bucket, Key="default")["ObjectLockMode"] == "GOVERNANCE"
    # A bad lock is refused at creation; no upload is left.
    assert error_code(
        lambda: s3.create_multipart_upload(
            Bucket=lock_bucket,
            Key="bad",
            ObjectLockMode="GOVERNANCE",
            ObjectLockRetainUntilDate=later(-1),
        )
    ) == ("InvalidArgument", 400)
    assert s3.list_multipart_uploads(Bucket=lock_bucket).get("Uploads", []) == []


def test_a_multipart_lock_in_a_bucket_without_object_lock(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    assert error_code(
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", ObjectLockLegalHoldStatus="ON")
    ) == ("InvalidRequest", 400)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


# --- lifecycle --------------------------------------------------------------------------------


def test_lifecycle_leaves_locked_versions(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, lock_bucket: str
) -> None:
    from nimbus_storage.gateway import janitor

    s3 = s3_in_each_mode
    held = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"held")["VersionId"]
    s3.put_object_legal_hold(
        Bucket=lock_bucket, Key="k", VersionId=held, LegalHold={"Status": "ON"}
    )
    retained = s3.put_object(
        Bucket=lock_bucket,
        Key="k",
        Body=b"retained",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=later(20),
    )["VersionId"]
    free = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"free")["VersionId"]
    s3.put_object(Bucket=lock_bucket, Key="k", Body=b"current")
    s3.put_bucket_lifecycle_configuration(
        Bucket=lock_bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "old-versions",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                }
            ]
        },
    )
    services = gateway_in_each_mode.gateway.services
    report = gateway_in_each_mode.call(janitor.run_pass(services, now=later(10).timestamp()))
    assert report.kept_locked >= 2
    remaining = versions_of(s3, lock_bucket, "k")
    assert held in remaining
    assert retained in remaining
    assert free not in remaining
    # Past the retention's date, lifecycle removes that version too; the hold still keeps its.
    gateway_in_each_mode.call(janitor.run_pass(services, now=later(30).timestamp()))
    remaining = versions_of(s3, lock_bucket, "k")
    assert held in remaining
    assert retained not in remaining
    s3.delete_bucket_lifecycle(Bucket=lock_bucket)


# --- the admin API ----------------------------------------------------------------------------


def test_the_admin_cannot_remove_locked_versions(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client
) -> None:
    s3, gateway = s3_in_each_mode, gateway_in_each_mode
    name = f"lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    held = s3.put_object(Bucket=name, Key="held", Body=b"h", ObjectLockLegalHoldStatus="ON")
    for index in range(3):
        s3.put_object(Bucket=name, Key=f"free-{index}", Body=b"f")
    status, view = admin(gateway, "GET", f"buckets/{name}")
    assert (status, view["objectLock"], view["versioning"]) == (200, True, "Enabled")
    status, answer = admin(
        gateway, "PUT", f"buckets/{name}", {"owner": view["owner"], "versioning": "Suspended"}
    )
    assert (status, answer["error"]) == (409, "InvalidBucketState")
    status, answer = admin(gateway, "DELETE", f"buckets/{name}?purge=true")
    assert (status, answer["error"]) == (409, "BucketNotEmpty")
    assert "1 versions" in answer["message"]
    assert "3 other versions were purged" in answer["message"]
    assert versions_of(s3, name, "held") == [held["VersionId"]]
    assert versions_of(s3, name, "free-0") == []
    s3.put_object_legal_hold(Bucket=name, Key="held", LegalHold={"Status": "OFF"})
    status, answer = admin(gateway, "DELETE", f"buckets/{name}?purge=true")
    assert (status, answer) == (200, {"deleted": True, "purgedVersions": 1})
