"""``ExpectedBucketOwner`` / ``ExpectedSourceBucketOwner`` (the x-amz-(source-)expected-bucket-owner
headers): the bucket's owner ID passes, any other is 403 AccessDenied, with boto3, standalone
and in a cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import CopySourceTypeDef

from tests.functional.conftest import empty_and_delete, error_code

SOMEONE_ELSE = "111122223333"


@pytest.fixture
def owned(s3_in_each_mode: S3Client) -> Iterator[tuple[S3Client, str, str]]:
    """(client, bucket holding the object ``k``, the bucket's owner ID)."""
    s3 = s3_in_each_mode
    name = f"owned-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"body")
    yield s3, name, s3.get_bucket_acl(Bucket=name)["Owner"]["ID"]
    empty_and_delete(s3, name)


def test_the_owner_s_id_passes_on_bucket_and_object_requests(
    owned: tuple[S3Client, str, str],
) -> None:
    s3, name, owner = owned
    s3.head_bucket(Bucket=name, ExpectedBucketOwner=owner)
    assert s3.get_object(Bucket=name, Key="k", ExpectedBucketOwner=owner)["Body"].read() == b"body"
    s3.put_object(Bucket=name, Key="k2", Body=b"x", ExpectedBucketOwner=owner)
    listed = s3.list_objects_v2(Bucket=name, ExpectedBucketOwner=owner)
    assert [item["Key"] for item in listed["Contents"]] == ["k", "k2"]


def test_another_owner_s_id_is_access_denied_and_changes_nothing(
    owned: tuple[S3Client, str, str],
) -> None:
    s3, name, _ = owned
    assert error_code(lambda: s3.head_bucket(Bucket=name, ExpectedBucketOwner=SOMEONE_ELSE)) == (
        "403",
        403,
    )
    for call in (
        lambda: s3.get_object(Bucket=name, Key="k", ExpectedBucketOwner=SOMEONE_ELSE),
        lambda: s3.put_object(Bucket=name, Key="k", Body=b"new", ExpectedBucketOwner=SOMEONE_ELSE),
        lambda: s3.delete_object(Bucket=name, Key="k", ExpectedBucketOwner=SOMEONE_ELSE),
        lambda: s3.list_objects_v2(Bucket=name, ExpectedBucketOwner=SOMEONE_ELSE),
    ):
        assert error_code(call) == ("AccessDenied", 403)
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"body"


def test_a_copy_checks_the_source_bucket_s_owner(owned: tuple[S3Client, str, str]) -> None:
    s3, name, owner = owned
    source: CopySourceTypeDef = {"Bucket": name, "Key": "k"}
    assert error_code(
        lambda: s3.copy_object(
            Bucket=name, Key="copy", CopySource=source, ExpectedSourceBucketOwner=SOMEONE_ELSE
        )
    ) == ("AccessDenied", 403)
    s3.copy_object(Bucket=name, Key="copy", CopySource=source, ExpectedSourceBucketOwner=owner)
    assert s3.get_object(Bucket=name, Key="copy")["Body"].read() == b"body"
