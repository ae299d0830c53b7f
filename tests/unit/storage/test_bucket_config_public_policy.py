"""Whether a bucket policy is public: AWS's rule for Block Public Access and PolicyStatus."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nimbus_storage.bucket_config.bucket_policy import parse_policy
from nimbus_storage.bucket_config.public_policy import is_public_policy

BUCKET = "photos"
OBJECTS = f"arn:aws:s3:::{BUCKET}/*"


def statement(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": OBJECTS,
    }
    base.update(fields)
    return base


def public(*statements: dict[str, Any]) -> bool:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return is_public_policy(parse_policy(json.dumps(document), BUCKET))


def condition(operator: str, key: str, value: str | list[str]) -> dict[str, Any]:
    return {"Condition": {operator: {key: value}}}


# --- principals -----------------------------------------------------------------------------


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["AKIAONE", "*"]}])
def test_everyone_is_public(principal: object) -> None:
    assert public(statement(Principal=principal))


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": "AKIAEXAMPLE"},
        {"AWS": ["AKIAONE", "AKIATWO"]},
        {"AWS": "arn:aws:iam::123456789012:user/AKIAEXAMPLE"},
        {"CanonicalUser": "AKIAEXAMPLE"},
        {"Service": "cloudfront.amazonaws.com"},
    ],
)
def test_fixed_principals_are_not_public(principal: object) -> None:
    assert not public(statement(Principal=principal))


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": "arn:aws:iam::*:user/AKIAEXAMPLE"},
        {"AWS": "arn:aws:iam::123456789012:user/AKIA?"},
        {"CanonicalUser": "*"},
        {"Service": "*.amazonaws.com"},
    ],
)
def test_a_principal_with_a_wildcard_is_public(principal: object) -> None:
    assert public(statement(Principal=principal))


def test_not_principal_with_allow_is_public() -> None:
    document = statement(NotPrincipal={"AWS": "AKIAEXAMPLE"})
    del document["Principal"]
    assert public(document)


# --- conditions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "key", "value"),
    [
        ("StringEquals", "aws:SourceVpc", "vpc-91237329"),
        ("StringEquals", "aws:SourceVpce", "vpce-1a2b3c4d"),
        ("StringEquals", "aws:SourceAccount", "123456789012"),
        ("StringEquals", "aws:SourceOwner", "123456789012"),
        ("StringEquals", "aws:PrincipalOrgID", "o-abcdefghij"),
        ("StringEquals", "aws:PrincipalAccount", ["111122223333", "444455556666"]),
        ("StringEqualsIgnoreCase", "aws:userid", "AIDAEXAMPLE"),
        ("StringLike", "aws:SourceVpc", "vpc-91237329"),
        ("ArnEquals", "aws:SourceArn", "arn:aws:cloudfront::123456789012:distribution/E1"),
        ("ArnLike", "aws:PrincipalArn", "arn:aws:iam::123456789012:role/reader"),
        ("StringEquals", "s3:DataAccessPointAccount", "123456789012"),
        ("ForAnyValue:StringEquals", "aws:SourceVpc", "vpc-91237329"),
        ("IpAddress", "aws:SourceIp", "192.0.2.0/24"),
        ("IpAddress", "aws:SourceIp", ["192.0.2.10", "198.51.100.0/24"]),
        ("IpAddress", "aws:SourceIp", "10.0.0.0/8"),
        ("IpAddress", "aws:SourceIp", "2001:db8::/32"),
    ],
)
def test_a_condition_on_fixed_values_of_a_trusted_key_is_not_public(
    operator: str, key: str, value: str | list[str]
) -> None:
    assert not public(statement(**condition(operator, key, value)))


@pytest.mark.parametrize(
    ("operator", "key", "value"),
    [
        # A wildcard or a variable is no fixed value.
        ("StringLike", "aws:SourceVpc", "vpc-*"),
        ("StringLike", "aws:SourceAccount", "12345678901?"),
        ("ArnLike", "aws:SourceArn", "arn:aws:sns:us-east-1:*:topic"),
        ("StringEquals", "aws:PrincipalAccount", "*"),
        ("StringEquals", "aws:userid", "AROLEID:*"),
        ("StringEquals", "aws:SourceAccount", "${aws:username}"),
        ("StringEquals", "aws:SourceVpc", ["vpc-91237329", "vpc-*"]),
        # Negated operators, IfExists and ForAllValues hold for requests without the key.
        ("StringNotEquals", "aws:SourceVpc", "vpc-91237329"),
        ("StringEqualsIfExists", "aws:SourceVpc", "vpc-91237329"),
        ("ForAllValues:StringEquals", "aws:SourceVpc", "vpc-91237329"),
        ("NotIpAddress", "aws:SourceIp", "192.0.2.0/24"),
        ("IpAddressIfExists", "aws:SourceIp", "192.0.2.0/24"),
        # Keys nobody owns.
        ("StringEquals", "aws:UserAgent", "my-app"),
        ("StringEquals", "aws:Referer", "https://example.com/"),
        ("StringEquals", "s3:prefix", "public/"),
        ("Bool", "aws:SecureTransport", "true"),
        ("StringEquals", "aws:SourceIp", "192.0.2.10"),
        # CIDR blocks too broad to limit anything.
        ("IpAddress", "aws:SourceIp", "0.0.0.0/0"),
        ("IpAddress", "aws:SourceIp", "0.0.0.0/1"),
        ("IpAddress", "aws:SourceIp", "10.0.0.0/7"),
        ("IpAddress", "aws:SourceIp", ["192.0.2.0/24", "0.0.0.0/0"]),
        ("IpAddress", "aws:SourceIp", "::/0"),
        ("IpAddress", "aws:SourceIp", "2001:db8::/31"),
    ],
)
def test_other_conditions_leave_it_public(operator: str, key: str, value: str | list[str]) -> None:
    assert public(statement(**condition(operator, key, value)))


def test_one_limiting_condition_among_others_is_enough() -> None:
    conditions = {
        "Condition": {
            "Bool": {"aws:SecureTransport": "true"},
            "StringEquals": {"aws:SourceVpc": "vpc-91237329"},
        }
    }
    assert not public(statement(**conditions))


def test_condition_keys_compare_without_case() -> None:
    assert not public(statement(**condition("StringEquals", "AWS:SOURCEVPC", "vpc-1")))


# --- statements -----------------------------------------------------------------------------


def test_deny_statements_never_make_it_public() -> None:
    assert not public(statement(Effect="Deny"))
    assert not public(
        statement(Effect="Deny", Action="s3:*"), statement(Principal={"AWS": "AKIAONE"})
    )


def test_one_public_allow_makes_the_policy_public() -> None:
    limited = statement(**condition("StringEquals", "aws:SourceVpc", "vpc-91237329"))
    assert public(
        limited, statement(Principal="*", Action="s3:ListBucket", Resource=f"arn:aws:s3:::{BUCKET}")
    )
    assert not public(limited, statement(Principal={"AWS": "AKIAONE"}, Action="s3:*"))


def test_actions_and_resources_do_not_matter() -> None:
    assert public(statement(Action="s3:GetObjectTagging"))
    not_action = statement(NotAction="s3:DeleteObject")
    del not_action["Action"]
    assert public(not_action)
