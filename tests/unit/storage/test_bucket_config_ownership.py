"""Object Ownership: the OwnershipControls document and what each setting allows."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from nimbus_storage.bucket_config.acl import CANNED_ACLS
from nimbus_storage.bucket_config.ownership import (
    SETTINGS,
    ObjectOwnership,
    acl_allowed,
    acls_disabled,
    object_owner,
    ownership_of,
    parse_header,
    parse_ownership_controls,
    render_ownership_controls,
)
from nimbus_storage.s3errors import InvalidArgument, MalformedXML

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def body(inner: str) -> bytes:
    return f'<OwnershipControls xmlns="{NS}">{inner}</OwnershipControls>'.encode()


def rule(value: str) -> str:
    return f"<Rule><ObjectOwnership>{value}</ObjectOwnership></Rule>"


@pytest.mark.parametrize("setting", SETTINGS)
def test_each_setting_parses_and_renders(setting: ObjectOwnership) -> None:
    assert parse_ownership_controls(body(rule(setting))) == setting
    assert parse_ownership_controls(body(rule(f" {setting}\n"))) == setting
    rendered = render_ownership_controls(setting)
    root = ET.fromstring(rendered)
    assert root.findtext(f"{{{NS}}}Rule/{{{NS}}}ObjectOwnership") == setting
    assert parse_ownership_controls(rendered) == setting


@pytest.mark.parametrize(
    "inner",
    [
        "",
        rule("BucketOwnerFull"),
        rule("bucketownerenforced"),
        rule(""),
        rule("ObjectWriter") + rule("ObjectWriter"),
        "<Rule></Rule>",
        "<ObjectOwnership>ObjectWriter</ObjectOwnership>",
        "<Rule><ObjectOwnership>ObjectWriter</ObjectOwnership><Other/></Rule>",
        "<Rules>" + rule("ObjectWriter") + "</Rules>",
    ],
)
def test_malformed_documents(inner: str) -> None:
    with pytest.raises(MalformedXML):
        parse_ownership_controls(body(inner))


def test_another_root_is_malformed() -> None:
    with pytest.raises(MalformedXML):
        parse_ownership_controls(f"<Ownership>{rule('ObjectWriter')}</Ownership>".encode())


def test_stored_values_and_the_default() -> None:
    assert ownership_of(None) == "ObjectWriter"
    assert ownership_of("garbage") == "ObjectWriter"
    assert ownership_of("BucketOwnerEnforced") == "BucketOwnerEnforced"


def test_header() -> None:
    assert parse_header("BucketOwnerPreferred") == "BucketOwnerPreferred"
    with pytest.raises(InvalidArgument):
        parse_header("Everyone")


@pytest.mark.parametrize("canned", CANNED_ACLS)
def test_acls_allowed_when_disabled(canned: str) -> None:
    assert acl_allowed("BucketOwnerEnforced", canned) is (
        canned in ("private", "bucket-owner-full-control")
    )
    assert acl_allowed("BucketOwnerPreferred", canned)
    assert acl_allowed("ObjectWriter", canned)


def test_only_bucket_owner_enforced_disables_acls() -> None:
    assert [setting for setting in SETTINGS if acls_disabled(setting)] == ["BucketOwnerEnforced"]


@pytest.mark.parametrize(
    ("setting", "canned", "owner"),
    [
        ("ObjectWriter", "private", "writer"),
        ("ObjectWriter", "bucket-owner-full-control", "writer"),
        ("BucketOwnerPreferred", "private", "writer"),
        ("BucketOwnerPreferred", "bucket-owner-read", "writer"),
        ("BucketOwnerPreferred", "bucket-owner-full-control", "bucket-owner"),
        ("BucketOwnerEnforced", "private", "bucket-owner"),
        ("BucketOwnerEnforced", "bucket-owner-full-control", "bucket-owner"),
    ],
)
def test_object_owner(setting: ObjectOwnership, canned: str, owner: str) -> None:
    assert object_owner(setting, "writer", "bucket-owner", canned) == owner
