"""ACLs: canned ACL headers, permission checks, and the AccessControlPolicy document."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.parsers import RestXMLParser
from nimbus_storage.bucket_config.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    CANNED_ACLS,
    CANONICAL_USER,
    GROUP,
    LOG_DELIVERY,
    Grant,
    Permission,
    acl_allows,
    canned_grants,
    parse_acl_body,
    parse_canned_acl,
    render_acl,
    stored_grants,
)
from nimbus_storage.s3errors import (
    InvalidArgument,
    MalformedACLError,
    MalformedXML,
    UnresolvableGrantByEmailAddress,
)

OWNER = "AKIAOWNER0000001"
USER = "AKIAUSER00000002"
BUCKET_OWNER = "AKIABUCKETOWNER3"


def boto3_view(document: bytes) -> dict[str, object]:
    """The document as boto3 hands it to a caller of get_bucket_acl."""
    model = botocore.session.get_session().get_service_model("s3")
    shape = model.operation_model("GetBucketAcl").output_shape
    assert shape is not None
    response = {"body": document, "headers": {}, "status_code": 200}
    parsed: dict[str, object] = RestXMLParser().parse(response, shape)
    return parsed


@pytest.mark.parametrize("canned", CANNED_ACLS)
def test_every_canned_acl_header_is_accepted(canned: str) -> None:
    assert parse_canned_acl(canned) == canned
    assert parse_canned_acl(f" {canned} ") == canned


def test_missing_header_means_private() -> None:
    assert parse_canned_acl(None) == "private"


@pytest.mark.parametrize("value", ["public", "Public-Read", "", "aws-exec-read"])
def test_unknown_canned_acl_is_invalid_argument(value: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_canned_acl(value)
    assert caught.value.code == "InvalidArgument"
    assert caught.value.extra == {"ArgumentName": "x-amz-acl", "ArgumentValue": value}


@pytest.mark.parametrize("canned", CANNED_ACLS)
@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutBucketPolicy", "s3:PutObjectAcl"])
def test_owner_may_do_anything(canned: str, action: str) -> None:
    assert acl_allows(canned, OWNER, OWNER, action)


@pytest.mark.parametrize(
    ("canned", "principal", "action", "expected"),
    [
        ("private", None, "s3:GetObject", False),
        ("private", USER, "s3:GetObject", False),
        ("public-read", None, "s3:GetObject", True),
        ("public-read", None, "s3:GetObjectVersion", True),
        ("public-read", None, "s3:ListBucket", True),
        ("public-read", USER, "s3:ListBucketVersions", True),
        ("public-read", None, "s3:PutObject", False),
        ("public-read", None, "s3:GetBucketAcl", False),
        ("public-read", None, "s3:GetObjectTagging", False),  # not a READ-ACL action
        ("public-read-write", None, "s3:PutObject", True),
        ("public-read-write", None, "s3:DeleteObject", True),
        ("public-read-write", USER, "s3:AbortMultipartUpload", True),
        ("public-read-write", None, "s3:GetObject", True),
        ("public-read-write", None, "s3:PutBucketAcl", False),
        ("public-read-write", None, "s3:PutBucketPolicy", False),
        ("authenticated-read", None, "s3:GetObject", False),
        ("authenticated-read", USER, "s3:GetObject", True),
        ("authenticated-read", USER, "s3:PutObject", False),
        ("log-delivery-write", USER, "s3:PutObject", False),
        ("log-delivery-write", None, "s3:GetBucketAcl", False),
        ("bucket-owner-read", USER, "s3:GetObject", False),
    ],
)
def test_grants_to_others(canned: str, principal: str | None, action: str, expected: bool) -> None:
    assert acl_allows(canned, principal, OWNER, action) is expected


def test_bucket_owner_grants_on_objects() -> None:
    kwargs = {"bucket_owner": BUCKET_OWNER}
    assert acl_allows("bucket-owner-read", BUCKET_OWNER, OWNER, "s3:GetObject", **kwargs)
    assert not acl_allows("bucket-owner-read", BUCKET_OWNER, OWNER, "s3:PutObjectAcl", **kwargs)
    assert acl_allows("bucket-owner-full-control", BUCKET_OWNER, OWNER, "s3:PutObjectAcl", **kwargs)
    assert acl_allows("bucket-owner-full-control", BUCKET_OWNER, OWNER, "s3:GetObjectAcl", **kwargs)
    assert not acl_allows("bucket-owner-full-control", USER, OWNER, "s3:GetObject", **kwargs)
    assert not acl_allows("bucket-owner-full-control", None, OWNER, "s3:GetObject", **kwargs)


def test_canned_grants() -> None:
    owner_full = Grant("CanonicalUser", OWNER, Permission.FULL_CONTROL)
    assert canned_grants("private", OWNER) == (owner_full,)
    assert canned_grants("public-read-write", OWNER) == (
        owner_full,
        Grant("Group", ALL_USERS, Permission.READ),
        Grant("Group", ALL_USERS, Permission.WRITE),
    )
    assert canned_grants("authenticated-read", OWNER)[1].grantee == AUTHENTICATED_USERS
    assert canned_grants("log-delivery-write", OWNER)[1:] == (
        Grant("Group", LOG_DELIVERY, Permission.WRITE),
        Grant("Group", LOG_DELIVERY, Permission.READ_ACP),
    )
    # The bucket owner is named only when it is someone else.
    assert canned_grants("bucket-owner-read", OWNER, OWNER) == (owner_full,)
    assert canned_grants("bucket-owner-read", OWNER) == (owner_full,)
    assert canned_grants("bucket-owner-read", OWNER, BUCKET_OWNER)[1] == Grant(
        "CanonicalUser", BUCKET_OWNER, Permission.READ
    )


def test_rendered_document_declares_xsi_and_boto3_reads_it() -> None:
    document = render_acl("public-read", OWNER, display_name="alice")
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy')
    assert b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"' in document
    parsed = boto3_view(document)
    assert parsed["Owner"] == {"ID": OWNER, "DisplayName": "alice"}
    assert parsed["Grants"] == [
        {
            "Grantee": {"ID": OWNER, "DisplayName": "alice", "Type": "CanonicalUser"},
            "Permission": "FULL_CONTROL",
        },
        {"Grantee": {"URI": ALL_USERS, "Type": "Group"}, "Permission": "READ"},
    ]


def test_display_name_defaults_to_the_owner_id() -> None:
    parsed = boto3_view(render_acl("private", OWNER))
    assert parsed["Owner"] == {"ID": OWNER, "DisplayName": OWNER}


@pytest.mark.parametrize("canned", CANNED_ACLS)
def test_rendered_documents_parse_back_to_an_equivalent_acl(canned: str) -> None:
    document = render_acl(canned, OWNER, bucket_owner=BUCKET_OWNER)
    back = parse_acl_body(document, OWNER, bucket_owner=BUCKET_OWNER)
    assert canned_grants(back, OWNER, BUCKET_OWNER) == canned_grants(canned, OWNER, BUCKET_OWNER)


def acl_body(*grants: str) -> bytes:
    return (
        '<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Owner><ID>{OWNER}</ID></Owner><AccessControlList>{''.join(grants)}"
        "</AccessControlList></AccessControlPolicy>"
    ).encode()


def user_grant(user: str, permission: str, typed: bool = True) -> str:
    xsi = ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"'
    return (
        f"<Grant><Grantee{xsi if typed else ''}><ID>{user}</ID></Grantee>"
        f"<Permission>{permission}</Permission></Grant>"
    )


def group_grant(uri: str, permission: str) -> str:
    xsi = ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"'
    grantee = f"<Grantee{xsi}><URI>{uri}</URI></Grantee>"
    return f"<Grant>{grantee}<Permission>{permission}</Permission></Grant>"


def test_body_with_untyped_grantees_is_understood() -> None:
    body = acl_body(user_grant(OWNER, "FULL_CONTROL", typed=False), group_grant(ALL_USERS, "READ"))
    assert parse_acl_body(body, OWNER) == "public-read"


def test_grant_order_does_not_matter() -> None:
    body = acl_body(group_grant(ALL_USERS, "READ"), user_grant(OWNER, "FULL_CONTROL"))
    assert parse_acl_body(body, OWNER) == "public-read"


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        (
            (user_grant(OWNER, "FULL_CONTROL"), user_grant(USER, "READ")),
            [Grant(CANONICAL_USER, USER, Permission.READ)],
        ),
        (  # the owner's own lesser grant is kept after its (always shown) FULL_CONTROL
            (user_grant(OWNER, "READ"),),
            [Grant(CANONICAL_USER, OWNER, Permission.READ)],
        ),
        (
            (user_grant(OWNER, "FULL_CONTROL"), group_grant(ALL_USERS, "WRITE")),
            [Grant(GROUP, ALL_USERS, Permission.WRITE)],
        ),
        (
            (group_grant(LOG_DELIVERY, "READ_ACP"), user_grant(USER, "WRITE_ACP")),
            [
                Grant(GROUP, LOG_DELIVERY, Permission.READ_ACP),
                Grant(CANONICAL_USER, USER, Permission.WRITE_ACP),
            ],
        ),
    ],
)
def test_grant_sets_without_a_canned_equivalent_are_stored_as_grants(
    grants: tuple[str], expected: list[Grant]
) -> None:
    stored = parse_acl_body(acl_body(*grants), OWNER)
    assert stored.startswith("[")
    owner_grant = Grant(CANONICAL_USER, OWNER, Permission.FULL_CONTROL)
    assert stored_grants(stored, OWNER) == (owner_grant, *expected)


def test_a_grant_without_the_owner_is_public_read_when_it_is_all_there_is() -> None:
    assert parse_acl_body(acl_body(group_grant(ALL_USERS, "READ")), OWNER) == "public-read"


def test_email_grantees_are_unresolvable() -> None:
    grant = (
        "<Grant><Grantee><EmailAddress>a@example.com</EmailAddress></Grantee>"
        "<Permission>READ</Permission></Grant>"
    )
    with pytest.raises(UnresolvableGrantByEmailAddress) as caught:
        parse_acl_body(acl_body(user_grant(OWNER, "FULL_CONTROL"), grant), OWNER)
    assert (caught.value.code, caught.value.status) == ("UnresolvableGrantByEmailAddress", 400)


def test_unknown_group_is_invalid_argument() -> None:
    body = acl_body(group_grant("http://acs.amazonaws.com/groups/global/Robots", "READ"))
    with pytest.raises(InvalidArgument) as caught:
        parse_acl_body(body, OWNER)
    assert caught.value.message == "Invalid group uri"


@pytest.mark.parametrize(
    "body",
    [
        b"<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>",
        acl_body("<Grant><Permission>READ</Permission></Grant>"),
        acl_body(user_grant(OWNER, "EVERYTHING")),
        acl_body(user_grant("", "READ")),
        acl_body("<Grant><Grantee><Name>x</Name></Grantee><Permission>READ</Permission></Grant>"),
        acl_body(
            '<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            ' xsi:type="Robot">'
            "<ID>x</ID></Grantee><Permission>READ</Permission></Grant>"
        ),
    ],
)
def test_schema_violations_are_malformed_acl(body: bytes) -> None:
    with pytest.raises(MalformedACLError) as caught:
        parse_acl_body(body, OWNER)
    assert caught.value.code == "MalformedACLError"
    assert caught.value.status == 400


@pytest.mark.parametrize("body", [b"<AccessControlPolicy>", b"<Other/>", b""])
def test_unparsable_bodies_are_malformed_xml(body: bytes) -> None:
    with pytest.raises(MalformedXML):
        parse_acl_body(body, OWNER)
