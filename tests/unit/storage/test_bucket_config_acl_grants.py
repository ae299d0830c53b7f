"""ACL grants: x-amz-grant-* headers, the stored form (old canned names still read), evaluation
of grants, and what Block Public Access and Object Ownership make of them."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict
from nimbus_storage.bucket_config import ownership, public_access
from nimbus_storage.bucket_config.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    CANONICAL_USER,
    GROUP,
    LOG_DELIVERY,
    Grant,
    Permission,
    acl_allows,
    encode_grants,
    grantee_ids,
    parse_grant_header,
    render_acl,
    requested_acl,
    stored_grants,
    without_public_grants,
)
from nimbus_storage.s3errors import (
    InvalidArgument,
    InvalidRequest,
    UnresolvableGrantByEmailAddress,
)

OWNER = "AKIAOWNER0000001"
USER = "AKIAUSER00000002"
OTHER = "AKIAOTHER0000003"
OWNER_FC = Grant(CANONICAL_USER, OWNER, Permission.FULL_CONTROL)


def headers(**values: str) -> CIMultiDict[str]:
    return CIMultiDict({name.replace("_", "-"): value for name, value in values.items()})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f'id="{USER}"', [Grant(CANONICAL_USER, USER, Permission.READ)]),
        (f"id={USER}", [Grant(CANONICAL_USER, USER, Permission.READ)]),
        (f'uri="{ALL_USERS}"', [Grant(GROUP, ALL_USERS, Permission.READ)]),
        (
            f'id="{USER}", uri="{AUTHENTICATED_USERS}" ,ID="{OTHER}"',
            [
                Grant(CANONICAL_USER, USER, Permission.READ),
                Grant(GROUP, AUTHENTICATED_USERS, Permission.READ),
                Grant(CANONICAL_USER, OTHER, Permission.READ),
            ],
        ),
    ],
)
def test_grant_header_values(value: str, expected: list[Grant]) -> None:
    assert parse_grant_header("x-amz-grant-read", value) == expected


@pytest.mark.parametrize(
    "value", ["", "READ", 'id="unterminated', 'name="x"', 'id=""', 'id="a" uri="b"', ","]
)
def test_malformed_grant_headers_are_invalid_argument(value: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_grant_header("x-amz-grant-write", value)
    assert caught.value.extra["ArgumentName"] == "x-amz-grant-write"


def test_unknown_group_in_a_header_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_grant_header("x-amz-grant-read", 'uri="http://example.com/group"')
    assert caught.value.message == "Invalid group uri"


def test_email_grantee_in_a_header_is_unresolvable() -> None:
    with pytest.raises(UnresolvableGrantByEmailAddress):
        parse_grant_header("x-amz-grant-read", 'emailAddress="a@example.com"')


def test_canned_acl_and_grant_headers_together_are_invalid_request() -> None:
    with pytest.raises(InvalidRequest):
        requested_acl(headers(x_amz_acl="private", x_amz_grant_read=f"id={USER}"), OWNER)


def test_no_acl_headers_set_nothing() -> None:
    assert requested_acl(headers(), OWNER) is None
    assert requested_acl(headers(x_amz_acl="public-read"), OWNER) == "public-read"


def test_grant_headers_equal_to_a_canned_acl_are_stored_as_its_name() -> None:
    assert requested_acl(headers(x_amz_grant_read=f'uri="{ALL_USERS}"'), OWNER) == "public-read"
    assert requested_acl(headers(x_amz_grant_full_control=f"id={OWNER}"), OWNER) == "private"


def test_grant_headers_keep_their_order_after_the_owner() -> None:
    stored = requested_acl(
        headers(
            x_amz_grant_write_acp=f"id={USER}",
            x_amz_grant_read=f'uri="{AUTHENTICATED_USERS}", id={OTHER}',
            x_amz_grant_full_control=f"id={OWNER}",
        ),
        OWNER,
    )
    assert stored is not None
    # Header order: read, write, read-acp, write-acp, full-control (AWS's), owner FC first.
    assert stored_grants(stored, OWNER) == (
        OWNER_FC,
        Grant(GROUP, AUTHENTICATED_USERS, Permission.READ),
        Grant(CANONICAL_USER, OTHER, Permission.READ),
        Grant(CANONICAL_USER, USER, Permission.WRITE_ACP),
    )
    assert grantee_ids(stored) == (OTHER, USER)


@pytest.mark.parametrize("canned", ["private", "public-read", "authenticated-read"])
def test_old_canned_names_still_read_as_their_grants(canned: str) -> None:
    assert stored_grants(canned, OWNER)[0] == OWNER_FC
    assert grantee_ids(canned) == ()


def test_unreadable_stored_acl_grants_only_the_owner() -> None:
    assert stored_grants("[not json", OWNER) == (OWNER_FC,)
    assert stored_grants("something-else", OWNER) == (OWNER_FC,)


@pytest.mark.parametrize(
    ("permission", "action", "expected"),
    [
        (Permission.READ, "s3:ListBucket", True),
        (Permission.READ, "s3:GetObject", True),
        (Permission.READ, "s3:PutObject", False),
        (Permission.WRITE, "s3:PutObject", True),
        (Permission.WRITE, "s3:DeleteObject", True),
        (Permission.WRITE, "s3:GetObject", False),
        (Permission.READ_ACP, "s3:GetBucketAcl", True),
        (Permission.READ_ACP, "s3:PutBucketAcl", False),
        (Permission.WRITE_ACP, "s3:PutObjectAcl", True),
        (Permission.WRITE_ACP, "s3:GetObjectAcl", False),
        (Permission.FULL_CONTROL, "s3:GetObjectAcl", True),
        (Permission.FULL_CONTROL, "s3:PutObject", True),
        (Permission.FULL_CONTROL, "s3:PutBucketPolicy", False),  # configuration: owner only
    ],
)
def test_user_grants_allow_their_actions(
    permission: Permission, action: str, expected: bool
) -> None:
    stored = encode_grants([Grant(CANONICAL_USER, USER, permission)])
    assert acl_allows(stored, USER, OWNER, action) is expected
    assert acl_allows(stored, OTHER, OWNER, action) is False
    assert acl_allows(stored, None, OWNER, action) is False
    assert acl_allows(stored, OWNER, OWNER, action) is True


def test_group_grants() -> None:
    authenticated = encode_grants([Grant(GROUP, AUTHENTICATED_USERS, Permission.WRITE)])
    assert acl_allows(authenticated, USER, OWNER, "s3:PutObject")
    assert not acl_allows(authenticated, None, OWNER, "s3:PutObject")
    everyone = encode_grants([Grant(GROUP, ALL_USERS, Permission.READ_ACP)])
    assert acl_allows(everyone, None, OWNER, "s3:GetBucketAcl")
    log_delivery = encode_grants([Grant(GROUP, LOG_DELIVERY, Permission.WRITE)])
    assert not acl_allows(log_delivery, USER, OWNER, "s3:PutObject")


def test_public_grants() -> None:
    user_only = encode_grants([Grant(CANONICAL_USER, USER, Permission.READ)])
    mixed = encode_grants(
        [Grant(CANONICAL_USER, USER, Permission.READ), Grant(GROUP, ALL_USERS, Permission.WRITE)]
    )
    assert not public_access.is_public_acl(user_only)
    assert public_access.is_public_acl(mixed)
    assert public_access.is_public_acl(
        encode_grants([Grant(GROUP, AUTHENTICATED_USERS, Permission.READ)])
    )
    assert without_public_grants(mixed) == user_only
    assert without_public_grants("public-read") == "private"
    assert without_public_grants("bucket-owner-read") == "bucket-owner-read"


def test_enforced_ownership_allows_only_the_bucket_owners_full_control() -> None:
    enforced = ownership.BUCKET_OWNER_ENFORCED
    to_owner = encode_grants([Grant(CANONICAL_USER, OWNER, Permission.FULL_CONTROL)])
    to_user = encode_grants([Grant(CANONICAL_USER, USER, Permission.FULL_CONTROL)])
    read = encode_grants([Grant(CANONICAL_USER, OWNER, Permission.READ)])
    assert ownership.acl_allowed(enforced, to_owner, OWNER)
    assert not ownership.acl_allowed(enforced, to_user, OWNER)
    assert not ownership.acl_allowed(enforced, read, OWNER)
    assert ownership.acl_allowed(ownership.OBJECT_WRITER, to_user, OWNER)


def test_rendered_grants_come_after_the_owner() -> None:
    stored = encode_grants(
        [Grant(GROUP, LOG_DELIVERY, Permission.WRITE), Grant(CANONICAL_USER, USER, Permission.READ)]
    )
    document = render_acl(stored, OWNER).decode()
    assert document.index(OWNER) < document.index(LOG_DELIVERY) < document.index(USER)
    assert document.count("<Grant>") == 3
