"""What the Object Lock tests share: a bucket with Object Lock (cleaned up as far as the locks
allow), retain-until dates, the versions of a key."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client

DENIED = ("AccessDenied", 403)


def later(days: float) -> datetime:
    """A retain-until date ``days`` from now, in whole seconds (as it comes back)."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def release_and_delete(s3: S3Client, name: str) -> None:
    """Remove what a test left: legal holds off, GOVERNANCE bypassed. COMPLIANCE versions stay
    until their date, and so does their bucket (in the test's temporary directory)."""
    versions = s3.list_object_versions(Bucket=name)
    for entry in versions.get("Versions", []):
        s3.put_object_legal_hold(
            Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"], LegalHold={"Status": "OFF"}
        )
    found = [(v["Key"], v["VersionId"]) for v in versions.get("Versions", [])]
    found += [(m["Key"], m["VersionId"]) for m in versions.get("DeleteMarkers", [])]
    for key, version_id in found:
        with contextlib.suppress(ClientError):  # COMPLIANCE
            s3.delete_object(
                Bucket=name, Key=key, VersionId=version_id, BypassGovernanceRetention=True
            )
    with contextlib.suppress(ClientError):
        s3.delete_bucket(Bucket=name)


@pytest.fixture
def lock_bucket(s3_in_each_mode: S3Client) -> Iterator[str]:
    name = f"lock-{uuid.uuid4().hex[:12]}"
    s3_in_each_mode.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    release_and_delete(s3_in_each_mode, name)


def versions_of(s3: S3Client, bucket: str, key: str) -> list[str]:
    found = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return [v["VersionId"] for v in found if v["Key"] == key]
