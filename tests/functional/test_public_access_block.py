"""Block Public Access and GetBucketPolicyStatus, through boto3, standalone and on a cluster."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any, cast

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.access_support import code_of, plain_user, signed
from tests.functional.conftest import GatewayHandle, empty_and_delete, error_code
from tests.functional.test_policy_acl import anonymous

ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
NONE_BLOCKED = dict.fromkeys(ALL_BLOCKED, False)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def public_read_policy(bucket: str) -> str:
    return policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
    )


@pytest.fixture
def user_in_each_mode(gateway_in_each_mode: GatewayHandle) -> Iterator[tuple[str, S3Client]]:
    with plain_user(gateway_in_each_mode) as user:
        yield user


def put_block(s3: S3Client, bucket: str, **settings: bool) -> None:
    configuration: Any = settings
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=configuration)


# --- the document ---------------------------------------------------------------------------


def test_put_get_delete_public_access_block(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    assert error_code(lambda: s3.get_public_access_block(Bucket=bucket)) == (
        "NoSuchPublicAccessBlockConfiguration",
        404,
    )
    put_block(s3, bucket, **ALL_BLOCKED)
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert dict(got) == ALL_BLOCKED
    # A setting left out is false.
    put_block(s3, bucket, BlockPublicPolicy=True)
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert dict(got) == {**NONE_BLOCKED, "BlockPublicPolicy": True}
    deleted = s3.delete_public_access_block(Bucket=bucket)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_code(lambda: s3.get_public_access_block(Bucket=bucket)) == (
        "NoSuchPublicAccessBlockConfiguration",
        404,
    )
    # Deleting what is not there is fine, as on AWS.
    assert s3.delete_public_access_block(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize(
    "document",
    [
        b"not xml at all",
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls>"
        b"</PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><BlockEverything>true</BlockEverything>"
        b"</PublicAccessBlockConfiguration>",
        b"<PublicAccessBlock><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlock>",
    ],
)
def test_malformed_public_access_block(
    gateway_in_each_mode: GatewayHandle,
    s3_in_each_mode: S3Client,
    bucket_in_each_mode: str,
    document: bytes,
) -> None:
    status, _, body = signed(
        gateway_in_each_mode, "PUT", f"{bucket_in_each_mode}?publicAccessBlock", document
    )
    assert (status, code_of(body)) == (400, "MalformedXML")
    assert error_code(
        lambda: s3_in_each_mode.get_public_access_block(Bucket=bucket_in_each_mode)
    ) == ("NoSuchPublicAccessBlockConfiguration", 404)


def test_public_access_block_of_a_missing_bucket(s3_in_each_mode: S3Client) -> None:
    missing = f"missing-{uuid.uuid4().hex[:10]}"
    assert error_code(lambda: s3_in_each_mode.get_public_access_block(Bucket=missing)) == (
        "NoSuchBucket",
        404,
    )
    assert error_code(lambda: put_block(s3_in_each_mode, missing, BlockPublicAcls=True)) == (
        "NoSuchBucket",
        404,
    )


def test_public_access_block_is_the_owners_to_set(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str, user_in_each_mode: tuple[str, S3Client]
) -> None:
    _, client = user_in_each_mode
    assert error_code(lambda: put_block(client, bucket_in_each_mode, BlockPublicAcls=True)) == (
        "AccessDenied",
        403,
    )
    assert error_code(lambda: client.get_public_access_block(Bucket=bucket_in_each_mode)) == (
        "AccessDenied",
        403,
    )


# --- BlockPublicAcls ------------------------------------------------------------------------


def test_block_public_acls_refuses_every_request_setting_a_public_acl(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="existing", Body=b"x", ACL="public-read")
    put_block(s3, bucket, BlockPublicAcls=True)
    denied = ("AccessDenied", 403)
    for acl in ("public-read", "public-read-write", "authenticated-read"):
        canned: Any = acl
        assert error_code(partial(s3.put_bucket_acl, Bucket=bucket, ACL=canned)) == denied
        put = partial(s3.put_object, Bucket=bucket, Key="new", Body=b"x", ACL=canned)
        assert error_code(put) == denied
    assert (
        error_code(lambda: s3.put_object_acl(Bucket=bucket, Key="existing", ACL="public-read"))
        == denied
    )
    assert (
        error_code(
            lambda: s3.copy_object(
                Bucket=bucket,
                Key="copy",
                CopySource={"Bucket": bucket, "Key": "existing"},
                ACL="public-read",
            )
        )
        == denied
    )
    assert (
        error_code(
            lambda: s3.create_multipart_upload(Bucket=bucket, Key="mpu", ACL="public-read-write")
        )
        == denied
    )
    # Re-creating your own bucket (us-east-1: 200, its ACL reset) with a public ACL.
    assert error_code(lambda: s3.create_bucket(Bucket=bucket, ACL="public-read")) == denied
    # The same grant as an AccessControlPolicy document.
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    grants: Any = [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
        {
            "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
            "Permission": "READ",
        },
    ]
    assert (
        error_code(
            lambda: s3.put_bucket_acl(
                Bucket=bucket, AccessControlPolicy={"Owner": owner, "Grants": grants}
            )
        )
        == denied
    )
    # Nothing was written by the refused requests.
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [entry["Key"] for entry in listed] == ["existing"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # Private ACLs pass; the public ACL set before the block stays.
    s3.put_object(Bucket=bucket, Key="private", Body=b"x", ACL="private")
    s3.put_bucket_acl(Bucket=bucket, ACL=cast(Any, "bucket-owner-full-control"))
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    existing = s3.get_object_acl(Bucket=bucket, Key="existing")["Grants"]
    assert any(grant["Grantee"].get("URI", "").endswith("AllUsers") for grant in existing)
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")


# --- IgnorePublicAcls -----------------------------------------------------------------------


def test_ignore_public_acls_makes_public_acls_grant_nothing(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="page.html", Body=b"<p>hi</p>", ACL="public-read")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert anonymous(gateway_in_each_mode, f"{bucket}/page.html") == (200, b"<p>hi</p>")
    assert anonymous(gateway_in_each_mode, bucket)[0] == 200
    put_block(s3, bucket, IgnorePublicAcls=True)
    assert anonymous(gateway_in_each_mode, f"{bucket}/page.html")[0] == 403
    assert anonymous(gateway_in_each_mode, bucket)[0] == 403
    # The ACLs themselves are kept (and shown), only ignored.
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert any(grant["Grantee"].get("URI", "").endswith("AllUsers") for grant in grants)
    # Setting a public ACL is still allowed (that is BlockPublicAcls).
    s3.put_object_acl(Bucket=bucket, Key="page.html", ACL="public-read-write")
    s3.delete_public_access_block(Bucket=bucket)
    assert anonymous(gateway_in_each_mode, f"{bucket}/page.html") == (200, b"<p>hi</p>")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")


def test_ignore_public_acls_for_signed_users(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str, user_in_each_mode: tuple[str, S3Client]
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    _, client = user_in_each_mode
    s3.put_object(Bucket=bucket, Key="team.txt", Body=b"team", ACL="authenticated-read")
    assert client.get_object(Bucket=bucket, Key="team.txt")["Body"].read() == b"team"
    put_block(s3, bucket, IgnorePublicAcls=True)
    assert error_code(lambda: client.get_object(Bucket=bucket, Key="team.txt")) == (
        "AccessDenied",
        403,
    )
    # The bucket owner is not concerned.
    assert s3.get_object(Bucket=bucket, Key="team.txt")["Body"].read() == b"team"


# --- BlockPublicPolicy and PolicyStatus -----------------------------------------------------


def test_block_public_policy_refuses_public_policies_only(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))  # before the block
    put_block(s3, bucket, BlockPublicPolicy=True)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert error_code(
        lambda: s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    ) == ("AccessDenied", 403)
    limited: list[dict[str, Any]] = [
        {"Effect": "Allow", "Principal": {"AWS": "AKIAEXAMPLE"}},
        {
            "Effect": "Allow",
            "Principal": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
        },
        {
            "Effect": "Allow",
            "Principal": "*",
            "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-91237329"}},
        },
        {"Effect": "Deny", "Principal": "*"},
    ]
    for statement in limited:
        document = policy(
            {**statement, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
        )
        s3.put_bucket_policy(Bucket=bucket, Policy=document)
        assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    too_wide = policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
        }
    )
    assert error_code(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=too_wide)) == (
        "AccessDenied",
        403,
    )
    # A malformed policy is still MalformedPolicy, not AccessDenied.
    assert error_code(lambda: s3.put_bucket_policy(Bucket=bucket, Policy="{")) == (
        "MalformedPolicy",
        400,
    )
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))


def test_policy_status(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    assert error_code(lambda: s3.get_bucket_policy_status(Bucket=bucket)) == (
        "NoSuchBucketPolicy",
        404,
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": True}
    vpc_only = policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=vpc_only)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": False}
    s3.delete_bucket_policy(Bucket=bucket)
    assert error_code(lambda: s3.get_bucket_policy_status(Bucket=bucket)) == (
        "NoSuchBucketPolicy",
        404,
    )


def test_policy_status_document(
    gateway_in_each_mode: GatewayHandle, bucket_in_each_mode: str
) -> None:
    gateway_in_each_mode.client().put_bucket_policy(
        Bucket=bucket_in_each_mode, Policy=public_read_policy(bucket_in_each_mode)
    )
    status, headers, body = signed(
        gateway_in_each_mode, "GET", f"{bucket_in_each_mode}?policyStatus"
    )
    assert status == 200
    assert headers["content-type"] == "application/xml"
    assert body.endswith(
        b'<PolicyStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<IsPublic>true</IsPublic></PolicyStatus>"
    )
    # Only GET: no other method names the sub-resource.
    status, _, body = signed(gateway_in_each_mode, "PUT", f"{bucket_in_each_mode}?policyStatus")
    assert (status, code_of(body)) == (405, "MethodNotAllowed")


# --- RestrictPublicBuckets ------------------------------------------------------------------


def test_restrict_public_buckets_keeps_a_public_policy_from_anonymous_callers(
    gateway_in_each_mode: GatewayHandle,
    s3_in_each_mode: S3Client,
    bucket_in_each_mode: str,
    user_in_each_mode: tuple[str, S3Client],
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    _, client = user_in_each_mode
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"doc")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    assert anonymous(gateway_in_each_mode, f"{bucket}/doc.txt") == (200, b"doc")
    put_block(s3, bucket, RestrictPublicBuckets=True)
    assert anonymous(gateway_in_each_mode, f"{bucket}/doc.txt")[0] == 403
    # Principals of this store still get what the policy allows.
    assert client.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"doc"
    # A policy that is not public is not restricted: the tests connect from 127.0.0.1.
    loopback_only = policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}},
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=loopback_only)
    assert anonymous(gateway_in_each_mode, f"{bucket}/doc.txt") == (200, b"doc")
    s3.put_bucket_policy(Bucket=bucket, Policy=public_read_policy(bucket))
    assert anonymous(gateway_in_each_mode, f"{bucket}/doc.txt")[0] == 403
    s3.delete_public_access_block(Bucket=bucket)
    assert anonymous(gateway_in_each_mode, f"{bucket}/doc.txt") == (200, b"doc")


def test_settings_go_with_the_bucket(s3_in_each_mode: S3Client) -> None:
    s3 = s3_in_each_mode
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    put_block(s3, name, **ALL_BLOCKED)
    empty_and_delete(s3, name)
    s3.create_bucket(Bucket=name)
    try:
        assert error_code(lambda: s3.get_public_access_block(Bucket=name)) == (
            "NoSuchPublicAccessBlockConfiguration",
            404,
        )
    finally:
        empty_and_delete(s3, name)
