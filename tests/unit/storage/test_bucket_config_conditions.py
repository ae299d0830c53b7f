"""Condition operators, qualifiers and missing-key semantics."""

from __future__ import annotations

import pytest
from nimbus_storage.bucket_config.conditions import Condition, parse_conditions, parse_date
from nimbus_storage.bucket_config.wildcard import Context
from nimbus_storage.s3errors import MalformedPolicy


def holds(
    operator: str, key: str, values: object, context: Context, variables: bool = True
) -> bool:
    conditions = parse_conditions({operator: {key: values}})
    assert len(conditions) == 1
    return conditions[0].holds(context, variables=variables)


@pytest.mark.parametrize(
    ("operator", "wanted", "actual", "expected"),
    [
        ("StringEquals", "public-read", "public-read", True),
        ("StringEquals", "public-read", "Public-Read", False),
        ("StringEquals", "pub*", "public", False),  # no wildcards in Equals
        ("StringNotEquals", "private", "public-read", True),
        ("StringNotEquals", "private", "private", False),
        ("StringEqualsIgnoreCase", "Curl/8", "curl/8", True),
        ("StringNotEqualsIgnoreCase", "Curl/8", "CURL/8", False),
        ("StringLike", "home/*", "home/a/b", True),
        ("StringLike", "home/?", "home/ab", False),
        ("StringLike", "HOME/*", "home/a", False),
        ("StringNotLike", "tmp/*", "home/a", True),
        ("StringNotLike", "tmp/*", "tmp/a", False),
        ("ArnLike", "arn:aws:s3:::b/*", "arn:aws:s3:::b/k", True),
        ("ArnEquals", "arn:aws:s3:::b", "arn:aws:s3:::c", False),
        ("ArnNotLike", "arn:aws:s3:::b/*", "arn:aws:s3:::c/k", True),
        ("ArnNotEquals", "arn:aws:s3:::b", "arn:aws:s3:::b", False),
    ],
)
def test_string_and_arn_operators(operator: str, wanted: str, actual: str, expected: bool) -> None:
    assert holds(operator, "s3:x-amz-acl", wanted, {"s3:x-amz-acl": actual}) is expected


@pytest.mark.parametrize(
    ("operator", "actual", "expected"),
    [
        ("NumericEquals", "100", True),
        ("NumericEquals", "100.0", True),
        ("NumericEquals", "99", False),
        ("NumericNotEquals", "99", True),
        ("NumericNotEquals", "100", False),
        ("NumericLessThan", "99", True),
        ("NumericLessThan", "100", False),
        ("NumericLessThanEquals", "100", True),
        ("NumericLessThanEquals", "101", False),
        ("NumericGreaterThan", "101", True),
        ("NumericGreaterThan", "100", False),
        ("NumericGreaterThanEquals", "100", True),
        ("NumericGreaterThanEquals", "99", False),
        ("NumericEquals", "lots", False),  # an unparsable context value never matches
    ],
)
def test_numeric_operators(operator: str, actual: str, expected: bool) -> None:
    assert holds(operator, "s3:max-keys", 100, {"s3:max-keys": actual}) is expected


@pytest.mark.parametrize(
    ("operator", "actual", "expected"),
    [
        ("DateLessThan", "2024-12-31T23:59:59Z", True),
        ("DateLessThan", "2025-01-01T00:00:00Z", False),
        ("DateLessThanEquals", "2025-01-01T00:00:00Z", True),
        ("DateGreaterThan", "2025-01-01T00:00:01Z", True),
        ("DateGreaterThan", "2025-01-01T00:00:00Z", False),
        ("DateGreaterThanEquals", "2025-01-01T00:00:00+00:00", True),
        ("DateEquals", "1735689600", True),  # epoch seconds
        ("DateNotEquals", "2025-01-01T01:00:00+01:00", False),  # same instant, other zone
        ("DateLessThan", "yesterday", False),
    ],
)
def test_date_operators(operator: str, actual: str, expected: bool) -> None:
    context = {"aws:CurrentTime": actual}
    assert holds(operator, "aws:CurrentTime", "2025-01-01T00:00:00Z", context) is expected


def test_parse_date_forms() -> None:
    assert parse_date("2025-01-01") == 1735689600.0
    assert parse_date("2025-01-01T00:00:00.000Z") == 1735689600.0
    assert parse_date(" 1735689600 ") == 1735689600.0


@pytest.mark.parametrize(
    ("wanted", "actual", "expected"),
    [
        (True, "true", True),
        ("true", "TRUE", True),
        (False, "true", False),
        ("false", "false", True),
    ],
)
def test_bool(wanted: object, actual: str, expected: bool) -> None:
    context = {"aws:SecureTransport": actual}
    assert holds("Bool", "aws:SecureTransport", wanted, context) is expected


@pytest.mark.parametrize(
    ("operator", "networks", "ip", "expected"),
    [
        ("IpAddress", "192.168.1.0/24", "192.168.1.77", True),
        ("IpAddress", "192.168.1.0/24", "192.168.2.1", False),
        ("IpAddress", ["10.0.0.0/8", "192.168.1.7"], "192.168.1.7", True),  # bare address = /32
        ("IpAddress", "2001:db8::/32", "2001:db8::1", True),
        ("IpAddress", "10.0.0.0/8", "2001:db8::1", False),  # other family
        ("IpAddress", "10.0.0.0/8", "not-an-ip", False),
        ("NotIpAddress", "10.0.0.0/8", "11.0.0.1", True),
        ("NotIpAddress", "10.0.0.0/8", "10.0.0.1", False),
        ("IpAddress", "10.0.0.1/8", "10.9.9.9", True),  # host bits tolerated, as AWS does
    ],
)
def test_ip_operators(operator: str, networks: object, ip: str, expected: bool) -> None:
    assert holds(operator, "aws:SourceIp", networks, {"aws:SourceIp": ip}) is expected


def test_multiple_values_are_alternatives() -> None:
    context = {"s3:x-amz-acl": "private"}
    assert holds("StringEquals", "s3:x-amz-acl", ["public-read", "private"], context)
    assert not holds("StringNotEquals", "s3:x-amz-acl", ["public-read", "private"], context)


def test_all_keys_and_operators_must_hold() -> None:
    conditions = parse_conditions(
        {
            "StringEquals": {"s3:prefix": "home/", "s3:delimiter": "/"},
            "NumericLessThanEquals": {"s3:max-keys": "10"},
        }
    )
    assert len(conditions) == 3
    good = {"s3:prefix": "home/", "s3:delimiter": "/", "s3:max-keys": "5"}
    assert all(c.holds(good) for c in conditions)
    bad = dict(good, **{"s3:delimiter": "|"})
    assert not all(c.holds(bad) for c in conditions)


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("StringEquals", False),
        ("StringNotEquals", True),  # negated operators hold when the key is missing
        ("StringLike", False),
        ("StringNotLike", True),
        ("StringEqualsIfExists", True),
        ("StringNotEqualsIfExists", True),
        ("ForAnyValue:StringEquals", False),
        ("ForAllValues:StringEquals", True),
    ],
)
def test_missing_key(operator: str, expected: bool) -> None:
    assert holds(operator, "aws:Referer", "https://example.com/*", {}) is expected


@pytest.mark.parametrize(
    ("operator", "missing", "present"),
    [("NumericLessThan", False, True), ("NotIpAddress", True, False), ("IpAddress", False, True)],
)
def test_missing_key_for_other_families(operator: str, missing: bool, present: bool) -> None:
    value = "10.0.0.0/8" if "Ip" in operator else "5"
    key = "aws:SourceIp" if "Ip" in operator else "s3:max-keys"
    actual = "10.1.1.1" if "Ip" in operator else "1"
    assert holds(operator, key, value, {}) is missing
    assert holds(operator, key, value, {key: actual}) is present


def test_if_exists_still_checks_a_present_key() -> None:
    assert not holds("StringEqualsIfExists", "aws:UserAgent", "curl", {"aws:UserAgent": "wget"})
    assert holds("StringEqualsIfExists", "aws:UserAgent", "curl", {"aws:UserAgent": "curl"})


@pytest.mark.parametrize(
    ("wanted", "context", "expected"),
    [
        ("true", {}, True),
        ("true", {"s3:x-amz-acl": "private"}, False),
        ("false", {"s3:x-amz-acl": "private"}, True),
        (False, {}, False),
        ("true", {"s3:x-amz-acl": []}, True),  # an empty list is an absent key
    ],
)
def test_null(wanted: object, context: Context, expected: bool) -> None:
    assert holds("Null", "s3:x-amz-acl", wanted, context) is expected


def test_for_any_value_and_for_all_values_over_lists() -> None:
    tags = {"aws:TagKeys": ["env", "team"]}
    assert holds("ForAnyValue:StringEquals", "aws:TagKeys", ["env"], tags)
    assert not holds("ForAnyValue:StringEquals", "aws:TagKeys", ["cost"], tags)
    assert holds("ForAllValues:StringEquals", "aws:TagKeys", ["env", "team", "x"], tags)
    assert not holds("ForAllValues:StringEquals", "aws:TagKeys", ["env"], tags)
    assert holds("ForAllValues:StringLike", "aws:TagKeys", ["*"], tags)
    assert not holds("ForAnyValue:StringNotEquals", "aws:TagKeys", ["env", "team"], tags)
    assert holds("ForAnyValue:StringNotEquals", "aws:TagKeys", ["env"], tags)


def test_plain_operator_over_a_list_matches_any_value() -> None:
    assert holds("StringEquals", "aws:TagKeys", "team", {"aws:TagKeys": ["env", "team"]})


def test_keys_are_case_insensitive_and_tag_keys_prefer_exact_case() -> None:
    assert holds("StringEquals", "AWS:SOURCEIP", "1.2.3.4", {"aws:SourceIp": "1.2.3.4"})
    context = {"s3:ExistingObjectTag/Env": "prod", "s3:ExistingObjectTag/env": "dev"}
    assert holds("StringEquals", "s3:ExistingObjectTag/env", "dev", context)
    assert holds("StringEquals", "s3:ExistingObjectTag/Env", "prod", context)


def test_variables_in_string_values() -> None:
    context = {"aws:username": "alice", "s3:prefix": "home/alice/"}
    assert holds("StringLike", "s3:prefix", "home/${aws:username}/*", context)
    assert not holds("StringLike", "s3:prefix", "home/${aws:username}/*", context, variables=False)
    assert not holds("StringEquals", "s3:prefix", "home/${aws:missing}/", context)


def test_variables_are_not_substituted_for_numeric_operators() -> None:
    with pytest.raises(MalformedPolicy):
        parse_conditions({"NumericEquals": {"s3:max-keys": "${aws:username}"}})


def test_operator_parts_are_recorded() -> None:
    (condition,) = parse_conditions({"ForAllValues:StringLikeIfExists": {"aws:TagKeys": "a*"}})
    assert condition == Condition(
        operator="ForAllValues:StringLikeIfExists",
        base="StringLike",
        qualifier="ForAllValues",
        if_exists=True,
        key="aws:TagKeys",
        values=("a*",),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "Condition must be a JSON object"),
        ({"StringEqualz": {"aws:UserAgent": "x"}}, "Invalid Condition type : StringEqualz"),
        ({"IfExists": {"aws:UserAgent": "x"}}, "Invalid Condition type : IfExists"),
        ({"NullIfExists": {"aws:UserAgent": "true"}}, "Invalid Condition type : NullIfExists"),
        (
            {"ForAnyValue:Null": {"aws:UserAgent": "true"}},
            "Invalid Condition type : ForAnyValue:Null",
        ),
        ({"StringEquals": {}}, "Condition operator StringEquals must map keys to values"),
        ({"StringEquals": "x"}, "Condition operator StringEquals must map keys to values"),
        ({"StringEquals": {"UserAgent": "x"}}, "Policy has an invalid condition key: UserAgent"),
        (
            {"StringEquals": {"aws:UserAgent": []}},
            "Condition operator StringEquals has an empty list of values",
        ),
        (
            {"StringEquals": {"aws:UserAgent": {"a": 1}}},
            "Condition operator StringEquals values must be strings",
        ),
        (
            {"StringEquals": {"aws:UserAgent": [None]}},
            "Condition operator StringEquals values must be strings",
        ),
        (
            {"NumericEquals": {"s3:max-keys": "ten"}},
            "Invalid value 'ten' for condition NumericEquals",
        ),
        (
            {"DateLessThan": {"aws:CurrentTime": "soon"}},
            "Invalid value 'soon' for condition DateLessThan",
        ),
        ({"Bool": {"aws:SecureTransport": "yes"}}, "Invalid value 'yes' for condition Bool"),
        (
            {"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}},
            "Invalid value '10.0.0.0/33' for condition IpAddress",
        ),
        (
            {"Null": {"aws:UserAgent": "maybe"}},
            "The Null condition operator takes one value, true or false",
        ),
        (
            {"Null": {"aws:UserAgent": ["true", "false"]}},
            "The Null condition operator takes one value, true or false",
        ),
    ],
)
def test_malformed_conditions(raw: object, message: str) -> None:
    with pytest.raises(MalformedPolicy) as caught:
        parse_conditions(raw)
    assert caught.value.message == message
    assert caught.value.code == "MalformedPolicy"


def test_numbers_and_booleans_in_json_become_strings() -> None:
    (number,) = parse_conditions({"NumericEquals": {"s3:max-keys": 10}})
    (flag,) = parse_conditions({"Bool": {"aws:SecureTransport": True}})
    assert number.values == ("10",)
    assert flag.values == ("true",)
