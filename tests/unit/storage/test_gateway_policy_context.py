"""The request context a bucket policy's conditions are evaluated against: each key, when it
is present, and how the operators treat it (the operators: test_bucket_config_conditions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from nimbus_storage.auth.sigv4 import AMZ_DATE_FORMAT, AuthContext
from nimbus_storage.bucket_config.bucket_policy import Decision, parse_policy
from nimbus_storage.gateway import policy_context
from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.gateway.context import S3Request, Services
from nimbus_storage.gateway.operations import OPERATIONS
from nimbus_storage.meta.api import Credential

BY_NAME = {operation.name: operation for operation in OPERATIONS}
BUCKET = "bucket"
KEY = "AKIAUSER00000001"


def auth(*, version: int = 4, presigned: bool = False, age: float = 0) -> AuthContext:
    signed = datetime.now(UTC) - timedelta(seconds=age)
    return AuthContext(
        access_key=KEY,
        signing_key=b"",
        region="us-east-1",
        service="s3",
        amz_date=signed.strftime(AMZ_DATE_FORMAT),
        scope="",
        seed_signature="",
        payload_hash="UNSIGNED-PAYLOAD",
        presigned=presigned,
        signature_version=version,
    )


def request(
    operation: str = "PutObject",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    signed: AuthContext | None = None,
    admin: bool = False,
    *,
    trust_forwarded_proto: bool = False,
) -> S3Request:
    http = make_mocked_request("PUT", f"/{BUCKET}/k", headers=CIMultiDict(headers or {}))
    credential = cast(Credential, SimpleNamespace(is_admin=admin, grants={}))
    return S3Request(
        http=http,
        services=cast(
            Services,
            SimpleNamespace(
                config=GatewayConfig(Path("unused"), trust_forwarded_proto=trust_forwarded_proto)
            ),
        ),
        request_id="test",
        operation=BY_NAME[operation],
        bucket_name=BUCKET,
        key="k",
        query=query or {},
        raw_path=f"/{BUCKET}/k",
        auth=signed,
        credential=credential if signed is not None else None,
    )


def context(s3_request: S3Request) -> dict[str, str | list[str]]:
    return policy_context.request_context(s3_request)


def decide(condition: dict[str, Any], s3_request: S3Request) -> Decision:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": f"arn:aws:s3:::{BUCKET}/*",
                    "Condition": condition,
                }
            ],
        }
    )
    policy = parse_policy(document, BUCKET)
    return policy.evaluate(
        s3_request.principal, "s3:PutObject", f"arn:aws:s3:::{BUCKET}/k", context(s3_request)
    )


HEADER_KEYS = [
    ("x-amz-acl", "public-read"),
    ("x-amz-grant-read", 'id="AKIAOTHER"'),
    ("x-amz-grant-write", 'id="AKIAOTHER"'),
    ("x-amz-grant-read-acp", 'id="AKIAOTHER"'),
    ("x-amz-grant-write-acp", 'id="AKIAOTHER"'),
    ("x-amz-grant-full-control", 'id="AKIAOTHER"'),
    ("x-amz-copy-source", "/source/key"),
    ("x-amz-server-side-encryption", "AES256"),
    ("x-amz-server-side-encryption-aws-kms-key-id", "key-1"),
    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
    ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ("x-amz-storage-class", "STANDARD"),
    ("x-amz-metadata-directive", "REPLACE"),
]


@pytest.mark.parametrize(("header", "value"), HEADER_KEYS)
def test_header_keys_are_present_only_when_sent(header: str, value: str) -> None:
    assert context(request(headers={header: value}))[f"s3:{header}"] == value
    assert f"s3:{header}" not in context(request())
    key = f"s3:{header}"
    assert decide({"StringEquals": {key: value}}, request(headers={header: value}))
    assert decide({"StringEquals": {key: value}}, request()) is Decision.NONE
    assert decide({"StringNotEquals": {key: value}}, request()) is Decision.ALLOW
    assert decide({"StringEqualsIfExists": {key: value}}, request()) is Decision.ALLOW
    assert decide({"StringEqualsIfExists": {key: "other"}}, request(headers={header: value})) is (
        Decision.NONE
    )
    assert decide({"Null": {key: "true"}}, request()) is Decision.ALLOW
    assert decide({"Null": {key: "false"}}, request()) is Decision.NONE


@pytest.mark.parametrize(
    ("parameter", "key"),
    [
        ("prefix", "s3:prefix"),
        ("delimiter", "s3:delimiter"),
        ("max-keys", "s3:max-keys"),
        ("versionId", "s3:VersionId"),
    ],
)
def test_query_keys(parameter: str, key: str) -> None:
    assert context(request("ListObjects", query={parameter: "7"}))[key] == "7"
    assert key not in context(request("ListObjects"))


def test_max_keys_compares_as_a_number() -> None:
    few = request("ListObjects", query={"max-keys": "10"})
    many = request("ListObjects", query={"max-keys": "1000"})
    condition = {"NumericLessThanEquals": {"s3:max-keys": "100"}}
    assert decide(condition, few) is Decision.ALLOW
    assert decide(condition, many) is Decision.NONE


def test_anonymous_requests() -> None:
    keys = context(request())
    assert keys["aws:PrincipalType"] == "Anonymous"
    for absent in (
        "aws:username",
        "aws:userid",
        "s3:signatureversion",
        "s3:authType",
        "s3:signatureAge",
        "aws:UserAgent",
        "aws:Referer",
        "s3:TlsVersion",
    ):
        assert absent not in keys
    assert keys["aws:SecureTransport"] == "false"
    assert decide({"Bool": {"aws:SecureTransport": "false"}}, request()) is Decision.ALLOW


def test_signed_requests() -> None:
    keys = context(request(signed=auth(age=2)))
    assert keys["aws:PrincipalType"] == "User"
    assert keys["aws:username"] == keys["aws:userid"] == KEY
    assert keys["s3:signatureversion"] == "AWS4-HMAC-SHA256"
    assert keys["s3:authType"] == "REST-HEADER"
    assert 1000 <= int(cast(str, keys["s3:signatureAge"])) < 60_000
    assert context(request(signed=auth(), admin=True))["aws:PrincipalType"] == "Account"


def test_signature_forms() -> None:
    presigned = context(request(signed=auth(presigned=True)))
    assert presigned["s3:authType"] == "REST-QUERY-STRING"
    legacy = context(request(signed=auth(version=2)))
    assert legacy["s3:signatureversion"] == "AWS"
    legacy_presigned = context(request(signed=auth(version=2, presigned=True)))
    assert "s3:signatureAge" not in legacy_presigned  # its date is the expiry
    form = context(request("PostObject", signed=auth()))
    assert form["s3:authType"] == "POST"


def test_signature_age_limit() -> None:
    condition = {"NumericLessThan": {"s3:signatureAge": "600000"}}
    assert decide(condition, request(signed=auth(age=1))) is Decision.ALLOW
    assert decide(condition, request(signed=auth(age=3600))) is Decision.NONE
    assert decide(condition, request()) is Decision.NONE  # anonymous: no signature


def test_time_keys() -> None:
    keys = context(request())
    now = datetime.now(UTC).timestamp()
    assert abs(int(cast(str, keys["aws:EpochTime"])) - now) < 5
    assert decide({"NumericGreaterThan": {"aws:EpochTime": "1500000000"}}, request())
    assert decide({"DateGreaterThan": {"aws:EpochTime": "2020-01-01T00:00:00Z"}}, request()) is (
        Decision.ALLOW
    )
    assert decide({"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, request()) is (
        Decision.NONE
    )


def test_user_agent_and_referer_when_sent() -> None:
    sent = request(headers={"User-Agent": "curl/8", "Referer": "https://example.com/page"})
    keys = context(sent)
    assert keys["aws:UserAgent"] == "curl/8"
    assert keys["aws:Referer"] == "https://example.com/page"
    assert decide({"StringLike": {"aws:Referer": "https://example.com/*"}}, sent) is (
        Decision.ALLOW
    )


def test_tls_version_absent_over_plain_http() -> None:
    condition = {"NumericGreaterThanEquals": {"s3:TlsVersion": "1.2"}}
    assert decide(condition, request()) is Decision.NONE
    assert decide({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, request()) is Decision.NONE


def test_tls_version_from_the_connection() -> None:
    s3_request = request()
    ssl_object = SimpleNamespace(version=lambda: "TLSv1.3")
    transport = SimpleNamespace(
        get_extra_info=lambda name: ssl_object if name == "ssl_object" else None
    )
    s3_request.http = cast(
        Any,
        SimpleNamespace(transport=transport, remote="10.0.0.1", secure=True, headers=CIMultiDict()),
    )
    keys = context(s3_request)
    assert keys["s3:TlsVersion"] == "1.3"
    assert keys["aws:SourceIp"] == "10.0.0.1"
    assert keys["aws:SecureTransport"] == "true"
    assert decide({"NumericGreaterThanEquals": {"s3:TlsVersion": "1.2"}}, s3_request) is (
        Decision.ALLOW
    )
    assert decide({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, s3_request) is Decision.ALLOW
    assert decide({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, s3_request) is Decision.NONE


def test_request_object_tags_from_the_tagging_header() -> None:
    tagged = request(headers={"x-amz-tagging": "project=x&public=yes"})
    keys = context(tagged)
    assert keys["s3:RequestObjectTag/project"] == "x"
    assert keys["s3:RequestObjectTagKeys"] == ["project", "public"]
    assert "s3:RequestObjectTagKeys" not in context(request())
    allowed = {"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["project", "public"]}}
    assert decide(allowed, tagged) is Decision.ALLOW
    assert decide(allowed, request()) is Decision.ALLOW  # ForAllValues over nothing holds
    assert (
        decide({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["project"]}}, tagged)
        is Decision.NONE
    )
    any_public = {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": "public"}}
    assert decide(any_public, tagged) is Decision.ALLOW
    assert decide(any_public, request()) is Decision.NONE
    assert decide({"StringEquals": {"s3:RequestObjectTag/project": "x"}}, tagged) is (
        Decision.ALLOW
    )


def test_a_bad_tagging_header_adds_no_keys() -> None:
    keys = context(request(headers={"x-amz-tagging": "a=1&a=2"}))
    assert "s3:RequestObjectTagKeys" not in keys


def test_policy_keys_are_collected() -> None:
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{BUCKET}/*",
                    "Condition": {"StringEquals": {"s3:ExistingObjectTag/Public": "yes"}},
                }
            ],
        }
    )
    assert policy_context.policy_keys(BUCKET, document) == frozenset(
        {"s3:existingobjecttag/public"}
    )


@pytest.mark.parametrize(
    ("trusted", "proto", "secure"),
    [
        (False, "https", "false"),  # anyone can send the header: not trusted unless told
        (True, "https", "true"),
        (True, "http", "false"),
        (True, None, "false"),
    ],
)
def test_secure_transport_from_a_trusted_forwarded_proto(
    trusted: bool, proto: str | None, secure: str
) -> None:
    """Behind a proxy ending TLS (--trust-forwarded-proto), aws:SecureTransport is what SSE-C
    is told (gateway/transport.py)."""
    headers = {"X-Forwarded-Proto": proto} if proto else {}
    keys = context(request(headers=headers, trust_forwarded_proto=trusted))
    assert keys["aws:SecureTransport"] == secure
