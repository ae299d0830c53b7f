"""Object Ownership (ownership controls), through boto3, standalone and on a cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any, cast

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.access_support import code_of, plain_user, signed
from tests.functional.conftest import ROOT_ACCESS_KEY, GatewayHandle, empty_and_delete, error_code
from tests.functional.test_policy_acl import anonymous

SETTINGS = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
NOT_SUPPORTED = ("AccessControlListNotSupported", 400)


def put_ownership(s3: S3Client, bucket: str, setting: str) -> None:
    controls: Any = {"Rules": [{"ObjectOwnership": setting}]}
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=controls)


def get_ownership(s3: S3Client, bucket: str) -> list[Any]:
    return list(s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"])


@pytest.fixture
def user_in_each_mode(gateway_in_each_mode: GatewayHandle) -> Iterator[tuple[str, S3Client]]:
    with plain_user(gateway_in_each_mode) as user:
        yield user


@pytest.fixture
def user_bucket(user_in_each_mode: tuple[str, S3Client]) -> Iterator[tuple[str, S3Client, str]]:
    """A bucket a plain user owns (root, an admin, writes into it as another principal)."""
    key, client = user_in_each_mode
    name = f"test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield key, client, name
    empty_and_delete(client, name)


def owner_of(s3: S3Client, bucket: str, key: str) -> str:
    return s3.get_object_acl(Bucket=bucket, Key=key)["Owner"]["ID"]


# --- the document ---------------------------------------------------------------------------


def test_put_get_delete_ownership_controls(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    assert error_code(lambda: s3.get_bucket_ownership_controls(Bucket=bucket)) == (
        "OwnershipControlsNotFoundError",
        404,
    )
    for setting in SETTINGS:
        put_ownership(s3, bucket, setting)
        assert get_ownership(s3, bucket) == [{"ObjectOwnership": setting}]
    deleted = s3.delete_bucket_ownership_controls(Bucket=bucket)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_code(lambda: s3.get_bucket_ownership_controls(Bucket=bucket)) == (
        "OwnershipControlsNotFoundError",
        404,
    )


@pytest.mark.parametrize(
    "document",
    [
        b"<OwnershipControls/>",
        b"<OwnershipControls><Rule><ObjectOwnership>Everyone</ObjectOwnership></Rule>"
        b"</OwnershipControls>",
        b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
        b"<Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule></OwnershipControls>",
        b"<OwnershipControls><ObjectOwnership>ObjectWriter</ObjectOwnership></OwnershipControls>",
        b"ObjectWriter",
    ],
)
def test_malformed_ownership_controls(
    gateway_in_each_mode: GatewayHandle,
    s3_in_each_mode: S3Client,
    bucket_in_each_mode: str,
    document: bytes,
) -> None:
    status, _, body = signed(
        gateway_in_each_mode, "PUT", f"{bucket_in_each_mode}?ownershipControls", document
    )
    assert (status, code_of(body)) == (400, "MalformedXML")
    assert error_code(
        lambda: s3_in_each_mode.get_bucket_ownership_controls(Bucket=bucket_in_each_mode)
    ) == ("OwnershipControlsNotFoundError", 404)


def test_unknown_setting_through_boto3(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    assert error_code(
        lambda: put_ownership(s3_in_each_mode, bucket_in_each_mode, "BucketOwnerOnly")
    ) == ("MalformedXML", 400)


def test_ownership_controls_are_the_owners_to_set(
    bucket_in_each_mode: str, user_in_each_mode: tuple[str, S3Client]
) -> None:
    _, client = user_in_each_mode
    assert error_code(
        lambda: put_ownership(client, bucket_in_each_mode, "BucketOwnerEnforced")
    ) == ("AccessDenied", 403)
    assert error_code(lambda: client.get_bucket_ownership_controls(Bucket=bucket_in_each_mode)) == (
        "AccessDenied",
        403,
    )


# --- what each setting does -----------------------------------------------------------------


def test_object_writer_is_todays_behaviour(
    s3_in_each_mode: S3Client, user_bucket: tuple[str, S3Client, str]
) -> None:
    owner, client, bucket = user_bucket
    s3_in_each_mode.put_object(Bucket=bucket, Key="unset", Body=b"x")
    assert owner_of(client, bucket, "unset") == ROOT_ACCESS_KEY
    put_ownership(client, bucket, "ObjectWriter")
    s3_in_each_mode.put_object(
        Bucket=bucket, Key="writer", Body=b"x", ACL="bucket-owner-full-control"
    )
    assert owner_of(client, bucket, "writer") == ROOT_ACCESS_KEY
    client.put_object(Bucket=bucket, Key="own", Body=b"x")
    assert owner_of(client, bucket, "own") == owner


def test_bucket_owner_preferred(
    s3_in_each_mode: S3Client, user_bucket: tuple[str, S3Client, str]
) -> None:
    owner, client, bucket = user_bucket
    put_ownership(client, bucket, "BucketOwnerPreferred")
    s3 = s3_in_each_mode
    s3.put_object(Bucket=bucket, Key="given", Body=b"x", ACL="bucket-owner-full-control")
    assert owner_of(client, bucket, "given") == owner
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    assert owner_of(client, bucket, "kept") == ROOT_ACCESS_KEY
    s3.copy_object(
        Bucket=bucket,
        Key="copied",
        CopySource={"Bucket": bucket, "Key": "kept"},
        ACL="bucket-owner-full-control",
    )
    assert owner_of(client, bucket, "copied") == owner
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="multipart", ACL="bucket-owner-full-control"
    )
    part = s3.upload_part(
        Bucket=bucket, Key="multipart", UploadId=upload["UploadId"], PartNumber=1, Body=b"p"
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="multipart",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert owner_of(client, bucket, "multipart") == owner
    # ACLs still work: a public one is accepted.
    s3.put_object(Bucket=bucket, Key="public", Body=b"x", ACL="public-read")


def test_bucket_owner_enforced_disables_acls(
    gateway_in_each_mode: GatewayHandle,
    s3_in_each_mode: S3Client,
    user_bucket: tuple[str, S3Client, str],
) -> None:
    owner, client, bucket = user_bucket
    s3 = s3_in_each_mode
    client.put_object(Bucket=bucket, Key="public", Body=b"open", ACL="public-read")
    assert anonymous(gateway_in_each_mode, f"{bucket}/public") == (200, b"open")
    put_ownership(client, bucket, "BucketOwnerEnforced")
    # Existing ACLs no longer grant anything, and are shown as the owner's full control.
    assert anonymous(gateway_in_each_mode, f"{bucket}/public")[0] == 403
    acl = client.get_object_acl(Bucket=bucket, Key="public")
    assert acl["Owner"]["ID"] == owner
    assert [grant["Permission"] for grant in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Grants"][0]["Grantee"]["ID"] == owner
    bucket_acl = client.get_bucket_acl(Bucket=bucket)
    assert [(g["Grantee"].get("ID"), g["Permission"]) for g in bucket_acl["Grants"]] == [
        (owner, "FULL_CONTROL")
    ]
    # Requests setting any other ACL than the owner's full control are refused.
    for acl_name in (
        "public-read",
        "authenticated-read",
        "bucket-owner-read",
        "log-delivery-write",
    ):
        canned: Any = acl_name
        put = partial(s3.put_object, Bucket=bucket, Key="refused", Body=b"x", ACL=canned)
        assert error_code(put) == NOT_SUPPORTED
        assert error_code(partial(client.put_bucket_acl, Bucket=bucket, ACL=canned)) == (
            NOT_SUPPORTED
        )
    assert (
        error_code(lambda: client.put_object_acl(Bucket=bucket, Key="public", ACL="public-read"))
        == NOT_SUPPORTED
    )
    assert (
        error_code(
            lambda: s3.copy_object(
                Bucket=bucket,
                Key="refused",
                CopySource={"Bucket": bucket, "Key": "public"},
                ACL="authenticated-read",
            )
        )
        == NOT_SUPPORTED
    )
    assert (
        error_code(
            lambda: s3.create_multipart_upload(Bucket=bucket, Key="refused", ACL="public-read")
        )
        == NOT_SUPPORTED
    )
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [entry["Key"] for entry in listed] == ["public"]
    # The owner's full control is accepted; what others write, the bucket owner owns.
    s3.put_object(Bucket=bucket, Key="by-root", Body=b"x")
    s3.put_object(Bucket=bucket, Key="by-root-bofc", Body=b"x", ACL="bucket-owner-full-control")
    client.put_object_acl(Bucket=bucket, Key="by-root", ACL="private")
    client.put_bucket_acl(Bucket=bucket, ACL=cast(Any, "bucket-owner-full-control"))
    for key in ("by-root", "by-root-bofc"):
        assert owner_of(client, bucket, key) == owner
    fetched = client.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"]
    owners = {entry["Key"]: entry["Owner"]["ID"] for entry in fetched}
    assert owners["by-root"] == owners["by-root-bofc"] == owner
    # Deleting the controls brings the ACLs back.
    client.delete_bucket_ownership_controls(Bucket=bucket)
    assert anonymous(gateway_in_each_mode, f"{bucket}/public") == (200, b"open")


def test_enforced_refuses_a_bucket_whose_acl_grants_others(
    user_bucket: tuple[str, S3Client, str],
) -> None:
    _, client, bucket = user_bucket
    client.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert error_code(lambda: put_ownership(client, bucket, "BucketOwnerEnforced")) == (
        "InvalidBucketAclWithObjectOwnership",
        400,
    )
    assert error_code(lambda: client.get_bucket_ownership_controls(Bucket=bucket)) == (
        "OwnershipControlsNotFoundError",
        404,
    )
    client.put_bucket_acl(Bucket=bucket, ACL="private")
    put_ownership(client, bucket, "BucketOwnerEnforced")


def test_create_bucket_with_object_ownership(s3_in_each_mode: S3Client) -> None:
    s3 = s3_in_each_mode
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")
    try:
        assert get_ownership(s3, name) == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        assert error_code(lambda: s3.put_bucket_acl(Bucket=name, ACL="public-read")) == (
            NOT_SUPPORTED
        )
    finally:
        empty_and_delete(s3, name)
    other = f"test-{uuid.uuid4().hex[:12]}"
    assert error_code(
        lambda: s3.create_bucket(
            Bucket=other, ObjectOwnership="BucketOwnerEnforced", ACL="public-read"
        )
    ) == ("InvalidBucketAclWithObjectOwnership", 400)
    assert error_code(
        lambda: s3.create_bucket(Bucket=other, ObjectOwnership=cast(Any, "Nobody"))
    ) == (
        "InvalidArgument",
        400,
    )
    assert other not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    # Without the header, a bucket has no ownership controls (ObjectWriter): Nimbus's default.
    s3.create_bucket(Bucket=other)
    try:
        assert error_code(lambda: s3.get_bucket_ownership_controls(Bucket=other)) == (
            "OwnershipControlsNotFoundError",
            404,
        )
    finally:
        empty_and_delete(s3, other)
