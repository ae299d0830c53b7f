"""Bucket policy grammar, validation messages and evaluation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nimbus_storage.bucket_config.bucket_policy import (
    MAX_POLICY_BYTES,
    BucketPolicy,
    Decision,
    bucket_arn,
    object_arn,
    parse_policy,
)
from nimbus_storage.s3errors import MalformedPolicy

BUCKET = "photos"
KEY = "AKIAEXAMPLEKEY01"
OTHER = "AKIAOTHERKEY0002"
OBJECTS = "arn:aws:s3:::photos/*"


def statement(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": OBJECTS,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def policy(*statements: dict[str, Any], version: str | None = "2012-10-17") -> BucketPolicy:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return parse_policy(json.dumps(document), BUCKET)


def malformed(text: str) -> str:
    with pytest.raises(MalformedPolicy) as caught:
        parse_policy(text, BUCKET)
    assert caught.value.code == "MalformedPolicy"
    assert caught.value.status == 400
    return caught.value.message


def malformed_statement(**overrides: Any) -> str:
    return malformed(json.dumps({"Version": "2012-10-17", "Statement": [statement(**overrides)]}))


# --- document-level errors -------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "[]", "not json", "{", '{"Statement": }', "42"])
def test_non_json_or_non_object_is_rejected_with_the_aws_message(text: str) -> None:
    assert malformed(text) == "Policies must be valid JSON and the first byte must be '{'"


def test_size_limit_is_20_kib() -> None:
    padding = "x" * MAX_POLICY_BYTES
    text = json.dumps({"Id": padding, "Statement": [statement()]})
    assert malformed(text) == "Policy exceeds the maximum allowed document size."


def test_size_limit_counts_utf8_bytes_not_characters() -> None:
    document = {"Id": "é" * (MAX_POLICY_BYTES // 2), "Statement": [statement()]}
    text = json.dumps(document, ensure_ascii=False)
    assert len(text) < MAX_POLICY_BYTES < len(text.encode())
    assert malformed(text) == "Policy exceeds the maximum allowed document size."


def test_a_policy_just_under_the_limit_is_accepted() -> None:
    text = json.dumps({"Id": "", "Statement": [statement()]})
    padded = text.replace('"Id": ""', '"Id": "' + "x" * (MAX_POLICY_BYTES - len(text) - 1) + '"')
    assert len(padded.encode()) == MAX_POLICY_BYTES - 1
    assert parse_policy(padded, BUCKET).id is not None


@pytest.mark.parametrize("version", ["2012-10-17", "2008-10-17"])
def test_both_versions_are_accepted(version: str) -> None:
    assert policy(statement(), version=version).version == version


def test_missing_version_defaults_to_2008() -> None:
    assert policy(statement(), version=None).version == "2008-10-17"


@pytest.mark.parametrize("version", ["2012-10-18", "", "latest"])
def test_other_versions_are_rejected(version: str) -> None:
    text = json.dumps({"Version": version, "Statement": [statement()]})
    assert malformed(text) == "The policy must contain a valid version string"


def test_missing_statement() -> None:
    assert malformed('{"Version": "2012-10-17"}') == "Missing required field Statement"


@pytest.mark.parametrize("value", ["[]", '"text"', "null"])
def test_empty_or_non_list_statement(value: str) -> None:
    text = '{"Version": "2012-10-17", "Statement": ' + value + "}"
    assert malformed(text) == "Could not parse the policy: Statement is empty!"


def test_a_single_statement_object_is_accepted() -> None:
    parsed = parse_policy(json.dumps({"Statement": statement()}), BUCKET)
    assert len(parsed.statements) == 1


def test_unknown_top_level_field() -> None:
    assert malformed(json.dumps({"Statement": [statement()], "Foo": 1})) == "Unknown field Foo"


def test_duplicate_json_keys_are_rejected() -> None:
    text = '{"Version": "2012-10-17", "Version": "2008-10-17", "Statement": []}'
    assert malformed(text) == "Duplicate field Version"


def test_id_must_be_a_string() -> None:
    assert malformed(json.dumps({"Id": 5, "Statement": [statement()]})) == "Id must be a string"


def test_duplicate_sids_are_rejected() -> None:
    text = json.dumps({"Statement": [statement(Sid="a"), statement(Sid="a")]})
    assert malformed(text) == "Statement IDs (SID) in a single policy must be unique."


def test_distinct_sids_are_kept() -> None:
    parsed = policy(statement(Sid="a"), statement(Sid="b"))
    assert [s.sid for s in parsed.statements] == ["a", "b"]


# --- statement-level errors ------------------------------------------------------------------


def test_statement_must_be_an_object() -> None:
    text = json.dumps({"Statement": ["Allow"]})
    assert malformed(text) == "Each Statement must be a JSON object"


def test_unknown_statement_field() -> None:
    assert malformed_statement(Principals="*") == "Unknown field Principals"


def test_missing_effect() -> None:
    assert malformed_statement(Effect=None) == "Missing required field Effect"


@pytest.mark.parametrize("effect", ["allow", "Permit", 1])
def test_invalid_effect(effect: object) -> None:
    assert malformed_statement(Effect=effect) == f"Invalid effect: {effect}"


def test_missing_principal() -> None:
    assert malformed_statement(Principal=None) == "Missing required field Principal"


def test_principal_and_not_principal_together() -> None:
    message = malformed_statement(NotPrincipal={"AWS": KEY})
    assert message == "A statement cannot have both Principal and NotPrincipal"


@pytest.mark.parametrize(
    "principal",
    [
        "AKIA",  # only "*" may be a bare string
        {},
        {"AWS": []},
        {"AWS": ""},
        {"AWS": 5},
        {"AWS": "arn:aws:iam::123456789012:root"},
        {"AWS": "arn:aws:iam::123456789012:role/admin"},
        {"AWS": "has space"},
        {"Federated": "cognito-identity.amazonaws.com"},
        ["*"],
    ],
)
def test_invalid_principals(principal: object) -> None:
    assert malformed_statement(Principal=principal) == "Invalid principal in policy"


def test_missing_action() -> None:
    assert malformed_statement(Action=None) == "Missing required field Action"


def test_empty_action_list() -> None:
    assert malformed_statement(Action=[]) == "Missing required field Action"


def test_action_and_not_action_together() -> None:
    message = malformed_statement(NotAction="s3:PutObject")
    assert message == "A statement cannot have both Action and NotAction"


@pytest.mark.parametrize("action", [5, [""], ["s3:GetObject", None]])
def test_action_must_be_strings(action: object) -> None:
    assert malformed_statement(Action=action) == "Action must be a string or a list of strings"


@pytest.mark.parametrize("action", ["s3:Foo", "s3:GetObjects", "s3:Foo*"])
def test_unknown_s3_action(action: str) -> None:
    assert malformed_statement(Action=action) == f"Unknown action {action}"


@pytest.mark.parametrize("action", ["ec2:RunInstances", "GetObject", "iam:*"])
def test_non_s3_action(action: str) -> None:
    assert malformed_statement(Action=action) == "Policy has invalid action"


def test_missing_resource() -> None:
    assert malformed_statement(Resource=None) == "Missing required field Resource"


def test_resource_and_not_resource_together() -> None:
    message = malformed_statement(NotResource="arn:aws:s3:::photos/private/*")
    assert message == "A statement cannot have both Resource and NotResource"


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:s3:::other/*",
        "arn:aws:s3:::other",
        "arn:aws:s3:::",
        "arn:aws:s3:::/key",
        "arn:aws:iam::123:user/x",
        "photos/*",
        "arn:aws:s3:::photo/*",
    ],
)
def test_resources_outside_the_bucket_are_invalid(resource: str) -> None:
    assert malformed_statement(Resource=resource) == "Policy has invalid resource"


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:GetObject", "arn:aws:s3:::photos"),
        ("s3:ListBucket", OBJECTS),
        ("s3:ListAllMyBuckets", "arn:aws:s3:::photos"),
        (["s3:GetObject", "s3:ListBucket"], OBJECTS),
        ("s3:PutBucketPolicy", "arn:aws:s3:::photos/x"),
    ],
)
def test_action_must_apply_to_a_resource(action: object, resource: str) -> None:
    message = malformed_statement(Action=action, Resource=resource)
    assert message == "Action does not apply to any resource(s) in statement"


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:Get*", OBJECTS),  # the wildcard covers object actions
        ("s3:Get*", "arn:aws:s3:::photos"),  # ... and bucket ones
        ("s3:*", OBJECTS),
        ("*", "arn:aws:s3:::photos"),
        ("s3:ListAllMyBuckets", "*"),
        ("s3:GetObject", "arn:aws:s3:::photo*"),  # may name objects
        ("s3:ListBucket", "arn:aws:s3:::photo*"),  # or the bucket
        (["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::photos", OBJECTS]),
        ("S3:getobject", OBJECTS),  # action names are case-insensitive
    ],
)
def test_actions_that_apply_are_accepted(action: object, resource: object) -> None:
    parsed = policy(statement(Action=action, Resource=resource))
    assert parsed.statements[0].effect is Decision.ALLOW


def test_not_action_and_not_resource_skip_the_applicability_check() -> None:
    parsed = policy(statement(Action=None, NotAction="s3:ListBucket"))
    assert parsed.statements[0].not_action


def test_condition_errors_surface_as_malformed_policy() -> None:
    message = malformed_statement(Condition={"StringEqualz": {"aws:UserAgent": "x"}})
    assert message == "Invalid Condition type : StringEqualz"


# --- evaluation ------------------------------------------------------------------------------


def test_public_read_allows_anonymous_get() -> None:
    parsed = policy(statement())
    assert parsed.evaluate(None, "s3:GetObject", object_arn(BUCKET, "a.jpg"), {}) is Decision.ALLOW


def test_unmatched_action_is_none_not_deny() -> None:
    parsed = policy(statement())
    assert parsed.evaluate(None, "s3:PutObject", object_arn(BUCKET, "a"), {}) is Decision.NONE


def test_unmatched_resource_is_none() -> None:
    parsed = policy(statement(Resource="arn:aws:s3:::photos/public/*"))
    assert parsed.evaluate(None, "s3:GetObject", object_arn(BUCKET, "secret/a")) is Decision.NONE
    assert parsed.evaluate(None, "s3:GetObject", object_arn(BUCKET, "public/a")) is Decision.ALLOW


def test_explicit_deny_wins_over_allow_in_any_order() -> None:
    allow = statement()
    deny = statement(Effect="Deny", Resource="arn:aws:s3:::photos/secret/*")
    for order in ((allow, deny), (deny, allow)):
        parsed = policy(*order)
        assert parsed.evaluate(KEY, "s3:GetObject", object_arn(BUCKET, "secret/x")) is Decision.DENY
        assert parsed.evaluate(KEY, "s3:GetObject", object_arn(BUCKET, "open/x")) is Decision.ALLOW


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": KEY},
        {"AWS": f"arn:aws:iam::123456789012:user/{KEY}"},
        {"AWS": f"arn:aws:iam:::user/{KEY}"},
        {"AWS": f"arn:aws:iam::nimbus:user/team/{KEY}"},
        {"AWS": [OTHER, KEY]},
        {"CanonicalUser": KEY},
    ],
)
def test_principal_forms_naming_an_access_key(principal: object) -> None:
    parsed = policy(statement(Principal=principal))
    resource = object_arn(BUCKET, "a")
    assert parsed.evaluate(KEY, "s3:GetObject", resource) is Decision.ALLOW
    assert parsed.evaluate("AKIASOMEONEELSE0", "s3:GetObject", resource) is Decision.NONE
    assert parsed.evaluate(None, "s3:GetObject", resource) is Decision.NONE


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*", KEY]}])
def test_wildcard_principals_match_anonymous_and_everyone(principal: object) -> None:
    parsed = policy(statement(Principal=principal))
    assert parsed.evaluate(None, "s3:GetObject", object_arn(BUCKET, "a")) is Decision.ALLOW
    assert parsed.evaluate(OTHER, "s3:GetObject", object_arn(BUCKET, "a")) is Decision.ALLOW


def test_service_principals_parse_but_match_no_one() -> None:
    parsed = policy(statement(Principal={"Service": "logging.s3.amazonaws.com"}))
    assert parsed.evaluate(None, "s3:GetObject", object_arn(BUCKET, "a")) is Decision.NONE
    assert parsed.evaluate(KEY, "s3:GetObject", object_arn(BUCKET, "a")) is Decision.NONE


def test_not_principal_denies_everyone_but_the_named_key() -> None:
    parsed = policy(
        statement(Effect="Deny", Principal=None, NotPrincipal={"AWS": KEY}, Action="s3:*")
    )
    resource = object_arn(BUCKET, "a")
    assert parsed.evaluate(KEY, "s3:GetObject", resource) is Decision.NONE
    assert parsed.evaluate(OTHER, "s3:GetObject", resource) is Decision.DENY
    assert parsed.evaluate(None, "s3:GetObject", resource) is Decision.DENY


def test_action_wildcards_and_case() -> None:
    parsed = policy(statement(Action="s3:Get*"))
    resource = object_arn(BUCKET, "a")
    assert parsed.evaluate(None, "s3:GetObjectTagging", resource) is Decision.ALLOW
    assert parsed.evaluate(None, "S3:GETOBJECT", resource) is Decision.ALLOW
    assert parsed.evaluate(None, "s3:PutObject", resource) is Decision.NONE


def test_not_action_matches_every_other_action() -> None:
    parsed = policy(statement(Effect="Deny", Action=None, NotAction=["s3:GetObject"]))
    resource = object_arn(BUCKET, "a")
    assert parsed.evaluate(None, "s3:GetObject", resource) is Decision.NONE
    assert parsed.evaluate(None, "s3:DeleteObject", resource) is Decision.DENY


def test_not_resource_matches_every_other_resource() -> None:
    parsed = policy(
        statement(Resource=None, NotResource="arn:aws:s3:::photos/private/*", Action="s3:*")
    )
    assert parsed.evaluate(None, "s3:GetObject", object_arn(BUCKET, "p/a")) is Decision.ALLOW
    assert parsed.evaluate(None, "s3:GetObject", object_arn(BUCKET, "private/a")) is Decision.NONE


def test_resource_question_mark_and_case_sensitivity() -> None:
    parsed = policy(statement(Resource="arn:aws:s3:::photos/img-?.jpg"))
    assert parsed.evaluate(None, "s3:GetObject", object_arn(BUCKET, "img-1.jpg")) is Decision.ALLOW
    assert parsed.evaluate(None, "s3:GetObject", object_arn(BUCKET, "img-10.jpg")) is Decision.NONE
    assert parsed.evaluate(None, "s3:GetObject", object_arn(BUCKET, "IMG-1.jpg")) is Decision.NONE


def test_bucket_level_statement() -> None:
    parsed = policy(statement(Action="s3:ListBucket", Resource=bucket_arn(BUCKET)))
    assert parsed.evaluate(None, "s3:ListBucket", bucket_arn(BUCKET)) is Decision.ALLOW
    assert parsed.evaluate(None, "s3:ListBucket", object_arn(BUCKET, "x")) is Decision.NONE


def test_conditions_gate_the_statement() -> None:
    parsed = policy(statement(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    resource = object_arn(BUCKET, "a")
    inside = {"aws:SourceIp": "10.1.2.3"}
    outside = {"aws:SourceIp": "192.168.0.1"}
    assert parsed.evaluate(None, "s3:GetObject", resource, inside) is Decision.ALLOW
    assert parsed.evaluate(None, "s3:GetObject", resource, outside) is Decision.NONE
    assert parsed.evaluate(None, "s3:GetObject", resource, {}) is Decision.NONE


def test_deny_insecure_transport_pattern() -> None:
    parsed = policy(
        statement(),
        statement(Effect="Deny", Action="s3:*", Condition={"Bool": {"aws:SecureTransport": False}}),
    )
    resource = object_arn(BUCKET, "a")
    https = {"aws:SecureTransport": "true"}
    http = {"aws:SecureTransport": "false"}
    assert parsed.evaluate(None, "s3:GetObject", resource, https) is Decision.ALLOW
    assert parsed.evaluate(None, "s3:GetObject", resource, http) is Decision.DENY


def test_username_variable_in_resource_with_2012_version() -> None:
    home = "arn:aws:s3:::photos/home/${aws:username}/*"
    parsed = policy(statement(Resource=home, Principal={"AWS": [KEY, OTHER]}))
    context = {"aws:username": KEY}
    mine = object_arn(BUCKET, f"home/{KEY}/a")
    theirs = object_arn(BUCKET, f"home/{OTHER}/a")
    assert parsed.evaluate(KEY, "s3:GetObject", mine, context) is Decision.ALLOW
    assert parsed.evaluate(KEY, "s3:GetObject", theirs, context) is Decision.NONE
    assert parsed.evaluate(KEY, "s3:GetObject", mine, {}) is Decision.NONE


def test_variables_are_literal_text_under_2008_version() -> None:
    home = "arn:aws:s3:::photos/home/${aws:username}/*"
    parsed = policy(statement(Resource=home), version="2008-10-17")
    literal = object_arn(BUCKET, "home/${aws:username}/a")
    substituted = object_arn(BUCKET, f"home/{KEY}/a")
    context = {"aws:username": KEY}
    assert parsed.evaluate(KEY, "s3:GetObject", literal, context) is Decision.ALLOW
    assert parsed.evaluate(KEY, "s3:GetObject", substituted, context) is Decision.NONE


def test_star_resource_matches_everything() -> None:
    parsed = policy(statement(Action="s3:*", Resource="*"))
    assert parsed.evaluate(None, "s3:ListAllMyBuckets", "*") is Decision.ALLOW
    assert parsed.evaluate(None, "s3:DeleteBucket", bucket_arn(BUCKET)) is Decision.ALLOW


def test_arn_helpers() -> None:
    assert bucket_arn("b") == "arn:aws:s3:::b"
    assert object_arn("b", "dir/k") == "arn:aws:s3:::b/dir/k"


def test_parsed_policy_is_immutable() -> None:
    parsed = policy(statement())
    with pytest.raises(AttributeError):
        parsed.version = "2008-10-17"  # type: ignore[misc]
