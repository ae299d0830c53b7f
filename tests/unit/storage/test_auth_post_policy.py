"""Browser upload forms (auth/post_policy.py): the POST policy document, its conditions, and
the form's SigV4 / SigV2 signature, checked against forms botocore's generate_presigned_post
signs."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from mypy_boto3_s3 import S3Client
from nimbus_storage.auth.post_policy import (
    FormSignature,
    LengthRange,
    PostPolicy,
    form_signature,
    parse_policy,
    verify_form_signature,
)
from nimbus_storage.s3errors import (
    AccessDenied,
    EntityTooLarge,
    EntityTooSmall,
    InvalidArgument,
    InvalidPolicyDocument,
    SignatureDoesNotMatch,
)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LATER = "2030-01-02T00:00:00.000Z"


def encode(document: Any) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def policy_of(*conditions: Any, expiration: str = LATER) -> PostPolicy:
    return parse_policy(encode({"expiration": expiration, "conditions": list(conditions)}))


def refusal(policy: PostPolicy, fields: dict[str, str], now: datetime = NOW) -> str:
    with pytest.raises(AccessDenied) as caught:
        policy.check(fields, now)
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    return caught.value.message


# --- the document --------------------------------------------------------------------------


def test_a_policy_document() -> None:
    policy = policy_of(
        {"bucket": "photos"},
        ["starts-with", "$key", "user/eric/"],
        ["eq", "$Content-Type", "image/png"],
        ["content-length-range", 1, 1048576],
    )
    assert policy.expiration == datetime(2030, 1, 2, tzinfo=UTC)
    assert [(c.operator, c.field, c.value) for c in policy.conditions] == [
        ("eq", "bucket", "photos"),
        ("starts-with", "key", "user/eric/"),
        ("eq", "content-type", "image/png"),
    ]
    assert policy.length_range == LengthRange(1, 1048576)


@pytest.mark.parametrize(
    ("expiration", "expected"),
    [
        ("2030-01-02T00:00:00.000Z", datetime(2030, 1, 2, tzinfo=UTC)),
        ("2030-01-02T00:00:00Z", datetime(2030, 1, 2, tzinfo=UTC)),  # botocore's format
        ("2030-01-02T01:00:00+01:00", datetime(2030, 1, 2, tzinfo=UTC)),
    ],
)
def test_expiration_formats(expiration: str, expected: datetime) -> None:
    assert policy_of(expiration=expiration).expiration == expected


def _invalid(encoded: str) -> str:
    with pytest.raises(InvalidPolicyDocument) as caught:
        parse_policy(encoded)
    assert (caught.value.status, caught.value.code) == (400, "InvalidPolicyDocument")
    return caught.value.message


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"conditions": []}, "Invalid Policy: Policy missing expiration."),
        ({"EXPIRATION": LATER, "conditions": []}, "Invalid Policy: Policy missing expiration."),
        ({"expiration": LATER}, "Invalid Policy: Policy missing conditions."),
        ({"expiration": LATER, "CONDITIONS": []}, "Invalid Policy: Policy missing conditions."),
        ({"expiration": "tomorrow", "conditions": []}, "Invalid 'expiration' value: 'tomorrow'"),
        ({"expiration": "2030-01-02", "conditions": []}, "Invalid 'expiration' value"),
        ({"expiration": 1893456000, "conditions": []}, "Invalid 'expiration' value"),
        ({"expiration": LATER, "conditions": {}}, "Invalid 'conditions' value"),
        ({"expiration": LATER, "conditions": [{}]}, "exactly one property"),
        ({"expiration": LATER, "conditions": [{"a": "1", "b": "2"}]}, "exactly one property"),
        ({"expiration": LATER, "conditions": [{"a": 1}]}, "value must be a string"),
        ({"expiration": LATER, "conditions": ["key"]}, "Invalid Condition"),
        ({"expiration": LATER, "conditions": [[]]}, "Invalid Condition"),
        ({"expiration": LATER, "conditions": [["in", "$key", "a"]]}, "unknown operation"),
        ({"expiration": LATER, "conditions": [["eq", "$key"]]}, "three string elements"),
        ({"expiration": LATER, "conditions": [["eq", "key", "a"]]}, "'$'"),
        ({"expiration": LATER, "conditions": [["eq", "$", "a"]]}, "'$'"),
        ({"expiration": LATER, "conditions": [["content-length-range", 0]]}, "non-negative"),
        ({"expiration": LATER, "conditions": [["content-length-range", -1, 0]]}, "non-negative"),
        ({"expiration": LATER, "conditions": [["content-length-range", 0, "x"]]}, "non-negative"),
        ({"expiration": LATER, "conditions": [["content-length-range", True, 9]]}, "non-neg"),
        ({"expiration": LATER, "conditions": [["content-length-range", 9, 1]]}, "exceeds"),
        ([], "Invalid JSON"),
    ],
)
def test_malformed_documents_are_400(document: Any, message: str) -> None:
    assert message in _invalid(encode(document))


def test_a_policy_that_is_not_base64_json() -> None:
    assert _invalid("not base64!") == "Invalid Policy: Invalid Base64 encoding."
    assert _invalid(base64.b64encode(b"{nope").decode()) == "Invalid Policy: Invalid JSON."


def test_length_range_bounds_may_be_numeric_strings() -> None:
    assert policy_of(["content-length-range", "1", "10"]).length_range == LengthRange(1, 10)


# --- conditions ----------------------------------------------------------------------------


def test_a_policy_met_by_its_fields() -> None:
    policy = policy_of(
        {"bucket": "photos"},
        ["starts-with", "$key", "user/"],
        {"acl": "public-read"},
        ["starts-with", "$x-amz-meta-tag", ""],  # any value
        ["eq", "$success_action_status", "201"],
    )
    fields = {
        "bucket": "photos",
        "key": "user/a.png",
        "acl": "public-read",
        "x-amz-meta-tag": "anything",
        "success_action_status": "201",
        "policy": "...",
        "x-amz-signature": "...",
        "x-ignore-filename": "a.png",
        "file": "",
    }
    policy.check(fields, NOW)


def test_an_expired_policy() -> None:
    policy = policy_of(expiration="2029-12-31T23:59:59Z")
    message = refusal(policy, {"bucket": "b"})
    assert message == "Invalid according to Policy: Policy expired."
    policy.check({}, NOW - timedelta(days=2))


@pytest.mark.parametrize(
    ("condition", "fields", "quoted"),
    [
        ({"bucket": "photos"}, {"bucket": "other"}, '["eq", "$bucket", "photos"]'),
        (["eq", "$key", "a"], {"key": "b"}, '["eq", "$key", "a"]'),
        (["starts-with", "$key", "user/"], {"key": "admin/x"}, '["starts-with", "$key", "user/"]'),
        # A condition on a field the form lacks fails, even one matching any content.
        (["starts-with", "$Content-Type", ""], {}, '["starts-with", "$Content-Type", ""]'),
        (["eq", "$x-amz-meta-foo", ""], {}, '["eq", "$x-amz-meta-foo", ""]'),
    ],
)
def test_a_failed_condition_is_quoted(condition: Any, fields: dict[str, str], quoted: str) -> None:
    policy = policy_of(condition)
    message = refusal(policy, fields)
    assert message == f"Invalid according to Policy: Policy Condition failed: {quoted}"


def test_field_names_are_case_insensitive_values_are_not() -> None:
    policy = policy_of({"bUcKeT": "photos"}, ["StArTs-WiTh", "$KeY", "a/"], ["eq", "$ACL", "x"])
    policy.check({"bucket": "photos", "key": "a/b", "acl": "x"}, NOW)
    assert "Condition failed" in refusal(policy, {"bucket": "Photos", "key": "a/b", "acl": "x"})


def test_a_content_type_list_must_all_start_with_the_prefix() -> None:
    policy = policy_of(["starts-with", "$Content-Type", "image/"])
    policy.check({"content-type": "image/jpg,image/png, image/gif"}, NOW)
    assert "Condition failed" in refusal(policy, {"content-type": "image/jpg,text/plain"})


def test_every_field_needs_a_condition() -> None:
    policy = policy_of({"bucket": "b"}, ["starts-with", "$key", ""])
    message = refusal(
        policy, {"bucket": "b", "key": "k", "x-amz-meta-a": "1", "content-type": "text/plain"}
    )
    assert message == "Invalid according to Policy: Extra input fields: x-amz-meta-a, content-type"
    # The bucket too: a policy must name it.
    assert refusal(policy_of(["starts-with", "$key", ""]), {"bucket": "b", "key": "k"}) == (
        "Invalid according to Policy: Extra input fields: bucket"
    )


def test_several_conditions_on_one_field_must_all_hold() -> None:
    policy = policy_of(["starts-with", "$key", "a/"], ["starts-with", "$key", "a/b"])
    policy.check({"key": "a/bc"}, NOW)
    assert "a/b" in refusal(policy, {"key": "a/c"})


def test_the_length_range() -> None:
    policy = policy_of(["content-length-range", 2, 4])
    for size in (2, 3, 4):
        policy.check_size(size, final=True)
    policy.check_size(1, final=False)  # more may come
    with pytest.raises(EntityTooSmall) as small:
        policy.check_size(1, final=True)
    assert small.value.extra == {"ProposedSize": "1", "MinSizeAllowed": "2"}
    with pytest.raises(EntityTooLarge) as large:
        policy.check_size(5, final=False)
    assert large.value.extra == {"ProposedSize": "5", "MaxSizeAllowed": "4"}
    policy_of().check_size(10**12, final=True)  # no range, no limit here


# --- signatures ----------------------------------------------------------------------------


def client(signature_version: str) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="eu-west-3",
        config=Config(signature_version=signature_version, s3={"addressing_style": "path"}),
    )


def presigned_fields(signature_version: str) -> dict[str, str]:
    post = client(signature_version).generate_presigned_post(
        "photos",
        "user/${filename}",
        Fields={"acl": "public-read"},
        Conditions=[{"acl": "public-read"}, ["content-length-range", 1, 100]],
    )
    return {name.lower(): value for name, value in post["fields"].items()}


def test_anonymous_forms_claim_nothing() -> None:
    assert form_signature({"key": "k", "acl": "public-read", "bucket": "b"}) is None


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_botocore_forms_verify(signature_version: str) -> None:
    fields = presigned_fields(signature_version)
    claim = form_signature(fields)
    assert claim is not None
    assert claim.access_key == ACCESS_KEY
    context = verify_form_signature(claim, SECRET_KEY, NOW)
    assert context.access_key == ACCESS_KEY
    assert context.signature_version == (4 if signature_version == "s3v4" else 2)
    if signature_version == "s3v4":
        assert context.region == "eu-west-3"
    policy = parse_policy(claim.policy)
    assert policy.length_range == LengthRange(1, 100)
    expanded = {**fields, "key": "user/cat.png", "bucket": "photos"}
    policy.check(expanded, datetime.now(UTC))


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_a_wrong_secret_or_a_changed_policy_does_not_match(signature_version: str) -> None:
    fields = presigned_fields(signature_version)
    claim = form_signature(fields)
    assert claim is not None
    with pytest.raises(SignatureDoesNotMatch) as caught:
        verify_form_signature(claim, "another secret", NOW)
    assert caught.value.status == 403
    altered = encode({"expiration": LATER, "conditions": []})
    tampered = form_signature({**fields, "policy": altered})
    assert tampered is not None
    with pytest.raises(SignatureDoesNotMatch):
        verify_form_signature(tampered, SECRET_KEY, NOW)


def _argument_error(fields: dict[str, str]) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        form_signature(fields)
    assert caught.value.status == 400
    return caught.value


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_a_signed_form_needs_every_field_of_its_signature(signature_version: str) -> None:
    fields = presigned_fields(signature_version)
    signature_fields = [name for name in fields if name not in ("key", "acl")]
    for name in signature_fields:
        error = _argument_error({k: v for k, v in fields.items() if k != name})
        assert "Bucket POST must contain a field named" in error.message
        assert error.extra["ArgumentName"].lower() == name


def test_a_policy_without_a_signature() -> None:
    error = _argument_error({"key": "k", "policy": encode({})})
    assert error.extra["ArgumentName"] == "AWSAccessKeyId"


def test_signature_fields_of_both_versions() -> None:
    fields = {**presigned_fields("s3v4"), "awsaccesskeyid": ACCESS_KEY}
    assert "Only one auth mechanism" in _argument_error(fields).message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-amz-algorithm", "AWS4-HMAC-SHA1"),
        ("x-amz-credential", f"{ACCESS_KEY}/20300101/eu-west-3/ec2/aws4_request"),
        ("x-amz-credential", f"{ACCESS_KEY}/2030/eu-west-3/s3/aws4_request"),
        ("x-amz-date", "2030-01-01T00:00:00Z"),
    ],
)
def test_malformed_sigv4_fields(name: str, value: str) -> None:
    error = _argument_error({**presigned_fields("s3v4"), name: value})
    assert error.extra["ArgumentName"] == name


def test_the_claim_of_a_sigv4_form() -> None:
    claim = form_signature(presigned_fields("s3v4"))
    assert isinstance(claim, FormSignature)
    assert claim.version == 4
    assert claim.credential is not None
    assert (claim.credential.region, claim.credential.service) == ("eu-west-3", "s3")
