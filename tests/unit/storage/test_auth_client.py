"""Client-side helpers for the test_auth_* modules (no tests here).

Signatures come from botocore itself; aws-chunked bodies are encoded here from the AWS
specification, independently of the server code under test.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from mypy_boto3_s3 import S3Client

ACCESS_KEY = "AKIDNIMBUSTEST"
SECRET_KEY = "nimbus/secret+key=example"
REGION = "us-east-1"
ENDPOINT = "http://nimbus.test:9000"
SIGNED_AT = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def lookup_secret(access_key: str) -> str | None:
    return SECRET_KEY if access_key == ACCESS_KEY else None


@dataclass(frozen=True)
class WireRequest:
    """A request as the gateway receives it: raw (still percent-encoded) path and query."""

    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    body: bytes = b""


@contextmanager
def botocore_clock(moment: datetime) -> Iterator[None]:
    """Make botocore sign as if it were ``moment`` (botocore wants naive UTC)."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive):
        yield


def _wire(method: str, url: str, headers: Any, body: bytes) -> WireRequest:
    parts = urlsplit(url)
    wire_headers = {
        name: value.decode() if isinstance(value, bytes) else str(value)
        for name, value in headers.items()
    }
    wire_headers.setdefault("Host", parts.netloc)
    return WireRequest(method, parts.path, parts.query, wire_headers, body)


class _FixedPayloadSigner(S3SigV4Auth):
    """botocore's S3 signer, but with a caller-chosen x-amz-content-sha256 (e.g. STREAMING-*)."""

    def __init__(self, credentials: Credentials, payload_hash: str) -> None:
        super().__init__(credentials, "s3", REGION)
        self._payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


def sign_with_headers(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    payload_hash: str | None = None,
    when: datetime = SIGNED_AT,
    secret: str = SECRET_KEY,
) -> WireRequest:
    """Sign with botocore's S3SigV4Auth (Authorization header) and return what goes on the wire."""
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=body)
    credentials = Credentials(ACCESS_KEY, secret)
    signer = (
        S3SigV4Auth(credentials, "s3", REGION)
        if payload_hash is None
        else _FixedPayloadSigner(credentials, payload_hash)
    )
    with botocore_clock(when):
        signer.add_auth(request)
    assert request.url is not None
    return _wire(method, request.url, request.headers, body)


def s3_client(endpoint: str = ENDPOINT) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def presign(
    client: S3Client,
    method: str,
    params: dict[str, Any],
    *,
    expires: int = 3600,
    when: datetime = SIGNED_AT,
) -> WireRequest:
    """A presigned URL from boto3's own generate_presigned_url, as the gateway would see it."""
    with botocore_clock(when):
        url = client.generate_presigned_url(method, Params=params, ExpiresIn=expires)
    http_method = {"get_object": "GET", "put_object": "PUT", "head_object": "HEAD"}[method]
    return _wire(http_method, url, {}, b"")


class _Captured(Exception):
    def __init__(self, request: AWSPreparedRequest) -> None:
        super().__init__("captured")
        self.request = request


def capture(
    client: S3Client, call: Callable[[S3Client], object], when: datetime = SIGNED_AT
) -> WireRequest:
    """Run a real boto3 call and capture the signed request instead of sending it."""

    def stop(request: AWSPreparedRequest, **_: object) -> None:
        raise _Captured(request)

    client.meta.events.register_first("before-send.s3.*", stop)
    try:
        with botocore_clock(when):
            call(client)
    except _Captured as captured:
        prepared = captured.request
    else:
        raise AssertionError("boto3 sent nothing")
    finally:
        client.meta.events.unregister("before-send.s3.*", stop)
    body: Any = prepared.body
    raw = body.read() if hasattr(body, "read") else (body or b"")
    if isinstance(raw, str):
        raw = raw.encode()
    assert prepared.url is not None
    return _wire(prepared.method or "GET", prepared.url, prepared.headers, bytes(raw))


# --- aws-chunked, client side, from the AWS "Transferring Payload in Multiple Chunks" spec ---


def signing_key(secret: str, date: str, region: str = REGION) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _hmac_hex(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


@dataclass
class ChunkSigner:
    """Produces the chained chunk signatures a streaming SigV4 client sends."""

    key: bytes
    amz_date: str
    scope: str
    previous: str  # starts as the seed signature

    def chunk(self, data: bytes) -> str:
        to_sign = "\n".join(
            (
                "AWS4-HMAC-SHA256-PAYLOAD",
                self.amz_date,
                self.scope,
                self.previous,
                EMPTY_SHA256,
                hashlib.sha256(data).hexdigest(),
            )
        )
        self.previous = _hmac_hex(self.key, to_sign)
        return self.previous

    def trailer(self, trailers: dict[str, str]) -> str:
        canonical = "".join(f"{name}:{value}\n" for name, value in sorted(trailers.items()))
        to_sign = "\n".join(
            (
                "AWS4-HMAC-SHA256-TRAILER",
                self.amz_date,
                self.scope,
                self.previous,
                hashlib.sha256(canonical.encode()).hexdigest(),
            )
        )
        self.previous = _hmac_hex(self.key, to_sign)
        return self.previous


def signed_chunked_body(
    signer: ChunkSigner, chunks: list[bytes], trailers: dict[str, str] | None = None
) -> bytes:
    """Encode ``chunks`` (plus the final empty chunk) with chained chunk signatures."""
    out = bytearray()
    for data in [*chunks, b""]:
        out += b"%x;chunk-signature=%s\r\n" % (len(data), signer.chunk(data).encode())
        if data or trailers is None:
            out += data + b"\r\n"
    if trailers is not None:
        for name, value in trailers.items():
            out += f"{name}:{value}\r\n".encode()
        out += f"x-amz-trailer-signature:{signer.trailer(trailers)}\r\n\r\n".encode()
    return bytes(out)


def unsigned_chunked_body(chunks: list[bytes], trailers: dict[str, str]) -> bytes:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER framing, as botocore's AwsChunkedWrapper writes it."""
    out = bytearray()
    for data in chunks:
        out += b"%x\r\n%s\r\n" % (len(data), data)
    out += b"0\r\n"
    for name, value in trailers.items():
        out += f"{name}:{value}\r\n".encode()
    return bytes(out + b"\r\n")


class BytesReader:
    """An in-memory stand-in for aiohttp's StreamReader (readline / readexactly)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    async def readline(self) -> bytes:
        end = self._data.find(b"\n", self._pos)
        end = len(self._data) if end < 0 else end + 1
        line, self._pos = self._data[self._pos : end], end
        return line

    async def readexactly(self, n: int) -> bytes:
        piece = self._data[self._pos : self._pos + n]
        self._pos += len(piece)
        if len(piece) < n:
            raise asyncio.IncompleteReadError(piece, n)
        return piece


async def drain(stream: AsyncIterable[bytes], received: list[bytes] | None = None) -> bytes:
    """Consume ``stream``; every chunk handed on is also appended to ``received``."""
    sink = received if received is not None else []
    async for chunk in stream:
        sink.append(chunk)
    return b"".join(sink)
