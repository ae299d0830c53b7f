"""Authentication at the HTTP boundary: signatures, presigned URLs, anonymous callers."""

from __future__ import annotations

import io
import socket
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import boto3
import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import (
    ROOT_ACCESS_KEY,
    ROOT_SECRET_KEY,
    GatewayHandle,
    error_code,
)


def http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_wrong_secret_is_signature_mismatch(gateway: GatewayHandle, bucket: str) -> None:
    client = gateway.client(secret_key="not-the-secret")
    assert error_code(lambda: client.list_objects_v2(Bucket=bucket)) == (
        "SignatureDoesNotMatch",
        403,
    )


def test_unknown_access_key(gateway: GatewayHandle, bucket: str) -> None:
    client = gateway.client(access_key="NOSUCHKEY", secret_key="whatever")
    assert error_code(lambda: client.list_objects_v2(Bucket=bucket)) == (
        "InvalidAccessKeyId",
        403,
    )


def test_anonymous_requests_are_denied(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret")
    status, body, _ = http("GET", f"{gateway.endpoint}/{bucket}/private")
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body
    status, body, _ = http("PUT", f"{gateway.endpoint}/{bucket}/anon", body=b"x")
    assert status == 403
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1


def test_error_document_shape(gateway: GatewayHandle, bucket: str) -> None:
    status, body, headers = http("GET", f"{gateway.endpoint}/{bucket}/nothing-here")
    assert status == 403  # anonymous: AWS does not reveal whether the key exists
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    for element in (b"<Code>", b"<Message>", b"<Resource>", b"<RequestId>"):
        assert element in body
    assert headers["x-amz-request-id"]


def test_tampered_request_is_rejected(gateway: GatewayHandle, bucket: str) -> None:
    url = f"{gateway.endpoint}/{bucket}/tampered"
    request = AWSRequest(method="PUT", url=url, data=b"original")
    S3SigV4Auth(Credentials(ROOT_ACCESS_KEY, ROOT_SECRET_KEY), "s3", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    status, body, _ = http("PUT", url.replace("tampered", "other"), b"original", headers)
    assert status == 403
    assert b"SignatureDoesNotMatch" in body
    status, body, _ = http("PUT", url, b"changed!", headers)
    assert status == 400
    assert b"XAmzContentSHA256Mismatch" in body
    status, _, _ = http("PUT", url, b"original", headers)
    assert status == 200


def test_clock_skew(gateway: GatewayHandle, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"{gateway.endpoint}/{bucket}"
    request = AWSRequest(method="GET", url=url)
    skewed = datetime.now(UTC) - timedelta(minutes=20)
    # Sign with a clock 20 minutes slow, as a client with a wrong clock would.
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
    S3SigV4Auth(Credentials(ROOT_ACCESS_KEY, ROOT_SECRET_KEY), "s3", "us-east-1").add_auth(request)
    status, body, _ = http("GET", url, headers=dict(request.headers.items()))
    assert status == 403
    assert b"RequestTimeTooSkewed" in body


def test_presigned_get_and_put(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"presigned content")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared.txt"}, ExpiresIn=60
    )
    status, body, _ = http("GET", url)
    assert (status, body) == (200, b"presigned content")
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "uploaded.txt"}, ExpiresIn=60
    )
    status, _, _ = http("PUT", put_url, b"via presigned put")
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="uploaded.txt")["Body"].read() == b"via presigned put"


def test_presigned_url_expires(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="short.txt", Body=b"x")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "short.txt"}, ExpiresIn=1
    )
    time.sleep(2.1)
    status, body, _ = http("GET", url)
    assert status == 403
    assert b"<Code>AccessDenied</Code>" in body
    assert b"Request has expired" in body


def test_presigned_url_tampered(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"a")
    s3.put_object(Bucket=bucket, Key="b.txt", Body=b"b")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "a.txt"}, ExpiresIn=60
    )
    status, body, _ = http("GET", url.replace("/a.txt", "/b.txt"))
    assert status == 403
    assert b"SignatureDoesNotMatch" in body


def test_signed_streaming_upload(gateway: GatewayHandle, bucket: str) -> None:
    """boto3 >= 1.36 sends aws-chunked bodies with a trailing CRC32 by default."""
    client = boto3.client(
        "s3",
        endpoint_url=gateway.endpoint,
        aws_access_key_id=ROOT_ACCESS_KEY,
        aws_secret_access_key=ROOT_SECRET_KEY,
        region_name="us-east-1",
        config=Config(request_checksum_calculation="when_supported"),
    )
    payload = io.BytesIO(b"streamed " * 50_000)
    client.upload_fileobj(payload, bucket, "streamed.bin")
    assert client.get_object(Bucket=bucket, Key="streamed.bin")["Body"].read() == (
        b"streamed " * 50_000
    )


def test_client_disconnect_mid_upload_leaves_nothing(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    url = f"{gateway.endpoint}/{bucket}/partial.bin"
    request = AWSRequest(
        method="PUT",
        url=url,
        headers={
            "Content-Length": str(10 * 1024 * 1024),
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        },
    )
    S3SigV4Auth(Credentials(ROOT_ACCESS_KEY, ROOT_SECRET_KEY), "s3", "us-east-1").add_auth(request)
    port = gateway.gateway.port
    with socket.create_connection(("127.0.0.1", port)) as raw:
        head = [f"PUT /{bucket}/partial.bin HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        head += [f"{name}: {value}" for name, value in request.headers.items() if name != "Host"]
        raw.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        raw.sendall(b"x" * (1024 * 1024))
    deadline = time.time() + 5
    while time.time() < deadline:
        time.sleep(0.2)
        if s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0:
            break
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="partial.bin")) == ("404", 404)
    temp_dir = gateway.gateway.services.config.data_dir / "blobs" / "d0" / "tmp"
    assert list(temp_dir.iterdir()) == []
