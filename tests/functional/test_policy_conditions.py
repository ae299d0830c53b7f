"""Bucket-policy condition keys S3 defines, through boto3 with real policies, in standalone and
cluster mode: encryption and storage-class headers, existing and requested object tags, the copy
source, listing parameters, the signature, TLS."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import urllib3
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import GatewayHandle, empty_and_delete, error_code
from tests.functional.test_acl_grants import User, other, owned_bucket, owner
from tests.functional.test_policy_acl import policy

DENIED = ("AccessDenied", 403)
__all__ = ["other", "owned_bucket", "owner"]  # fixtures, shared with test_acl_grants.py


def statement(  # noqa: PLR0917 - a policy statement's parts, in their order
    bucket: str,
    effect: str,
    action: str | list[str],
    condition: dict[str, Any],
    principal: Any = "*",
    resource: str = "/*",
) -> dict[str, Any]:
    return {
        "Effect": effect,
        "Principal": principal,
        "Action": action,
        "Resource": f"arn:aws:s3:::{bucket}{resource}",
        "Condition": condition,
    }


def put_policy(client: S3Client, bucket: str, *statements: dict[str, Any]) -> None:
    client.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, *statements))


def status_of(call: Any) -> tuple[str, int]:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    return "OK", 200


def test_deny_put_without_sse(owner: User, owned_bucket: str) -> None:
    _, client = owner
    deny = statement(
        owned_bucket,
        "Deny",
        "s3:PutObject",
        {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
    )
    put_policy(client, owned_bucket, deny)
    assert error_code(lambda: client.put_object(Bucket=owned_bucket, Key="k", Body=b"")) == DENIED
    assert (
        error_code(
            lambda: client.put_object(
                Bucket=owned_bucket, Key="k", Body=b"", ServerSideEncryption="aws:kms"
            )
        )
        == DENIED
    )
    # The policy lets it through; without a key store SSE-S3 itself is 501.
    answer = status_of(
        lambda: client.put_object(
            Bucket=owned_bucket, Key="k", Body=b"", ServerSideEncryption="AES256"
        )
    )
    assert answer in (("OK", 200), ("NotImplemented", 501))


def test_deny_put_unless_standard_storage_class(owner: User, owned_bucket: str) -> None:
    _, client = owner
    deny = statement(
        owned_bucket,
        "Deny",
        "s3:PutObject",
        {"StringNotEquals": {"s3:x-amz-storage-class": "STANDARD"}},
    )
    put_policy(client, owned_bucket, deny)
    assert error_code(lambda: client.put_object(Bucket=owned_bucket, Key="k", Body=b"")) == DENIED
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"", StorageClass="STANDARD")
    # ...IfExists: a missing key makes the condition hold, for a negated operator as for any.
    put_policy(
        client,
        owned_bucket,
        statement(
            owned_bucket,
            "Deny",
            "s3:PutObject",
            {"StringEqualsIfExists": {"s3:x-amz-storage-class": "REDUCED_REDUNDANCY"}},
        ),
    )
    assert error_code(lambda: client.put_object(Bucket=owned_bucket, Key="k", Body=b"")) == DENIED
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"", StorageClass="STANDARD")


def test_get_only_objects_tagged_public(owner: User, other: User, owned_bucket: str) -> None:
    _, client = owner
    other_key, other_client = other
    client.put_object(Bucket=owned_bucket, Key="open", Body=b"o", Tagging="public=yes")
    client.put_object(Bucket=owned_bucket, Key="closed", Body=b"c", Tagging="public=no")
    client.put_object(Bucket=owned_bucket, Key="untagged", Body=b"u")
    allow = statement(
        owned_bucket,
        "Allow",
        "s3:GetObject",
        {"StringEquals": {"s3:ExistingObjectTag/public": "yes"}},
        principal={"AWS": other_key},
    )
    put_policy(client, owned_bucket, allow)
    assert other_client.get_object(Bucket=owned_bucket, Key="open")["Body"].read() == b"o"
    assert error_code(lambda: other_client.get_object(Bucket=owned_bucket, Key="closed")) == DENIED
    assert (
        error_code(lambda: other_client.get_object(Bucket=owned_bucket, Key="untagged")) == DENIED
    )
    # Retagging the object changes what the policy allows.
    client.put_object_tagging(
        Bucket=owned_bucket, Key="closed", Tagging={"TagSet": [{"Key": "public", "Value": "yes"}]}
    )
    assert other_client.get_object(Bucket=owned_bucket, Key="closed")["Body"].read() == b"c"


def test_existing_object_tag_guards_tagging_operations(
    owner: User, other: User, owned_bucket: str
) -> None:
    _, client = owner
    other_key, other_client = other
    client.put_object(Bucket=owned_bucket, Key="team", Body=b"", Tagging="team=blue")
    client.put_object(Bucket=owned_bucket, Key="red", Body=b"", Tagging="team=red")
    allow = statement(
        owned_bucket,
        "Allow",
        ["s3:GetObjectTagging", "s3:PutObjectTagging"],
        {"StringEquals": {"s3:ExistingObjectTag/team": "blue"}},
        principal={"AWS": other_key},
    )
    put_policy(client, owned_bucket, allow)
    assert other_client.get_object_tagging(Bucket=owned_bucket, Key="team")["TagSet"]
    assert (
        error_code(lambda: other_client.get_object_tagging(Bucket=owned_bucket, Key="red"))
        == DENIED
    )
    other_client.put_object_tagging(
        Bucket=owned_bucket,
        Key="team",
        Tagging={"TagSet": [{"Key": "team", "Value": "blue"}, {"Key": "x", "Value": "1"}]},
    )


def test_require_request_object_tag_on_put(owner: User, other: User, owned_bucket: str) -> None:
    _, client = owner
    other_key, other_client = other
    allow = statement(
        owned_bucket,
        "Allow",
        ["s3:PutObject", "s3:PutObjectTagging"],
        {"StringEquals": {"s3:RequestObjectTag/project": "x"}},
        principal={"AWS": other_key},
    )
    put_policy(client, owned_bucket, allow)
    assert (
        error_code(lambda: other_client.put_object(Bucket=owned_bucket, Key="k", Body=b""))
        == DENIED
    )
    assert (
        error_code(
            lambda: other_client.put_object(
                Bucket=owned_bucket, Key="k", Body=b"", Tagging="project=y"
            )
        )
        == DENIED
    )
    other_client.put_object(Bucket=owned_bucket, Key="k", Body=b"", Tagging="project=x&b=2")
    tags = client.get_object_tagging(Bucket=owned_bucket, Key="k")["TagSet"]
    assert {tag["Key"]: tag["Value"] for tag in tags} == {"project": "x", "b": "2"}
    # PutObjectTagging: the body's tags are the request's.
    other_client.put_object_tagging(
        Bucket=owned_bucket, Key="k", Tagging={"TagSet": [{"Key": "project", "Value": "x"}]}
    )
    assert (
        error_code(
            lambda: other_client.put_object_tagging(
                Bucket=owned_bucket, Key="k", Tagging={"TagSet": [{"Key": "project", "Value": "z"}]}
            )
        )
        == DENIED
    )
    assert client.get_object_tagging(Bucket=owned_bucket, Key="k")["TagSet"] == [
        {"Key": "project", "Value": "x"}
    ]


def test_request_tag_keys_for_any_and_all_values(owner: User, owned_bucket: str) -> None:
    _, client = owner
    deny_secret = statement(
        owned_bucket,
        "Deny",
        "s3:PutObject",
        {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["secret", "private"]}},
    )
    only_known = statement(
        owned_bucket,
        "Deny",
        "s3:PutObject",
        {"ForAllValues:StringNotEquals": {"s3:RequestObjectTagKeys": ["a", "b", "secret"]}},
    )
    put_policy(client, owned_bucket, deny_secret)
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"", Tagging="a=1")
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"")
    assert (
        error_code(
            lambda: client.put_object(
                Bucket=owned_bucket, Key="k", Body=b"", Tagging="a=1&secret=2"
            )
        )
        == DENIED
    )
    # Deny when every tag key is unknown.
    put_policy(client, owned_bucket, only_known)
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"", Tagging="a=1&zz=2")
    assert (
        error_code(
            lambda: client.put_object(Bucket=owned_bucket, Key="k", Body=b"", Tagging="zz=2")
        )
        == DENIED
    )


def test_deny_copy_from_another_bucket(
    owner: User, owned_bucket: str, s3_in_each_mode: S3Client
) -> None:
    _, client = owner
    elsewhere = f"cond-src-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=elsewhere)
    try:
        client.put_object(Bucket=elsewhere, Key="outside", Body=b"o")
        client.put_object(Bucket=owned_bucket, Key="inside", Body=b"i")
        deny = statement(
            owned_bucket,
            "Deny",
            "s3:PutObject",
            {
                "Null": {"s3:x-amz-copy-source": "false"},
                "StringNotLike": {
                    "s3:x-amz-copy-source": [f"{owned_bucket}/*", f"/{owned_bucket}/*"]
                },
            },
        )
        put_policy(client, owned_bucket, deny)
        assert (
            error_code(
                lambda: client.copy_object(
                    Bucket=owned_bucket,
                    Key="copy",
                    CopySource={"Bucket": elsewhere, "Key": "outside"},
                )
            )
            == DENIED
        )
        client.copy_object(
            Bucket=owned_bucket, Key="copy", CopySource={"Bucket": owned_bucket, "Key": "inside"}
        )
        client.put_object(Bucket=owned_bucket, Key="plain", Body=b"")  # no copy source: allowed
    finally:
        empty_and_delete(s3_in_each_mode, elsewhere)


def test_metadata_directive(owner: User, owned_bucket: str) -> None:
    _, client = owner
    client.put_object(Bucket=owned_bucket, Key="src", Body=b"s")
    deny = statement(
        owned_bucket,
        "Deny",
        "s3:PutObject",
        {"StringEquals": {"s3:x-amz-metadata-directive": "REPLACE"}},
    )
    put_policy(client, owned_bucket, deny)
    source: Any = {"Bucket": owned_bucket, "Key": "src"}
    client.copy_object(Bucket=owned_bucket, Key="c", CopySource=source)
    assert (
        error_code(
            lambda: client.copy_object(
                Bucket=owned_bucket,
                Key="c",
                CopySource=source,
                MetadataDirective="REPLACE",
                Metadata={"a": "b"},
            )
        )
        == DENIED
    )


def test_listing_parameters(owner: User, other: User, owned_bucket: str) -> None:
    _, client = owner
    other_key, other_client = other
    client.put_object(Bucket=owned_bucket, Key="public/a", Body=b"")
    client.put_object(Bucket=owned_bucket, Key="private/b", Body=b"")
    allow = statement(
        owned_bucket,
        "Allow",
        "s3:ListBucket",
        {
            "StringEquals": {"s3:prefix": "public/", "s3:delimiter": "/"},
            "NumericLessThanEquals": {"s3:max-keys": "100"},
        },
        principal={"AWS": other_key},
        resource="",
    )
    put_policy(client, owned_bucket, allow)
    listed = other_client.list_objects_v2(
        Bucket=owned_bucket, Prefix="public/", Delimiter="/", MaxKeys=10
    )
    assert [o["Key"] for o in listed["Contents"]] == ["public/a"]
    refused: list[dict[str, Any]] = [
        {"Prefix": "private/", "Delimiter": "/", "MaxKeys": 10},
        {"Prefix": "public/", "Delimiter": "/", "MaxKeys": 1000},
        {"Prefix": "public/", "MaxKeys": 10},
        {},
    ]
    for kwargs in refused:
        listing: Any = partial(other_client.list_objects_v2, Bucket=owned_bucket, **kwargs)
        assert error_code(listing) == DENIED


def test_version_id_key(owner: User, other: User, owned_bucket: str) -> None:
    _, client = owner
    other_key, other_client = other
    client.put_bucket_versioning(Bucket=owned_bucket, VersioningConfiguration={"Status": "Enabled"})
    first = client.put_object(Bucket=owned_bucket, Key="k", Body=b"1")["VersionId"]
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"2")
    allow = statement(
        owned_bucket,
        "Allow",
        "s3:GetObjectVersion",
        {"StringEquals": {"s3:VersionId": first}},
        principal={"AWS": other_key},
    )
    put_policy(client, owned_bucket, allow)
    body = other_client.get_object(Bucket=owned_bucket, Key="k", VersionId=first)["Body"]
    assert body.read() == b"1"
    assert error_code(lambda: other_client.get_object(Bucket=owned_bucket, Key="k")) == DENIED


def test_signature_and_principal_keys(
    gateway_in_each_mode: GatewayHandle, owner: User, other: User, owned_bucket: str
) -> None:
    _, client = owner
    other_key, other_client = other
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"v")
    allow = statement(
        owned_bucket,
        "Allow",
        "s3:GetObject",
        {
            "StringEquals": {
                "s3:signatureversion": "AWS4-HMAC-SHA256",
                "s3:authType": "REST-HEADER",
                "aws:PrincipalType": "User",
                "aws:userid": other_key,
                "aws:username": other_key,
            },
            "NumericLessThan": {"s3:signatureAge": "600000"},
            "Bool": {"aws:SecureTransport": "false"},
            "Null": {"s3:TlsVersion": "true"},
        },
    )
    put_policy(client, owned_bucket, allow)
    assert other_client.get_object(Bucket=owned_bucket, Key="k")["Body"].read() == b"v"
    # A presigned URL is REST-QUERY-STRING: not allowed by this policy.
    url = other_client.generate_presigned_url(
        "get_object", Params={"Bucket": owned_bucket, "Key": "k"}
    )
    assert urllib3.request("GET", url).status == 403
    # Anonymous callers have no userid, no signature.
    assert urllib3.request("GET", f"{gateway_in_each_mode.endpoint}/{owned_bucket}/k").status == 403


def test_tls_version_absent_over_plain_http(owner: User, owned_bucket: str) -> None:
    _, client = owner
    # A key that is not there makes NumericLessThan false: this Deny never applies...
    put_policy(
        client,
        owned_bucket,
        statement(
            owned_bucket, "Deny", "s3:PutObject", {"NumericLessThan": {"s3:TlsVersion": "1.2"}}
        ),
    )
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"")
    # ...while ...IfExists makes a missing key hold: the usual way to require TLS 1.2+ is
    # aws:SecureTransport; here, with plain HTTP, the request is refused.
    put_policy(
        client,
        owned_bucket,
        statement(
            owned_bucket,
            "Deny",
            "s3:PutObject",
            {"NumericLessThanIfExists": {"s3:TlsVersion": "1.2"}},
        ),
    )
    assert error_code(lambda: client.put_object(Bucket=owned_bucket, Key="k", Body=b"")) == DENIED


def test_user_agent_and_source_ip(owner: User, owned_bucket: str) -> None:
    _, client = owner
    put_policy(
        client,
        owned_bucket,
        statement(
            owned_bucket,
            "Deny",
            "s3:PutObject",
            {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}},
        ),
        statement(
            owned_bucket, "Deny", "s3:DeleteObject", {"StringLike": {"aws:UserAgent": "*Boto3*"}}
        ),
    )
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"")
    assert error_code(lambda: client.delete_object(Bucket=owned_bucket, Key="k")) == DENIED
