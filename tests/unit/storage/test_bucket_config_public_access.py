"""Block Public Access documents, and which canned ACLs are public."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from nimbus_storage.bucket_config.acl import CANNED_ACLS
from nimbus_storage.bucket_config.public_access import (
    NO_BLOCK,
    PublicAccessBlock,
    from_json,
    is_public_acl,
    parse_public_access_block,
    render_public_access_block,
    to_json,
)
from nimbus_storage.s3errors import MalformedXML

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def body(inner: str, root: str = "PublicAccessBlockConfiguration") -> bytes:
    return f'<{root} xmlns="{NS}">{inner}</{root}>'.encode()


def test_all_four_settings() -> None:
    document = body(
        "<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>TRUE</IgnorePublicAcls>"
        "<BlockPublicPolicy> false </BlockPublicPolicy>"
        "<RestrictPublicBuckets>True</RestrictPublicBuckets>"
    )
    assert parse_public_access_block(document) == PublicAccessBlock(
        block_public_acls=True,
        ignore_public_acls=True,
        block_public_policy=False,
        restrict_public_buckets=True,
    )


def test_missing_settings_are_false() -> None:
    assert parse_public_access_block(body("")) == NO_BLOCK
    only = parse_public_access_block(body("<BlockPublicPolicy>true</BlockPublicPolicy>"))
    assert only == PublicAccessBlock(block_public_policy=True)


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"not xml",
        body("<BlockPublicAcls>true</BlockPublicAcls>", root="PublicAccessBlock"),
        body("<BlockPublicAcls>yes</BlockPublicAcls>"),
        body("<BlockPublicAcls></BlockPublicAcls>"),
        body("<BlockPublicAcls>1</BlockPublicAcls>"),
        body("<BlockPublicAcls>true</BlockPublicAcls><BlockPublicAcls>true</BlockPublicAcls>"),
        body("<BlockAllPublicAccess>true</BlockAllPublicAccess>"),
        body("<BlockPublicAcls><Value>true</Value></BlockPublicAcls>"),
    ],
)
def test_malformed_documents(document: bytes) -> None:
    with pytest.raises(MalformedXML) as caught:
        parse_public_access_block(document)
    assert (caught.value.status, caught.value.code) == (400, "MalformedXML")


def test_render_answers_every_setting_in_aws_order() -> None:
    block = PublicAccessBlock(block_public_acls=True, restrict_public_buckets=True)
    root = ET.fromstring(render_public_access_block(block))
    assert root.tag == f"{{{NS}}}PublicAccessBlockConfiguration"
    assert [(child.tag.split("}")[1], child.text) for child in root] == [
        ("BlockPublicAcls", "true"),
        ("IgnorePublicAcls", "false"),
        ("BlockPublicPolicy", "false"),
        ("RestrictPublicBuckets", "true"),
    ]


def test_rendered_document_parses_back() -> None:
    block = PublicAccessBlock(ignore_public_acls=True, block_public_policy=True)
    assert parse_public_access_block(render_public_access_block(block)) == block


def test_json_round_trip() -> None:
    block = PublicAccessBlock(block_public_acls=True, block_public_policy=True)
    assert from_json(to_json(block)) == block
    assert from_json("{}") == NO_BLOCK


@pytest.mark.parametrize("canned", CANNED_ACLS)
def test_public_acls_grant_all_or_authenticated_users(canned: str) -> None:
    expected = canned in ("public-read", "public-read-write", "authenticated-read")
    assert is_public_acl(canned) is expected
