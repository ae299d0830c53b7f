"""Bucket policies and canned ACLs: who may do what, for signed users and anonymous callers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import ROOT_ACCESS_KEY, GatewayHandle, error_code
from tests.functional.test_admin import admin


def anonymous(gateway: GatewayHandle, path: str, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(f"{gateway.endpoint}/{path}", method=method)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def policy(bucket: str, *statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def user(gateway: GatewayHandle) -> Iterator[tuple[str, S3Client]]:
    """A plain (non-admin, grant-less) user credential and a client signing as it."""
    key = f"USR{uuid.uuid4().hex[:10].upper()}"
    status, created = admin(gateway, "PUT", f"credentials/{key}", {})
    assert status == 201
    yield key, gateway.client(access_key=key, secret_key=created["secretKey"])
    admin(gateway, "DELETE", f"credentials/{key}")


# --- policy documents -----------------------------------------------------------------------


def test_put_get_delete_policy(s3: S3Client, bucket: str) -> None:
    assert error_code(lambda: s3.get_bucket_policy(Bucket=bucket)) == ("NoSuchBucketPolicy", 404)
    document = policy(
        bucket,
        {
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/public/*",
        },
    )
    put = s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(document)
    deleted = s3.delete_bucket_policy(Bucket=bucket)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_code(lambda: s3.get_bucket_policy(Bucket=bucket)) == ("NoSuchBucketPolicy", 404)


def test_policy_on_missing_bucket(s3: S3Client) -> None:
    assert error_code(lambda: s3.get_bucket_policy(Bucket="no-such-bucket-policy")) == (
        "NoSuchBucket",
        404,
    )


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        "[]",
        json.dumps({"Version": "2012-10-17"}),
        json.dumps({"Version": "2012-10-17", "Statement": []}),
        json.dumps({"Version": "1999-01-01", "Statement": [{}]}),
        # Missing Effect.
        '{"Version": "2012-10-17", "Statement": [{"Principal": "*", "Action": "s3:GetObject",'
        ' "Resource": "arn:aws:s3:::BUCKET/*"}]}',
        # Bad Effect.
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Principal": "*",'
        ' "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*"}]}',
        # Unknown action.
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",'
        ' "Action": "s3:TeleportObject", "Resource": "arn:aws:s3:::BUCKET/*"}]}',
        # Another service's action.
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",'
        ' "Action": "ec2:RunInstances", "Resource": "arn:aws:s3:::BUCKET/*"}]}',
        # A resource in another bucket.
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",'
        ' "Action": "s3:GetObject", "Resource": "arn:aws:s3:::some-other-bucket/*"}]}',
        # An object action on the bucket resource.
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",'
        ' "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET"}]}',
        # Missing Principal.
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",'
        ' "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*"}]}',
        # Bad condition operator.
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",'
        ' "Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*",'
        ' "Condition": {"IpAddressish": {"aws:SourceIp": "10.0.0.0/8"}}}]}',
        # Duplicate Sids.
        '{"Version": "2012-10-17", "Statement": ['
        '{"Sid": "a", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",'
        ' "Resource": "arn:aws:s3:::BUCKET/*"},'
        '{"Sid": "a", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",'
        ' "Resource": "arn:aws:s3:::BUCKET/*"}]}',
    ],
)
def test_malformed_policies(s3: S3Client, bucket: str, document: str) -> None:
    text = document.replace("BUCKET", bucket)
    assert error_code(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=text)) == (
        "MalformedPolicy",
        400,
    )
    assert error_code(lambda: s3.get_bucket_policy(Bucket=bucket)) == ("NoSuchBucketPolicy", 404)


def test_policy_configuration_is_owner_only(
    s3: S3Client, bucket: str, user: tuple[str, S3Client]
) -> None:
    _, client = user
    document = policy(
        bucket,
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
    )
    assert error_code(lambda: client.put_bucket_policy(Bucket=bucket, Policy=document)) == (
        "AccessDenied",
        403,
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert error_code(lambda: client.get_bucket_policy(Bucket=bucket)) == ("AccessDenied", 403)
    assert error_code(lambda: client.delete_bucket_policy(Bucket=bucket)) == (
        "AccessDenied",
        403,
    )


# --- policy evaluation ----------------------------------------------------------------------


def test_anonymous_read_allowed_on_prefix_only(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="public/page.html", Body=b"<p>hello</p>")
    s3.put_object(Bucket=bucket, Key="private/secret.txt", Body=b"secret")
    assert anonymous(gateway, f"{bucket}/public/page.html")[0] == 403
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            bucket,
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/public/*",
            },
        ),
    )
    assert anonymous(gateway, f"{bucket}/public/page.html") == (200, b"<p>hello</p>")
    status, body = anonymous(gateway, f"{bucket}/private/secret.txt")
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body
    # A missing key under the public prefix is NoSuchKey only for callers allowed to list.
    status, body = anonymous(gateway, f"{bucket}/public/missing.html")
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body
    # GetObject does not imply ListBucket or PutObject.
    assert anonymous(gateway, bucket)[0] == 403
    assert anonymous(gateway, f"{bucket}/public/new.html", method="PUT")[0] == 403
    s3.delete_bucket_policy(Bucket=bucket)
    assert anonymous(gateway, f"{bucket}/public/page.html")[0] == 403


def test_policy_allow_then_explicit_deny_for_user(
    s3: S3Client, bucket: str, user: tuple[str, S3Client]
) -> None:
    key, client = user
    s3.put_object(Bucket=bucket, Key="shared/a.txt", Body=b"a")
    s3.put_object(Bucket=bucket, Key="shared/locked/b.txt", Body=b"b")
    assert error_code(lambda: client.get_object(Bucket=bucket, Key="shared/a.txt")) == (
        "AccessDenied",
        403,
    )
    allow = {
        "Sid": "UserRW",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::000000000000:user/{key}"},
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": f"arn:aws:s3:::{bucket}/shared/*",
    }
    list_allow = {
        "Sid": "UserList",
        "Effect": "Allow",
        "Principal": {"AWS": key},
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{bucket}",
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, allow, list_allow))
    assert client.get_object(Bucket=bucket, Key="shared/a.txt")["Body"].read() == b"a"
    assert client.get_object(Bucket=bucket, Key="shared/locked/b.txt")["Body"].read() == b"b"
    client.put_object(Bucket=bucket, Key="shared/new.txt", Body=b"new")
    listed = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == ["shared/a.txt", "shared/locked/b.txt", "shared/new.txt"]
    assert error_code(lambda: client.delete_object(Bucket=bucket, Key="shared/a.txt")) == (
        "AccessDenied",
        403,
    )
    assert error_code(lambda: client.put_object(Bucket=bucket, Key="other.txt", Body=b"")) == (
        "AccessDenied",
        403,
    )
    deny = {
        "Sid": "Locked",
        "Effect": "Deny",
        "Principal": {"AWS": key},
        "Action": "s3:*",
        "Resource": f"arn:aws:s3:::{bucket}/shared/locked/*",
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, allow, list_allow, deny))
    assert client.get_object(Bucket=bucket, Key="shared/a.txt")["Body"].read() == b"a"
    assert error_code(lambda: client.get_object(Bucket=bucket, Key="shared/locked/b.txt")) == (
        "AccessDenied",
        403,
    )
    assert error_code(
        lambda: client.put_object(Bucket=bucket, Key="shared/locked/c.txt", Body=b"")
    ) == ("AccessDenied", 403)
    # The deny names only this user: the owner is unaffected.
    assert s3.get_object(Bucket=bucket, Key="shared/locked/b.txt")["Body"].read() == b"b"


def test_explicit_deny_applies_to_the_bucket_owner(
    s3: S3Client, user: tuple[str, S3Client]
) -> None:
    _, client = user
    name = f"owned-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name)
    try:
        client.put_object(Bucket=name, Key="keep/x", Body=b"x")
        client.put_bucket_policy(
            Bucket=name,
            Policy=policy(
                name,
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:DeleteObject",
                    "Resource": f"arn:aws:s3:::{name}/keep/*",
                },
            ),
        )
        assert error_code(lambda: client.delete_object(Bucket=name, Key="keep/x")) == (
            "AccessDenied",
            403,
        )
        assert client.get_object(Bucket=name, Key="keep/x")["Body"].read() == b"x"
        # The admin key can always repair the bucket.
        s3.delete_bucket_policy(Bucket=name)
        client.delete_object(Bucket=name, Key="keep/x")
    finally:
        s3.delete_bucket_policy(Bucket=name)
        for entry in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=entry["Key"])
        s3.delete_bucket(Bucket=name)


def test_source_ip_condition(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="doc", Body=b"local only")

    def allow_from(cidr: str) -> str:
        return policy(
            bucket,
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"IpAddress": {"aws:SourceIp": cidr}},
            },
        )

    s3.put_bucket_policy(Bucket=bucket, Policy=allow_from("127.0.0.1/32"))
    assert anonymous(gateway, f"{bucket}/doc") == (200, b"local only")
    s3.put_bucket_policy(Bucket=bucket, Policy=allow_from("10.0.0.0/8"))
    assert anonymous(gateway, f"{bucket}/doc")[0] == 403
    # A deny from outside a network locks out even the owner's non-admin peers; NotIpAddress
    # keeps 127.0.0.1 out of the deny.
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            bucket,
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
            },
        ),
    )
    assert anonymous(gateway, f"{bucket}/doc")[0] == 403


def test_malformed_source_ip_condition(s3: S3Client, bucket: str) -> None:
    document = policy(
        bucket,
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
            "Condition": {"IpAddress": {"aws:SourceIp": "not-an-ip"}},
        },
    )
    assert error_code(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=document)) == (
        "MalformedPolicy",
        400,
    )


# --- canned ACLs ----------------------------------------------------------------------------


def test_public_read_bucket_lets_anonymous_list(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="listed.txt", Body=b"x")
    assert anonymous(gateway, bucket)[0] == 403
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    status, body = anonymous(gateway, f"{bucket}?list-type=2")
    assert status == 200
    assert b"<Key>listed.txt</Key>" in body
    # READ on the bucket is not WRITE, and does not make objects readable.
    assert anonymous(gateway, f"{bucket}/new.txt", method="PUT")[0] == 403
    assert anonymous(gateway, f"{bucket}/listed.txt")[0] == 403
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert anonymous(gateway, bucket)[0] == 403
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]


def test_public_read_object_acl(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="open.txt", Body=b"open", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="closed.txt", Body=b"closed")
    assert anonymous(gateway, f"{bucket}/open.txt") == (200, b"open")
    assert anonymous(gateway, f"{bucket}/open.txt", method="HEAD")[0] == 200
    status, body = anonymous(gateway, f"{bucket}/closed.txt")
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body
    # A missing key is indistinguishable from a private one.
    assert anonymous(gateway, f"{bucket}/missing.txt")[0] == 403
    # Object READ does not extend to the object's ACL or to deleting it.
    assert anonymous(gateway, f"{bucket}/open.txt?acl")[0] == 403
    assert anonymous(gateway, f"{bucket}/open.txt", method="DELETE")[0] == 403
    assert s3.get_object(Bucket=bucket, Key="open.txt")["Body"].read() == b"open"


def test_explicit_deny_beats_public_object_acl(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="open.txt", Body=b"open", ACL="public-read")
    assert anonymous(gateway, f"{bucket}/open.txt") == (200, b"open")
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            bucket,
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
        ),
    )
    status, body = anonymous(gateway, f"{bucket}/open.txt")
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body
    assert anonymous(gateway, f"{bucket}/open.txt", method="HEAD")[0] == 403


def test_bucket_acl_shape(s3: S3Client, bucket: str) -> None:
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Owner"]["ID"] == ROOT_ACCESS_KEY
    assert acl["Grants"] == [
        {
            "Grantee": {
                "Type": "CanonicalUser",
                "ID": ROOT_ACCESS_KEY,
                "DisplayName": acl["Owner"]["DisplayName"],
            },
            "Permission": "FULL_CONTROL",
        }
    ]
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert len(grants) == 2
    assert grants[1] == {
        "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
        "Permission": "READ",
    }
    s3.put_bucket_acl(Bucket=bucket, ACL="authenticated-read")
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert grants[1]["Grantee"].get("URI") == (
        "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
    )
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert len(s3.get_bucket_acl(Bucket=bucket)["Grants"]) == 1


def test_put_bucket_acl_with_access_control_policy(s3: S3Client, bucket: str) -> None:
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    s3.put_bucket_acl(
        Bucket=bucket,
        AccessControlPolicy={
            "Owner": {"ID": owner["ID"]},
            "Grants": [
                {
                    "Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]},
                    "Permission": "FULL_CONTROL",
                },
                {
                    "Grantee": {
                        "Type": "Group",
                        "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                    },
                    "Permission": "READ",
                },
            ],
        },
    )
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL", "READ"]


def test_object_acl_shape(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="private.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="public.txt", Body=b"x", ACL="public-read")
    private = s3.get_object_acl(Bucket=bucket, Key="private.txt")
    assert private["Owner"]["ID"] == ROOT_ACCESS_KEY
    assert [(g["Grantee"]["Type"], g["Permission"]) for g in private["Grants"]] == [
        ("CanonicalUser", "FULL_CONTROL")
    ]
    public = s3.get_object_acl(Bucket=bucket, Key="public.txt")
    assert [(g["Grantee"]["Type"], g["Permission"]) for g in public["Grants"]] == [
        ("CanonicalUser", "FULL_CONTROL"),
        ("Group", "READ"),
    ]
    assert public["Grants"][1]["Grantee"]["URI"] == (
        "http://acs.amazonaws.com/groups/global/AllUsers"
    )
    assert error_code(lambda: s3.get_object_acl(Bucket=bucket, Key="missing")) == (
        "NoSuchKey",
        404,
    )


def test_invalid_canned_acl(s3: S3Client, bucket: str) -> None:
    bad: Any = "world-writable"
    assert error_code(lambda: s3.put_bucket_acl(Bucket=bucket, ACL=bad)) == (
        "InvalidArgument",
        400,
    )
    assert error_code(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"", ACL=bad)) == (
        "InvalidArgument",
        400,
    )
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="k")) == ("404", 404)
    name = f"acl-{uuid.uuid4().hex[:10]}"
    assert error_code(lambda: s3.create_bucket(Bucket=name, ACL=bad)) == (
        "InvalidArgument",
        400,
    )
    assert error_code(lambda: s3.head_bucket(Bucket=name)) == ("404", 404)
    assert len(s3.get_bucket_acl(Bucket=bucket)["Grants"]) == 1


def test_create_bucket_with_canned_acl(gateway: GatewayHandle, s3: S3Client) -> None:
    name = f"acl-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ACL="public-read")
    try:
        assert anonymous(gateway, name)[0] == 200
        assert len(s3.get_bucket_acl(Bucket=name)["Grants"]) == 2
    finally:
        s3.delete_bucket(Bucket=name)


def test_put_object_acl_changes_access(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="later-public", Body=b"now you see me")
    assert anonymous(gateway, f"{bucket}/later-public")[0] == 403
    s3.put_object_acl(Bucket=bucket, Key="later-public", ACL="public-read")
    assert anonymous(gateway, f"{bucket}/later-public") == (200, b"now you see me")
    grants = s3.get_object_acl(Bucket=bucket, Key="later-public")["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in grants)
    s3.put_object_acl(Bucket=bucket, Key="later-public", ACL="private")
    assert anonymous(gateway, f"{bucket}/later-public")[0] == 403
    assert error_code(
        lambda: s3.put_object_acl(Bucket=bucket, Key="missing", ACL="public-read")
    ) == ("NoSuchKey", 404)


@pytest.mark.parametrize(
    ("operator", "expected_status"), [("DateGreaterThan", 200), ("DateLessThan", 403)]
)
def test_current_time_condition(
    gateway: GatewayHandle, s3: S3Client, bucket: str, operator: str, expected_status: int
) -> None:
    s3.put_object(Bucket=bucket, Key="timed", Body=b"t")
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {operator: {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, statement))
    assert anonymous(gateway, f"{bucket}/timed")[0] == expected_status


def test_re_creating_a_bucket_resets_its_acl_only_where_put_bucket_acl_is_allowed(
    s3: S3Client, user: tuple[str, S3Client]
) -> None:
    """us-east-1's 200 for your own bucket resets its ACL: a policy that denies PutBucketAcl
    denies that too (it must not be a way around the policy)."""
    key, client = user
    name = f"mine-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=name)
    deny = {
        "Sid": "NoAcl",
        "Effect": "Deny",
        "Principal": {"AWS": key},
        "Action": "s3:PutBucketAcl",
        "Resource": f"arn:aws:s3:::{name}",
    }
    s3.put_bucket_policy(Bucket=name, Policy=policy(name, deny))
    assert error_code(lambda: client.create_bucket(Bucket=name, ACL="public-read")) == (
        "AccessDenied",
        403,
    )
    assert len(s3.get_bucket_acl(Bucket=name)["Grants"]) == 1, "still private"
    s3.delete_bucket_policy(Bucket=name)
    client.create_bucket(Bucket=name, ACL="public-read")
    assert len(s3.get_bucket_acl(Bucket=name)["Grants"]) == 2
    s3.delete_bucket(Bucket=name)
