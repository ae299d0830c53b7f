"""SigV2 verification against signatures produced by botocore (HmacV1Auth, HmacV1QueryAuth and
boto3's default generate_presigned_url), plus one string to sign built from the AWS spec."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any
from unittest import mock
from urllib.parse import quote, unquote, urlsplit

import boto3
import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from multidict import CIMultiDict
from mypy_boto3_s3 import S3Client
from nimbus_storage.auth.chunked import AwsChunkedDecoder
from nimbus_storage.auth.sigv2 import resource_candidates
from nimbus_storage.auth.sigv4 import (
    STREAMING_PAYLOADS,
    STREAMING_SIGNED,
    UNSIGNED_PAYLOAD,
    AuthContext,
    authenticate,
)
from nimbus_storage.s3errors import (
    AccessDenied,
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
    SECRET_KEY,
    SIGNED_AT,
    BytesReader,
    lookup_secret,
)

ENDPOINT = "http://127.0.0.1:9000"
EXPIRES_IN = 3600
EXPIRES_AT = SIGNED_AT + timedelta(seconds=EXPIRES_IN)
KEYS = [
    "plain.txt",
    "photos/фото 日本.jpg",
    "a b.txt",
    "a+b",
    "100%.txt",
    "~tilde!*'()$@,;=:",
    "q?x=1&y#z",
    "a//b/../c",
    "trailing/",
]


@dataclass(frozen=True)
class Wire:
    """A request as the gateway receives it (raw path and query; repeated headers kept)."""

    method: str
    raw_path: str
    raw_query: str
    headers: CIMultiDict[str]

    def with_header(self, name: str, value: str) -> Wire:
        headers = self.headers.copy()
        headers[name] = value
        return replace(self, headers=headers)

    def without_header(self, name: str) -> Wire:
        headers = self.headers.copy()
        del headers[name]
        return replace(self, headers=headers)


def verify(wire: Wire, now: datetime = SIGNED_AT, bucket: str | None = None) -> AuthContext | None:
    return authenticate(
        wire.method,
        wire.raw_path,
        wire.raw_query,
        wire.headers,
        lookup_secret,
        now,
        virtual_host_bucket=bucket,
    )


def rejects(error: type[S3Error], wire: Wire, **kwargs: Any) -> S3Error:
    with pytest.raises(error) as info:
        verify(wire, **kwargs)
    assert type(info.value) is error
    return info.value


@contextmanager
def clock(moment: datetime) -> Iterator[None]:
    """botocore's SigV2 signers read time.time() (Date header, Expires)."""
    with mock.patch("time.time", return_value=moment.timestamp()):
        yield


def _to_wire(method: str, url: str, headers: list[tuple[str, str]]) -> Wire:
    parts = urlsplit(url)
    wire_headers: CIMultiDict[str] = CIMultiDict(headers)
    wire_headers.setdefault("Host", parts.netloc)
    return Wire(method, parts.path, parts.query, wire_headers)


def _botocore_request(
    method: str, url: str, headers: list[tuple[str, str]], auth_path: str | None
) -> AWSRequest:
    request = AWSRequest(method=method, url=url)
    for name, value in headers:
        request.headers[name] = value  # appends: repeated headers stay repeated
    request.auth_path = auth_path
    return request


def sign_header(
    method: str,
    url: str,
    headers: list[tuple[str, str]] | None = None,
    *,
    secret: str = SECRET_KEY,
    auth_path: str | None = None,
    when: datetime = SIGNED_AT,
) -> Wire:
    """``Authorization: AWS key:signature`` from botocore's HmacV1Auth."""
    request = _botocore_request(method, url, headers or [], auth_path)
    with clock(when):
        HmacV1Auth(Credentials(ACCESS_KEY, secret)).add_auth(request)
    assert request.url is not None
    return _to_wire(method, request.url, list(request.headers.items()))


def sign_query(
    method: str,
    url: str,
    headers: list[tuple[str, str]] | None = None,
    *,
    secret: str = SECRET_KEY,
    auth_path: str | None = None,
) -> Wire:
    """A presigned URL from botocore's HmacV1QueryAuth, requested without extra headers."""
    request = _botocore_request(method, url, headers or [], auth_path)
    with clock(SIGNED_AT):
        HmacV1QueryAuth(Credentials(ACCESS_KEY, secret), expires=EXPIRES_IN).add_auth(request)
    assert request.url is not None
    return _to_wire(method, request.url, [])


def default_client(**config: Any) -> S3Client:
    """boto3 with its default signature choice: SigV2 (``s3``) for presigned URLs."""
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}, **config),
    )


def presigned(method: str, params: dict[str, Any], client: S3Client | None = None) -> Wire:
    with clock(SIGNED_AT):
        url = (client or default_client()).generate_presigned_url(
            method, Params=params, ExpiresIn=EXPIRES_IN
        )
    assert "AWSAccessKeyId=" in url
    assert "X-Amz-" not in url
    http_method = {"get_object": "GET", "put_object": "PUT", "list_objects": "GET"}[method]
    return _to_wire(http_method, url, [])


class _Sent(Exception):
    def __init__(self, request: Any) -> None:
        super().__init__("sent")
        self.request = request


def sent_by_boto3(call: Callable[[S3Client], object]) -> Wire:
    """The request a SigV2-configured boto3 client would send, captured before sending."""
    client = default_client(signature_version="s3")

    def stop(request: Any, **_: object) -> None:
        raise _Sent(request)

    client.meta.events.register_first("before-send.s3.*", stop)
    with clock(SIGNED_AT), pytest.raises(_Sent) as info:
        call(client)
    prepared = info.value.request
    headers = [
        (name, value.decode() if isinstance(value, bytes) else str(value))
        for name, value in prepared.headers.items()
    ]
    return _to_wire(prepared.method, prepared.url, headers)


def spec_signature(string_to_sign: str, secret: str = SECRET_KEY) -> str:
    """Base64(HMAC-SHA1(secret, StringToSign)), straight from the AWS SigV2 documentation."""
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def set_query(wire: Wire, name: str, value: str) -> Wire:
    pairs = [part.partition("=") for part in wire.raw_query.split("&")]
    query = "&".join(f"{n}={quote(value, safe='') if n == name else v}" for n, _, v in pairs)
    return replace(wire, raw_query=query)


# --- Authorization header -------------------------------------------------------------------


def test_header_signature_is_accepted_with_a_sigv2_context() -> None:
    ctx = verify(sign_header("GET", f"{ENDPOINT}/bucket/key.txt"))
    assert ctx == AuthContext(
        access_key=ACCESS_KEY,
        signing_key=b"",
        region="us-east-1",
        service="s3",
        amz_date="20250301T120000Z",
        scope="",
        seed_signature="",
        payload_hash=UNSIGNED_PAYLOAD,
        presigned=False,
        signature_version=2,
    )


PUT_HEADERS = [
    ("Content-MD5", "XUFAKrxLKna5cZ2REBfFkg=="),
    ("Content-Type", "text/plain"),
    ("X-Amz-Meta-Colour", " blue "),
    ("x-amz-meta-colour", "green"),
    ("x-amz-acl", "private"),
]


def test_header_signature_covers_content_and_amz_headers() -> None:
    wire = sign_header("PUT", f"{ENDPOINT}/bucket/key.txt", PUT_HEADERS)
    assert wire.headers.getall("x-amz-meta-colour") == [" blue ", "green"]
    ctx = verify(wire)
    assert ctx is not None
    assert ctx.signature_version == 2


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda w: replace(w, raw_path="/bucket/other.txt"), id="path"),
        pytest.param(lambda w: replace(w, method="POST"), id="method"),
        pytest.param(lambda w: w.with_header("Content-Type", "text/html"), id="content-type"),
        pytest.param(lambda w: w.with_header("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA=="), id="md5"),
        pytest.param(lambda w: w.with_header("x-amz-acl", "public-read"), id="amz-value"),
        pytest.param(lambda w: w.without_header("x-amz-acl"), id="amz-removed"),
        pytest.param(lambda w: w.with_header("x-amz-grant-read", "id=x"), id="amz-added"),
        pytest.param(lambda w: replace(w, raw_query="acl"), id="subresource-added"),
    ],
)
def test_tampered_header_request_is_rejected(tamper: Callable[[Wire], Wire]) -> None:
    wire = sign_header("PUT", f"{ENDPOINT}/bucket/key.txt", PUT_HEADERS)
    assert verify(wire) is not None
    error = rejects(SignatureDoesNotMatch, tamper(wire))
    assert error.extra == {"AWSAccessKeyId": ACCESS_KEY}


@pytest.mark.parametrize(
    ("query", "tampered", "error"),
    [
        ("versionId=v1", "versionId=v2", SignatureDoesNotMatch),
        ("versionId=v1", "", SignatureDoesNotMatch),
        ("versionId=v1", "versionId=v1&tagging", SignatureDoesNotMatch),
        ("uploadId=u%201&partNumber=2", "uploadId=u%201&partNumber=3", SignatureDoesNotMatch),
        ("response-content-type=text%2Fplain", "response-content-type=x", SignatureDoesNotMatch),
        ("versionId=v1", "versionId=v1&max-keys=5", None),  # not a sub-resource: unsigned
        ("uploadId=u%201&partNumber=2", "partNumber=2&uploadId=u%201", None),  # order-free
    ],
)
def test_subresources_are_signed(query: str, tampered: str, error: type[S3Error] | None) -> None:
    wire = sign_header("GET", f"{ENDPOINT}/bucket/key?{query}")
    assert verify(wire) is not None
    changed = replace(wire, raw_query=tampered)
    if error is None:
        assert verify(changed) is not None
    else:
        rejects(error, changed)


def test_wrong_secret_and_unknown_key() -> None:
    rejects(SignatureDoesNotMatch, sign_header("GET", f"{ENDPOINT}/b/k", secret="wrong"))
    wire = sign_header("GET", f"{ENDPOINT}/b/k")
    other = wire.with_header(
        "Authorization", wire.headers["Authorization"].replace(ACCESS_KEY, "NOPE")
    )
    error = rejects(InvalidAccessKeyId, other)
    assert error.extra == {"AWSAccessKeyId": "NOPE"}


@pytest.mark.parametrize("minutes", [-16, 16])
def test_clock_skew_is_rejected(minutes: int) -> None:
    wire = sign_header("GET", f"{ENDPOINT}/b/k")
    within = 14 if minutes > 0 else -14
    assert verify(wire, now=SIGNED_AT + timedelta(minutes=within)) is not None
    error = rejects(RequestTimeTooSkewed, wire, now=SIGNED_AT + timedelta(minutes=minutes))
    assert error.extra["MaxAllowedSkewMilliseconds"] == "900000"


def test_x_amz_date_replaces_the_date_line_as_aws_specifies() -> None:
    amz_date = format_datetime(SIGNED_AT, usegmt=True)
    to_sign = f"GET\n\n\n\nx-amz-date:{amz_date}\n/bucket/key"
    wire = _to_wire(
        "GET",
        f"{ENDPOINT}/bucket/key",
        [
            ("x-amz-date", amz_date),
            ("Authorization", f"AWS {ACCESS_KEY}:{spec_signature(to_sign)}"),
        ],
    )
    assert verify(wire) is not None
    # A Date header changes nothing: it is not signed when x-amz-date is present...
    assert verify(wire.with_header("Date", "Sat, 01 Mar 2025 12:05:00 GMT")) is not None
    # ...and the clock check uses x-amz-date, not Date.
    later = SIGNED_AT + timedelta(hours=1)
    stale = wire.with_header("Date", format_datetime(later, usegmt=True))
    rejects(RequestTimeTooSkewed, stale, now=later)
    rejects(SignatureDoesNotMatch, wire.with_header("x-amz-date", "Sat, 01 Mar 2025 12:01:00 GMT"))


def test_botocore_signs_date_even_with_x_amz_date() -> None:
    amz_date = format_datetime(SIGNED_AT, usegmt=True)
    wire = sign_header("GET", f"{ENDPOINT}/b/k", [("x-amz-date", amz_date)])
    assert verify(wire) is not None
    rejects(SignatureDoesNotMatch, wire.with_header("Date", "Sat, 01 Mar 2025 12:05:00 GMT"))


def test_missing_date_is_access_denied() -> None:
    wire = sign_header("GET", f"{ENDPOINT}/b/k").without_header("Date")
    error = rejects(AccessDenied, wire)
    assert "Date or x-amz-date" in error.message


@pytest.mark.parametrize("authorization", [f"AWS {ACCESS_KEY}", "AWS :c2ln", f"AWS {ACCESS_KEY}:"])
def test_malformed_authorization_is_invalid_argument(authorization: str) -> None:
    wire = sign_header("GET", f"{ENDPOINT}/b/k").with_header("Authorization", authorization)
    rejects(InvalidArgument, wire)


@pytest.mark.parametrize("key", KEYS)
def test_boto3_sigv2_requests_verify(key: str) -> None:
    wire = sent_by_boto3(lambda c: c.get_object(Bucket="bucket", Key=key))
    assert wire.headers["Authorization"].startswith(f"AWS {ACCESS_KEY}:")
    assert verify(wire) is not None
    rejects(SignatureDoesNotMatch, replace(wire, raw_path=wire.raw_path + "x"))


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.list_objects(Bucket="bucket"), id="list-objects"),
        pytest.param(lambda c: c.get_bucket_acl(Bucket="bucket"), id="bucket-acl"),
        pytest.param(lambda c: c.get_object_tagging(Bucket="bucket", Key="k"), id="tagging"),
        pytest.param(
            lambda c: c.put_object(Bucket="bucket", Key="k", Body=b"x", Metadata={"a": " v "}),
            id="put-with-metadata",
        ),
    ],
)
def test_boto3_sigv2_bucket_and_subresource_requests(call: Callable[[S3Client], object]) -> None:
    wire = sent_by_boto3(call)
    assert verify(wire) is not None
    rejects(SignatureDoesNotMatch, replace(wire, raw_path="/other" + wire.raw_path[7:]))


def test_bucket_root_is_signed_with_or_without_trailing_slash() -> None:
    # botocore sends /bucket but signs /bucket/; other clients sign what they send.
    assert resource_candidates("/bucket", "") == ["/bucket", "/bucket/"]
    assert resource_candidates("/bucket/", "acl") == ["/bucket/?acl", "/bucket?acl"]
    assert resource_candidates("/bucket/key", "") == ["/bucket/key"]
    assert resource_candidates("/", "", "bucket") == ["/bucket/", "/bucket"]


# --- virtual-hosted addressing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "auth_path"),
    [
        ("http://bucket.nimbus.test:9000/a%20b/c.txt", "/bucket/a%20b/c.txt"),
        ("http://bucket.nimbus.test:9000/", "/bucket/"),
        ("http://bucket.nimbus.test:9000/", "/bucket"),
        ("http://bucket.nimbus.test:9000/?acl", "/bucket/"),
    ],
)
def test_virtual_hosted_resource_includes_the_bucket(url: str, auth_path: str) -> None:
    wire = sign_header("GET", url, auth_path=auth_path)
    assert verify(wire, bucket="bucket") is not None
    rejects(SignatureDoesNotMatch, wire)  # the gateway must pass the bucket
    rejects(SignatureDoesNotMatch, wire, bucket="other")


def test_virtual_hosted_presigned_url() -> None:
    wire = sign_query("GET", "http://bucket.nimbus.test:9000/k", auth_path="/bucket/k")
    assert verify(wire, bucket="bucket") is not None
    rejects(SignatureDoesNotMatch, wire)


# --- presigned URLs --------------------------------------------------------------------------


def test_presigned_url_is_accepted_until_it_expires() -> None:
    wire = sign_query("GET", f"{ENDPOINT}/bucket/key.txt")
    assert f"Expires={int(EXPIRES_AT.timestamp())}" in wire.raw_query
    ctx = verify(wire)
    assert ctx is not None
    assert (ctx.presigned, ctx.signature_version, ctx.payload_hash) == (True, 2, UNSIGNED_PAYLOAD)
    assert ctx.request_time == EXPIRES_AT
    assert verify(wire, now=EXPIRES_AT) is not None
    error = rejects(ExpiredToken, wire, now=EXPIRES_AT + timedelta(seconds=1))
    assert (error.code, error.message) == ("AccessDenied", "Request has expired")
    assert error.extra["Expires"] == "2025-03-01T13:00:00Z"


@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        (lambda w: replace(w, raw_path="/bucket/other.txt"), SignatureDoesNotMatch),
        (lambda w: replace(w, method="PUT"), SignatureDoesNotMatch),
        (
            lambda w: set_query(w, "Expires", str(int(EXPIRES_AT.timestamp()) + 86400)),
            SignatureDoesNotMatch,
        ),
        (lambda w: set_query(w, "response-content-type", "text/html"), SignatureDoesNotMatch),
        (lambda w: replace(w, raw_query=w.raw_query + "&versionId=1"), SignatureDoesNotMatch),
        (lambda w: set_query(w, "AWSAccessKeyId", "NOPE"), InvalidAccessKeyId),
        (lambda w: set_query(w, "Expires", "tomorrow"), AccessDenied),
        (lambda w: set_query(w, "Signature", ""), AccessDenied),
        (lambda w: w.with_header("Authorization", f"AWS {ACCESS_KEY}:c2ln"), InvalidArgument),
    ],
)
def test_tampered_presigned_url_is_rejected(
    tamper: Callable[[Wire], Wire], error: type[S3Error]
) -> None:
    wire = sign_query("GET", f"{ENDPOINT}/bucket/key.txt?response-content-type=text%2Fplain")
    assert verify(wire) is not None
    rejects(error, tamper(wire))


def test_presigned_url_with_wrong_secret() -> None:
    rejects(SignatureDoesNotMatch, sign_query("GET", f"{ENDPOINT}/b/k", secret="wrong"))


def test_unencoded_plus_in_signature_is_literal() -> None:
    for n in range(200):
        wire = sign_query("GET", f"{ENDPOINT}/bucket/k{n}")
        if "%2B" in wire.raw_query:
            break
    else:
        pytest.fail("no signature with a '+' in 200 tries")
    raw_plus = replace(wire, raw_query=wire.raw_query.replace("%2B", "+"))
    assert verify(raw_plus) is not None


@pytest.mark.parametrize("key", KEYS)
def test_boto3_default_presigned_get(key: str) -> None:
    wire = presigned("get_object", {"Bucket": "bucket", "Key": key})
    assert unquote(wire.raw_path) == f"/bucket/{key}"
    assert verify(wire) is not None
    rejects(SignatureDoesNotMatch, replace(wire, raw_path=wire.raw_path.replace("bucket", "other")))


def test_boto3_default_presigned_subresources_and_list() -> None:
    params = {
        "Bucket": "bucket",
        "Key": "k",
        "VersionId": "v 1+2",
        "ResponseContentDisposition": 'attachment; filename="a b.txt"',
    }
    wire = presigned("get_object", params)
    assert verify(wire) is not None
    rejects(SignatureDoesNotMatch, set_query(wire, "versionId", "v 1 2"))
    listing = presigned("list_objects", {"Bucket": "bucket"})
    assert listing.raw_path == "/bucket"
    assert verify(listing) is not None


def test_boto3_default_presigned_put_binds_content_type_and_metadata() -> None:
    params = {"Bucket": "bucket", "Key": "k", "ContentType": "text/plain", "Metadata": {"m": "1"}}
    wire = presigned("put_object", params)
    assert "x-amz-meta-m=1" in wire.raw_query
    assert verify(wire) is not None
    assert verify(wire.with_header("Content-Type", "text/plain")) is not None
    assert verify(wire.with_header("x-amz-meta-m", "1")) is not None
    rejects(SignatureDoesNotMatch, wire.with_header("Content-Type", "text/html"))
    rejects(SignatureDoesNotMatch, wire.with_header("x-amz-meta-m", "2"))
    rejects(SignatureDoesNotMatch, wire.with_header("x-amz-acl", "public-read"))
    rejects(SignatureDoesNotMatch, set_query(wire, "x-amz-meta-m", "2"))


# --- what the body decoders see --------------------------------------------------------------


def test_sigv2_body_is_never_aws_chunked() -> None:
    headers = [("x-amz-content-sha256", STREAMING_SIGNED), ("Content-Encoding", "aws-chunked")]
    ctx = verify(sign_header("PUT", f"{ENDPOINT}/bucket/k", headers))
    assert ctx is not None
    assert ctx.payload_hash == UNSIGNED_PAYLOAD
    assert ctx.payload_hash not in STREAMING_PAYLOADS
    with pytest.raises(InvalidRequest, match="SigV4"):
        AwsChunkedDecoder(BytesReader(b""), ctx, STREAMING_SIGNED, None)


@pytest.mark.parametrize(
    ("signed", "sent"),
    [
        ("acl", "acl="),  # a bare sub-resource sent with an empty value
        ("versionId=a%20b", "versionId=a+b"),  # '+' meaning a space
        ("versionId=a%2Bb", "versionId=a+b"),  # '+' as botocore reads it: literal
    ],
)
def test_subresource_spelling_variants(signed: str, sent: str) -> None:
    wire = sign_header("GET", f"{ENDPOINT}/bucket/key?{signed}")
    assert verify(replace(wire, raw_query=sent)) is not None
    rejects(SignatureDoesNotMatch, replace(wire, raw_query=sent.replace("a", "c")))


def test_presigned_put_leaves_unsigned_content_headers_free() -> None:
    # urllib and other HTTP clients add a Content-Type of their own to a presigned PUT.
    wire = presigned("put_object", {"Bucket": "bucket", "Key": "k"})
    form = "application/x-www-form-urlencoded"
    assert verify(wire.with_header("Content-Type", form)) is not None
    assert verify(wire.with_header("Content-MD5", "XUFAKrxLKna5cZ2REBfFkg==")) is not None
    # The Authorization header form signs them whether empty or not.
    signed = sign_header("PUT", f"{ENDPOINT}/bucket/k")
    assert verify(signed) is not None
    rejects(SignatureDoesNotMatch, signed.with_header("Content-Type", form))
