"""SigV4 verification against signatures produced by botocore (and one from the AWS docs)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from mypy_boto3_s3 import S3Client
from nimbus_storage.auth.sigv4 import (
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    AuthContext,
    authenticate,
    derive_signing_key,
)
from nimbus_storage.s3errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    ExpiredToken,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidRequest,
    RequestTimeTooSkewed,
    S3Error,
    SignatureDoesNotMatch,
)

from tests.unit.storage.test_auth_client import (
    ACCESS_KEY,
    ENDPOINT,
    SIGNED_AT,
    WireRequest,
    capture,
    lookup_secret,
    presign,
    s3_client,
    sign_with_headers,
)

AWKWARD_KEYS = [
    "photos/фото 日本.jpg",
    "a b.txt",
    "a/../b",
    "../escape",
    "a//b///c",
    "./x/.",
    "a+b",
    "100%.txt",
    "%2F%41",
    "~tilde!*'()$@,;=:",
    "q?x=1&y#z",
    "trailing/",
]


@pytest.fixture(scope="module")
def client() -> Iterator[S3Client]:
    s3 = s3_client()
    yield s3
    s3.close()


def verify(request: WireRequest, now: datetime = SIGNED_AT) -> AuthContext | None:
    return authenticate(
        request.method, request.raw_path, request.raw_query, request.headers, lookup_secret, now
    )


def with_headers(request: WireRequest, **changes: str) -> WireRequest:
    return replace(request, headers={**request.headers, **changes})


def test_aws_documented_example_verifies() -> None:
    # "Example: GET Object" from the S3 SigV4 header-auth documentation.
    headers = {
        "Host": "examplebucket.s3.amazonaws.com",
        "Range": "bytes=0-9",
        "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "x-amz-date": "20130524T000000Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3"
        "/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature="
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    }
    ctx = authenticate(
        "GET",
        "/test.txt",
        "",
        headers,
        lambda _: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        datetime(2013, 5, 24, 0, 5, tzinfo=UTC),
    )
    assert ctx is not None
    assert ctx.access_key == "AKIAIOSFODNN7EXAMPLE"
    assert ctx.scope == "20130524/us-east-1/s3/aws4_request"
    assert ctx.seed_signature.startswith("f0e8bdb8")


def test_anonymous_request_is_none() -> None:
    assert verify(WireRequest("GET", "/bucket/key", "", {"Host": "nimbus.test"})) is None


def test_header_auth_with_signed_payload() -> None:
    body = b"hello world"
    request = sign_with_headers("PUT", f"{ENDPOINT}/bucket/key.txt", body=body)
    ctx = verify(request)
    assert ctx is not None
    assert ctx.access_key == ACCESS_KEY
    assert ctx.region == "us-east-1"
    assert ctx.service == "s3"
    assert not ctx.presigned
    assert ctx.payload_hash == request.headers["X-Amz-Content-SHA256"]
    assert ctx.request_time == SIGNED_AT
    assert "host" in ctx.signed_headers
    assert "signing_key" not in repr(ctx)


def test_header_auth_accepts_a_multidict_proxy_and_any_region() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/bucket/key?tagging", headers={"X-A": "1"})
    headers = CIMultiDictProxy(CIMultiDict(request.headers))
    ctx = authenticate(
        "GET", request.raw_path, request.raw_query, headers, lookup_secret, SIGNED_AT
    )
    assert ctx is not None
    assert ctx.seed_signature in request.headers["Authorization"]


def test_header_values_are_trimmed_and_collapsed() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/b/k", headers={"X-Amz-Meta-Note": "a  b"})
    # A proxy re-folding whitespace does not change the canonical value.
    assert verify(with_headers(request, **{"X-Amz-Meta-Note": "  a \t b "})) is not None
    with pytest.raises(SignatureDoesNotMatch):
        verify(with_headers(request, **{"X-Amz-Meta-Note": "ab"}))


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_boto3_requests_with_awkward_keys_verify(client: S3Client, key: str) -> None:
    request = capture(client, lambda s3: s3.get_object(Bucket="bucket", Key=key, Range="bytes=0-1"))
    assert verify(request) is not None
    # The path is signed as sent: the same key one character shorter must fail.
    tampered = replace(request, raw_path=request.raw_path[:-1] or "/")
    with pytest.raises(SignatureDoesNotMatch):
        verify(tampered)


def test_boto3_keeps_dot_segments_and_empty_segments_unnormalized(client: S3Client) -> None:
    request = capture(client, lambda s3: s3.head_object(Bucket="bucket", Key="a/../b//c"))
    assert request.raw_path == "/bucket/a/../b//c"
    assert verify(request) is not None


@pytest.mark.parametrize("prefix", ["a b+c/%", "日本/", "x=y&z", "~-_."])
def test_boto3_query_parameters_verify(client: S3Client, prefix: str) -> None:
    request = capture(
        client, lambda s3: s3.list_objects_v2(Bucket="bucket", Prefix=prefix, Delimiter="/")
    )
    assert "prefix=" in request.raw_query
    assert verify(request) is not None
    with pytest.raises(SignatureDoesNotMatch):
        verify(replace(request, raw_query=request.raw_query.replace("delimiter=%2F", "delimiter=")))


def test_path_sent_with_lowercase_escapes_still_verifies() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/bucket/a%2Fb%C3%A9")
    assert verify(replace(request, raw_path="/bucket/a%2fb%c3%a9")) is not None
    # ... but an escaped slash is not the same path as a real one.
    with pytest.raises(SignatureDoesNotMatch):
        verify(replace(request, raw_path="/bucket/a/b%C3%A9"))


def test_path_signed_exactly_as_sent_by_a_non_canonical_client() -> None:
    # botocore signs whatever path it is given; here one AWS would have escaped.
    request = sign_with_headers("GET", f"{ENDPOINT}/bucket/it's(1)%7e")
    assert request.raw_path == "/bucket/it's(1)%7e"
    assert verify(request) is not None


def test_path_sent_unescaped_verifies_against_the_aws_encoding() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/bucket/it%27s%20%2A")
    assert verify(replace(request, raw_path="/bucket/it's%20*")) is not None


def test_plus_in_raw_query_reads_as_space_or_as_a_literal_plus() -> None:
    as_space = sign_with_headers("GET", f"{ENDPOINT}/bucket?prefix=a%20b")
    assert verify(replace(as_space, raw_query="prefix=a+b")) is not None
    as_plus = sign_with_headers("GET", f"{ENDPOINT}/bucket?prefix=a%2Bb")
    assert verify(replace(as_plus, raw_query="prefix=a+b")) is not None
    with pytest.raises(SignatureDoesNotMatch):
        verify(replace(as_plus, raw_query="prefix=a%2Cb"))


def test_valueless_query_parameter_verifies() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/bucket?acl")
    assert request.raw_query == "acl"
    assert verify(request) is not None


def test_date_header_instead_of_x_amz_date() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/b/k", headers={"Date": "placeholder"})
    assert "X-Amz-Date" not in request.headers
    ctx = verify(request)
    assert ctx is not None
    assert ctx.amz_date == "20250301T120000Z"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda r: replace(r, method="DELETE"), id="method"),
        pytest.param(lambda r: replace(r, raw_path="/bucket/other"), id="path"),
        pytest.param(lambda r: replace(r, raw_query="versionId=2"), id="query"),
        pytest.param(lambda r: with_headers(r, Range="bytes=0-99"), id="signed-header"),
        pytest.param(lambda r: with_headers(r, Host="evil.test:9000"), id="host"),
        pytest.param(
            lambda r: with_headers(r, Authorization=r.headers["Authorization"][:-1] + "0"),
            id="signature",
        ),
    ],
)
def test_tampered_header_request_fails(tamper: object) -> None:
    request = sign_with_headers(
        "GET", f"{ENDPOINT}/bucket/key?versionId=1", headers={"Range": "bytes=0-9"}
    )
    assert verify(request) is not None
    assert callable(tamper)
    with pytest.raises(SignatureDoesNotMatch):
        verify(tamper(request))


def test_wrong_secret_fails() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/b/k", secret="not-the-secret")
    with pytest.raises(SignatureDoesNotMatch) as info:
        verify(request)
    assert info.value.status == 403


def test_unknown_access_key() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/b/k")
    with pytest.raises(InvalidAccessKeyId):
        authenticate("GET", "/b/k", "", request.headers, lambda _: None, SIGNED_AT)


@pytest.mark.parametrize("offset_minutes", [-16, 16, 60 * 24])
def test_clock_skew_over_15_minutes(offset_minutes: int) -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/b/k")
    with pytest.raises(RequestTimeTooSkewed) as info:
        verify(request, now=SIGNED_AT + timedelta(minutes=offset_minutes))
    assert info.value.extra["RequestTime"] == "20250301T120000Z"


@pytest.mark.parametrize("offset_minutes", [-14, 14])
def test_clock_skew_within_15_minutes(offset_minutes: int) -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/b/k")
    assert verify(request, now=SIGNED_AT + timedelta(minutes=offset_minutes)) is not None


def test_naive_now_is_taken_as_utc() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/b/k")
    assert verify(request, now=SIGNED_AT.replace(tzinfo=None)) is not None


CREDENTIAL = f"Credential={ACCESS_KEY}/20250301/us-east-1/s3/aws4_request"
SIG = "Signature=" + "0" * 64


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        (f"AWS4-HMAC-SHA256 {CREDENTIAL}, {SIG}", AuthorizationHeaderMalformed),
        (f"AWS4-HMAC-SHA256 {CREDENTIAL}, SignedHeaders=host", AuthorizationHeaderMalformed),
        (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20250301/us-east-1/s3, SignedHeaders=host,"
            f" {SIG}",
            AuthorizationHeaderMalformed,
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20250301/us-east-1/ec2/aws4_request,"
            f" SignedHeaders=host, {SIG}",
            AuthorizationHeaderMalformed,
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20250301/us-east-1/s3/aws5_request,"
            f" SignedHeaders=host, {SIG}",
            AuthorizationHeaderMalformed,
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20250302/us-east-1/s3/aws4_request,"
            f" SignedHeaders=host, {SIG}",
            AuthorizationHeaderMalformed,
        ),
        (
            f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/2025031/us-east-1/s3/aws4_request,"
            f" SignedHeaders=host, {SIG}",
            AuthorizationHeaderMalformed,
        ),
        (
            f"AWS4-HMAC-SHA256 {CREDENTIAL}, SignedHeaders=Host;X-Amz-Date, {SIG}",
            AuthorizationHeaderMalformed,
        ),
        (
            f"AWS4-HMAC-SHA256 {CREDENTIAL}, SignedHeaders=x-amz-date, {SIG}",
            AuthorizationHeaderMalformed,
        ),
        (f"AWS {ACCESS_KEY}:c2lnbmF0dXJl", SignatureDoesNotMatch),  # SigV2, made-up signature
        (f"AWS4-ECDSA-P256-SHA256 {CREDENTIAL}, SignedHeaders=host, {SIG}", InvalidRequest),
        ("Bearer token", InvalidRequest),
    ],
)
def test_malformed_authorization_header(authorization: str, error: type[S3Error]) -> None:
    headers = {
        "Host": "nimbus.test",
        "x-amz-date": "20250301T120000Z",
        "x-amz-content-sha256": UNSIGNED_PAYLOAD,
        "Authorization": authorization,
    }
    with pytest.raises(error) as info:
        authenticate("GET", "/b/k", "", headers, lookup_secret, SIGNED_AT)
    assert info.value.code == error.code


def test_missing_content_sha256_header() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/b/k")
    headers = {k: v for k, v in request.headers.items() if k.lower() != "x-amz-content-sha256"}
    with pytest.raises(InvalidRequest, match="x-amz-content-sha256"):
        authenticate("GET", "/b/k", "", headers, lookup_secret, SIGNED_AT)


def test_invalid_content_sha256_value() -> None:
    request = sign_with_headers("PUT", f"{ENDPOINT}/b/k", payload_hash="not-a-digest")
    with pytest.raises(InvalidArgument, match="x-amz-content-sha256 must be"):
        verify(request)


def test_streaming_payload_hash_is_reported() -> None:
    request = sign_with_headers("PUT", f"{ENDPOINT}/b/k", payload_hash=STREAMING_UNSIGNED_TRAILER)
    ctx = verify(request)
    assert ctx is not None
    assert ctx.payload_hash == STREAMING_UNSIGNED_TRAILER


def test_missing_or_invalid_date() -> None:
    request = sign_with_headers("GET", f"{ENDPOINT}/b/k")
    headers = {k: v for k, v in request.headers.items() if k.lower() != "x-amz-date"}
    with pytest.raises(AccessDenied, match="valid Date or x-amz-date"):
        authenticate("GET", "/b/k", "", headers, lookup_secret, SIGNED_AT)
    with pytest.raises(AccessDenied, match="valid Date or x-amz-date"):
        verify(with_headers(request, **{"X-Amz-Date": "2025-03-01T12:00:00Z"}))


def test_unsigned_amz_header_is_rejected() -> None:
    request = sign_with_headers("PUT", f"{ENDPOINT}/b/k")
    with pytest.raises(AccessDenied, match="not signed") as info:
        verify(with_headers(request, **{"x-amz-acl": "public-read"}))
    assert info.value.extra["HeadersNotSigned"] == "x-amz-acl"


def test_header_and_query_auth_together_is_invalid(client: S3Client) -> None:
    presigned = presign(client, "get_object", {"Bucket": "b", "Key": "k"})
    signed = sign_with_headers("GET", f"{ENDPOINT}/b/k")
    with pytest.raises(InvalidArgument, match="Only one auth mechanism"):
        verify(replace(presigned, headers=signed.headers))


# --- presigned URLs ---


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_boto3_presigned_get_verifies(client: S3Client, key: str) -> None:
    request = presign(client, "get_object", {"Bucket": "bucket", "Key": key})
    ctx = verify(request, now=SIGNED_AT + timedelta(minutes=30))
    assert ctx is not None
    assert ctx.presigned
    assert ctx.payload_hash == UNSIGNED_PAYLOAD
    with pytest.raises(SignatureDoesNotMatch):
        verify(replace(request, raw_path=request.raw_path + "x"))


def test_boto3_presigned_put_with_metadata_verifies(client: S3Client) -> None:
    request = presign(
        client, "put_object", {"Bucket": "b", "Key": "k", "ContentType": "text/plain"}
    )
    assert "content-type" in request.raw_query
    assert verify(with_headers(request, **{"Content-Type": "text/plain"})) is not None
    with pytest.raises(SignatureDoesNotMatch):
        verify(with_headers(request, **{"Content-Type": "text/html"}))


def test_presigned_url_expires(client: S3Client) -> None:
    request = presign(client, "get_object", {"Bucket": "b", "Key": "k"}, expires=60)
    assert verify(request, now=SIGNED_AT + timedelta(seconds=60)) is not None
    with pytest.raises(ExpiredToken) as info:
        verify(request, now=SIGNED_AT + timedelta(seconds=61))
    assert info.value.code == "AccessDenied"
    assert info.value.message == "Request has expired"
    assert info.value.extra["X-Amz-Expires"] == "60"


def test_presigned_url_from_the_future_is_not_valid_yet(client: S3Client) -> None:
    request = presign(client, "get_object", {"Bucket": "b", "Key": "k"})
    with pytest.raises(AccessDenied, match="not valid yet"):
        verify(request, now=SIGNED_AT - timedelta(minutes=20))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("X-Amz-Expires=3600", "X-Amz-Expires=3601"),
        ("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=host%3Brange"),
        ("X-Amz-Signature=", "X-Amz-Signature=0"),
        ("X-Amz-Algorithm", "response-content-type=text%2Fhtml&X-Amz-Algorithm"),
    ],
)
def test_tampered_presigned_query_fails(client: S3Client, old: str, new: str) -> None:
    request = presign(client, "get_object", {"Bucket": "b", "Key": "k"})
    assert old in request.raw_query
    tampered = replace(request, raw_query=request.raw_query.replace(old, new, 1))
    with pytest.raises(SignatureDoesNotMatch):
        verify(tampered)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("X-Amz-Expires=3600", "X-Amz-Expires=0", "at least 1"),
        ("X-Amz-Expires=3600", "X-Amz-Expires=604801", "less than a week"),
        ("X-Amz-Expires=3600", "X-Amz-Expires=-5", "non-negative"),
        ("X-Amz-Expires=3600", "X-Amz-Expires=soon", "number"),
        ("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1", "only supports"),
        ("X-Amz-Date=20250301T120000Z", "X-Amz-Date=20250301", "ISO8601"),
        ("X-Amz-Date=20250301T120000Z", "X-Amz-Date=20250302T120000Z", "credential date"),
        ("%2Fs3%2F", "%2Fsqs%2F", "incorrect service"),
        ("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=range", "host header must be signed"),
        ("&X-Amz-Signature=", "&X-Amz-Nothing=", "requires the X-Amz-Algorithm"),
    ],
)
def test_malformed_presigned_query(client: S3Client, old: str, new: str, message: str) -> None:
    request = presign(client, "get_object", {"Bucket": "b", "Key": "k"})
    assert old in request.raw_query
    broken = replace(request, raw_query=request.raw_query.replace(old, new, 1))
    with pytest.raises(AuthorizationQueryParametersError, match=message):
        verify(broken)


def test_presigned_unknown_access_key(client: S3Client) -> None:
    request = presign(client, "get_object", {"Bucket": "b", "Key": "k"})
    broken = replace(request, raw_query=request.raw_query.replace(ACCESS_KEY, "AKIDOTHER"))
    with pytest.raises(InvalidAccessKeyId):
        verify(broken)


def test_sigv2_presigned_url_with_a_made_up_signature_fails() -> None:
    query = f"AWSAccessKeyId={ACCESS_KEY}&Expires=4102444800&Signature={quote('c2ln+Zw==')}"
    with pytest.raises(SignatureDoesNotMatch):
        verify(WireRequest("GET", "/b/k", query, {"Host": "nimbus.test"}))


def test_signing_keys_are_cached() -> None:
    derive_signing_key.cache_clear()
    first = derive_signing_key("secret", "20250301", "us-east-1", "s3")
    second = derive_signing_key("secret", "20250301", "us-east-1", "s3")
    other = derive_signing_key("secret", "20250302", "us-east-1", "s3")
    assert first == second != other
    assert derive_signing_key.cache_info().hits == 1
