"""Non-canned ACLs through boto3: x-amz-grant-* headers and AccessControlPolicy bodies with any
grants, what each permission lets another user do, and the errors AWS answers; in standalone
and cluster mode."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any, cast

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.access_support import plain_user
from tests.functional.conftest import GatewayHandle, empty_and_delete, error_code
from tests.functional.test_policy_acl import anonymous, policy

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"

User = tuple[str, S3Client]


@pytest.fixture
def owner(gateway_in_each_mode: GatewayHandle) -> Iterator[User]:
    """A plain user owning a bucket of its own (the admin key is above ACLs and policies)."""
    with plain_user(gateway_in_each_mode) as user:
        yield user


@pytest.fixture
def other(gateway_in_each_mode: GatewayHandle) -> Iterator[User]:
    with plain_user(gateway_in_each_mode) as user:
        yield user


@pytest.fixture
def owned_bucket(owner: User, s3_in_each_mode: S3Client) -> Iterator[str]:
    name = f"grants-{uuid.uuid4().hex[:10]}"
    owner[1].create_bucket(Bucket=name)
    yield name
    s3_in_each_mode.delete_bucket_policy(Bucket=name)
    empty_and_delete(s3_in_each_mode, name)


def grants_of(acl: Any) -> list[tuple[str, str]]:
    return [
        (grant["Grantee"].get("ID") or grant["Grantee"].get("URI", ""), grant["Permission"])
        for grant in acl["Grants"]
    ]


# --- grant headers ----------------------------------------------------------------------------


def test_put_object_grant_read_to_another_user(
    gateway_in_each_mode: GatewayHandle, owner: User, other: User, owned_bucket: str
) -> None:
    owner_key, client = owner
    other_key, other_client = other
    client.put_object(Bucket=owned_bucket, Key="shared", Body=b"hi", GrantRead=f'id="{other_key}"')
    assert other_client.get_object(Bucket=owned_bucket, Key="shared")["Body"].read() == b"hi"
    assert other_client.head_object(Bucket=owned_bucket, Key="shared")["ContentLength"] == 2
    assert anonymous(gateway_in_each_mode, f"{owned_bucket}/shared")[0] == 403
    # READ is not READ_ACP, nor WRITE_ACP.
    assert error_code(lambda: other_client.get_object_acl(Bucket=owned_bucket, Key="shared")) == (
        "AccessDenied",
        403,
    )
    acl = client.get_object_acl(Bucket=owned_bucket, Key="shared")
    assert grants_of(acl) == [(owner_key, "FULL_CONTROL"), (other_key, "READ")]


def test_a_copy_source_is_readable_through_its_own_acl(
    owner: User, other: User, owned_bucket: str
) -> None:
    """The source of a copy is read as a GET reads it: its object ACL may allow what its
    bucket's rules do not; a missing or unreadable source tells the caller nothing."""
    _owner_key, client = owner
    other_key, other_client = other
    client.put_object(Bucket=owned_bucket, Key="granted", Body=b"g", GrantRead=f'id="{other_key}"')
    client.put_object(Bucket=owned_bucket, Key="private", Body=b"p")
    client.put_bucket_acl(Bucket=owned_bucket, GrantFullControl=f'id="{other_key}"')
    source: Any = {"Bucket": owned_bucket, "Key": "granted"}
    other_client.copy_object(Bucket=owned_bucket, Key="copy", CopySource=source)
    assert other_client.get_object(Bucket=owned_bucket, Key="copy")["Body"].read() == b"g"
    for key in ("private", "absent"):
        copy = partial(
            other_client.copy_object,
            Bucket=owned_bucket,
            Key="copy2",
            CopySource={"Bucket": owned_bucket, "Key": key},
        )
        assert error_code(copy) == ("AccessDenied", 403)


def test_object_read_acp_and_write_acp(owner: User, other: User, owned_bucket: str) -> None:
    _, client = owner
    other_key, other_client = other
    client.put_object(Bucket=owned_bucket, Key="acp", Body=b"x", GrantReadACP=f"id={other_key}")
    assert other_client.get_object_acl(Bucket=owned_bucket, Key="acp")["Grants"]
    assert error_code(lambda: other_client.get_object(Bucket=owned_bucket, Key="acp")) == (
        "AccessDenied",
        403,
    )
    assert error_code(
        lambda: other_client.put_object_acl(Bucket=owned_bucket, Key="acp", ACL="public-read")
    ) == ("AccessDenied", 403)
    client.put_object_acl(Bucket=owned_bucket, Key="acp", GrantWriteACP=f"id={other_key}")
    other_client.put_object_acl(Bucket=owned_bucket, Key="acp", GrantFullControl=f"id={other_key}")
    # FULL_CONTROL: READ, READ_ACP and WRITE_ACP on the object.
    assert other_client.get_object(Bucket=owned_bucket, Key="acp")["Body"].read() == b"x"
    other_client.get_object_acl(Bucket=owned_bucket, Key="acp")


def test_bucket_grant_headers(
    gateway_in_each_mode: GatewayHandle, owner: User, other: User, owned_bucket: str
) -> None:
    owner_key, client = owner
    other_key, other_client = other
    assert error_code(lambda: other_client.put_object(Bucket=owned_bucket, Key="w", Body=b"")) == (
        "AccessDenied",
        403,
    )
    client.put_bucket_acl(
        Bucket=owned_bucket,
        GrantWrite=f'id="{other_key}"',
        GrantRead=f'uri="{ALL_USERS}"',
        GrantReadACP=f'uri="{AUTHENTICATED}"',
    )
    other_client.put_object(Bucket=owned_bucket, Key="w", Body=b"by other")
    other_client.delete_object(Bucket=owned_bucket, Key="w")
    assert anonymous(gateway_in_each_mode, owned_bucket)[0] == 200  # READ: list
    assert grants_of(other_client.get_bucket_acl(Bucket=owned_bucket)) == [
        (owner_key, "FULL_CONTROL"),
        (ALL_USERS, "READ"),
        (other_key, "WRITE"),
        (AUTHENTICATED, "READ_ACP"),
    ]
    assert error_code(lambda: other_client.put_bucket_acl(Bucket=owned_bucket, ACL="private")) == (
        "AccessDenied",
        403,
    )
    client.put_bucket_acl(Bucket=owned_bucket, GrantWriteACP=f"id={other_key}")
    other_client.put_bucket_acl(Bucket=owned_bucket, ACL="private")
    assert grants_of(client.get_bucket_acl(Bucket=owned_bucket)) == [(owner_key, "FULL_CONTROL")]


def test_create_bucket_with_grant_headers(
    gateway_in_each_mode: GatewayHandle, owner: User, other: User, s3_in_each_mode: S3Client
) -> None:
    owner_key, client = owner
    other_key, other_client = other
    name = f"grants-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=name, GrantFullControl=f"id={other_key}")
    try:
        other_client.put_object(Bucket=name, Key="k", Body=b"v")
        assert [o["Key"] for o in other_client.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
        assert grants_of(other_client.get_bucket_acl(Bucket=name)) == [
            (owner_key, "FULL_CONTROL"),
            (other_key, "FULL_CONTROL"),
        ]
        # Configuration stays the owner's.
        assert error_code(
            lambda: other_client.put_bucket_policy(
                Bucket=name,
                Policy=policy(
                    name,
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{name}/*",
                    },
                ),
            )
        ) == ("AccessDenied", 403)
    finally:
        empty_and_delete(s3_in_each_mode, name)


def test_copy_and_multipart_take_grant_headers(owner: User, other: User, owned_bucket: str) -> None:
    _, client = owner
    other_key, other_client = other
    client.put_object(Bucket=owned_bucket, Key="source", Body=b"copied")
    client.copy_object(
        Bucket=owned_bucket,
        Key="copy",
        CopySource={"Bucket": owned_bucket, "Key": "source"},
        GrantRead=f"id={other_key}",
    )
    assert other_client.get_object(Bucket=owned_bucket, Key="copy")["Body"].read() == b"copied"
    upload = client.create_multipart_upload(
        Bucket=owned_bucket, Key="parts", GrantRead=f"id={other_key}"
    )
    part = client.upload_part(
        Bucket=owned_bucket, Key="parts", UploadId=upload["UploadId"], PartNumber=1, Body=b"p"
    )
    client.complete_multipart_upload(
        Bucket=owned_bucket,
        Key="parts",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    assert other_client.get_object(Bucket=owned_bucket, Key="parts")["Body"].read() == b"p"
    assert error_code(lambda: other_client.get_object(Bucket=owned_bucket, Key="source")) == (
        "AccessDenied",
        403,
    )


def test_access_control_policy_body_with_any_grants(
    owner: User, other: User, owned_bucket: str
) -> None:
    owner_key, client = owner
    other_key, other_client = other
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"v")
    body: Any = {
        "Owner": {"ID": owner_key},
        "Grants": [
            {"Grantee": {"Type": "Group", "URI": LOG_DELIVERY}, "Permission": "WRITE"},
            {"Grantee": {"Type": "CanonicalUser", "ID": other_key}, "Permission": "READ"},
            {"Grantee": {"Type": "CanonicalUser", "ID": owner_key}, "Permission": "FULL_CONTROL"},
        ],
    }
    client.put_object_acl(Bucket=owned_bucket, Key="k", AccessControlPolicy=body)
    assert grants_of(client.get_object_acl(Bucket=owned_bucket, Key="k")) == [
        (owner_key, "FULL_CONTROL"),
        (LOG_DELIVERY, "WRITE"),
        (other_key, "READ"),
    ]
    assert other_client.get_object(Bucket=owned_bucket, Key="k")["Body"].read() == b"v"
    client.put_bucket_acl(Bucket=owned_bucket, AccessControlPolicy=body)
    assert grants_of(client.get_bucket_acl(Bucket=owned_bucket))[1:] == [
        (LOG_DELIVERY, "WRITE"),
        (other_key, "READ"),
    ]
    assert other_client.list_objects_v2(Bucket=owned_bucket)["KeyCount"] == 1


# --- bad inputs -------------------------------------------------------------------------------


def test_bad_grants(owner: User, owned_bucket: str) -> None:
    owner_key, client = owner
    kwargs: Any = {"Bucket": owned_bucket, "Key": "k", "Body": b""}
    assert error_code(
        lambda: client.put_object(**kwargs, ACL="private", GrantRead=f"id={owner_key}")
    ) == ("InvalidRequest", 400)
    assert error_code(lambda: client.put_object(**kwargs, GrantRead='id="NOSUCHUSER123"')) == (
        "InvalidArgument",
        400,
    )
    assert error_code(
        lambda: client.put_bucket_acl(Bucket=owned_bucket, GrantWrite="id=NOSUCHUSER123")
    ) == ("InvalidArgument", 400)
    assert error_code(
        lambda: client.put_object(**kwargs, GrantRead='emailAddress="a@example.com"')
    ) == ("UnresolvableGrantByEmailAddress", 400)
    assert error_code(lambda: client.put_object(**kwargs, GrantRead="nonsense")) == (
        "InvalidArgument",
        400,
    )
    assert error_code(
        lambda: client.put_object(**kwargs, GrantRead='uri="http://example.com/group"')
    ) == ("InvalidArgument", 400)
    assert error_code(
        lambda: client.create_bucket(
            Bucket=f"grants-{uuid.uuid4().hex[:10]}", GrantRead="id=NOSUCHUSER123"
        )
    ) == ("InvalidArgument", 400)
    client.put_object(**kwargs)
    bad_body: Any = {
        "Owner": {"ID": owner_key},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": "NOSUCHUSER123"}, "Permission": "READ"}
        ],
    }
    assert error_code(
        lambda: client.put_object_acl(Bucket=owned_bucket, Key="k", AccessControlPolicy=bad_body)
    ) == ("InvalidArgument", 400)
    email_body: Any = {
        "Owner": {"ID": owner_key},
        "Grants": [
            {
                "Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"},
                "Permission": "READ",
            }
        ],
    }
    assert error_code(
        lambda: client.put_bucket_acl(Bucket=owned_bucket, AccessControlPolicy=email_body)
    ) == ("UnresolvableGrantByEmailAddress", 400)
    assert error_code(lambda: client.head_object(Bucket=owned_bucket, Key="missing")) == (
        "404",
        404,
    )


def test_malformed_acl_body(
    gateway_in_each_mode: GatewayHandle, owner: User, owned_bucket: str
) -> None:
    owner_key, client = owner
    body: Any = {
        "Owner": {"ID": owner_key},
        "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner_key}, "Permission": "ALL"}],
    }
    assert error_code(
        lambda: client.put_bucket_acl(Bucket=owned_bucket, AccessControlPolicy=body)
    ) == ("MalformedACLError", 400)


# --- controls and policies --------------------------------------------------------------------


def test_block_and_ignore_public_acls_see_public_grants(
    gateway_in_each_mode: GatewayHandle,
    owner: User,
    other: User,
    owned_bucket: str,
) -> None:
    _, client = owner
    other_key, other_client = other
    client.put_object(
        Bucket=owned_bucket,
        Key="both",
        Body=b"b",
        GrantRead=f'id="{other_key}", uri="{ALL_USERS}"',
    )
    assert anonymous(gateway_in_each_mode, f"{owned_bucket}/both")[0] == 200
    client.put_public_access_block(
        Bucket=owned_bucket,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True},
    )
    try:
        # The public grant is ignored, the other user's still holds.
        assert anonymous(gateway_in_each_mode, f"{owned_bucket}/both")[0] == 403
        assert other_client.get_object(Bucket=owned_bucket, Key="both")["Body"].read() == b"b"
        for grant in (f'uri="{ALL_USERS}"', f'uri="{AUTHENTICATED}"'):
            assert error_code(
                partial(client.put_object, Bucket=owned_bucket, Key="p", Body=b"", GrantRead=grant)
            ) == ("AccessDenied", 403)
            assert error_code(
                partial(client.put_bucket_acl, Bucket=owned_bucket, GrantWrite=grant)
            ) == ("AccessDenied", 403)
        client.put_object(Bucket=owned_bucket, Key="p", Body=b"", GrantRead=f"id={other_key}")
    finally:
        client.delete_public_access_block(Bucket=owned_bucket)


def test_bucket_owner_enforced_refuses_grants(owner: User, other: User, owned_bucket: str) -> None:
    owner_key, client = owner
    other_key, _ = other
    client.put_bucket_ownership_controls(
        Bucket=owned_bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )
    assert error_code(
        lambda: client.put_object(
            Bucket=owned_bucket, Key="k", Body=b"", GrantRead=f"id={other_key}"
        )
    ) == ("AccessControlListNotSupported", 400)
    assert error_code(
        lambda: client.put_bucket_acl(Bucket=owned_bucket, GrantRead=f"id={other_key}")
    ) == ("AccessControlListNotSupported", 400)
    # The bucket owner's full control is all there is, and may still be said.
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"", GrantFullControl=f"id={owner_key}")


def test_ownership_enforced_is_refused_while_grants_give_others(
    owner: User, other: User, owned_bucket: str
) -> None:
    _, client = owner
    other_key, _ = other
    client.put_bucket_acl(Bucket=owned_bucket, GrantRead=f"id={other_key}")
    assert error_code(
        lambda: client.put_bucket_ownership_controls(
            Bucket=owned_bucket,
            OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        )
    ) == ("InvalidBucketAclWithObjectOwnership", 400)


def test_policy_deny_wins_over_a_grant(owner: User, other: User, owned_bucket: str) -> None:
    _, client = owner
    other_key, other_client = other
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"v", GrantRead=f"id={other_key}")
    deny = {
        "Effect": "Deny",
        "Principal": {"AWS": other_key},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{owned_bucket}/*",
    }
    client.put_bucket_policy(Bucket=owned_bucket, Policy=policy(owned_bucket, deny))
    assert error_code(lambda: other_client.get_object(Bucket=owned_bucket, Key="k")) == (
        "AccessDenied",
        403,
    )


def test_grant_headers_in_policy_conditions(owner: User, other: User, owned_bucket: str) -> None:
    """s3:x-amz-grant-read: a policy can refuse writes that share the object."""
    _, client = owner
    other_key, _ = other
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{owned_bucket}/*",
        "Condition": {"Null": {"s3:x-amz-grant-read": "false"}},
    }
    client.put_bucket_policy(Bucket=owned_bucket, Policy=policy(owned_bucket, deny))
    assert error_code(
        lambda: client.put_object(
            Bucket=owned_bucket, Key="k", Body=b"", GrantRead=f"id={other_key}"
        )
    ) == ("AccessDenied", 403)
    client.put_object(Bucket=owned_bucket, Key="k", Body=b"")
    assert cast(
        str, client.get_object_acl(Bucket=owned_bucket, Key="k")["Grants"][0]["Permission"]
    ) == ("FULL_CONTROL")
