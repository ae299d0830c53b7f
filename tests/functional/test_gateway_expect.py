"""``Expect`` on the S3 gateway, over a plain socket: a request it will refuse is refused before
its body is sent (no ``100 Continue``), one it admits gets ``100 Continue`` then its answer, and
an expectation other than ``100-continue`` is ignored, as S3 does; in both modes."""

from __future__ import annotations

import uuid

from mypy_boto3_s3 import S3Client

from tests.functional.access_support import plain_user
from tests.functional.conftest import ROOT_ACCESS_KEY, ROOT_SECRET_KEY, GatewayHandle
from tests.functional.raw_http import Endpoint, read_answer

BODY = b"x" * 4096


def _put_head(endpoint: Endpoint, path: str, expect: str) -> bytes:
    headers = {"Content-Length": str(len(BODY)), "Expect": expect}
    return endpoint.signed_head("PUT", path, headers, BODY)


def test_an_admitted_put_is_told_to_continue(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    endpoint = Endpoint.of(gateway_in_each_mode.endpoint, ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
    with endpoint.connect() as sock:
        sock.sendall(_put_head(endpoint, f"/{bucket_in_each_mode}/k", "100-continue"))
        interim = sock.recv(64)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), interim
        sock.sendall(BODY)
        assert read_answer(sock).status == 200
    got = s3_in_each_mode.get_object(Bucket=bucket_in_each_mode, Key="k")["Body"].read()
    assert got == BODY


def test_a_refused_put_is_refused_before_its_body(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    with plain_user(gateway_in_each_mode) as (key, _client):
        secret = gateway_in_each_mode.call(
            gateway_in_each_mode.gateway.services.catalog.get_credential(key)
        ).secret_key
        endpoint = Endpoint.of(gateway_in_each_mode.endpoint, key, secret)
        with endpoint.connect() as sock:
            sock.sendall(_put_head(endpoint, f"/{bucket_in_each_mode}/denied", "100-continue"))
            answer = read_answer(sock)  # no body sent: the refusal comes first
        assert (answer.status, answer.code) == (403, "AccessDenied")
        assert answer.headers.get("x-amz-request-id")
        # The body the client holds back would be read as a next request: the answer ends it.
        assert answer.headers.get("connection") == "close"
    missing = f"/no-such-bucket-{uuid.uuid4().hex[:8]}/k"
    endpoint = Endpoint.of(gateway_in_each_mode.endpoint, ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
    with endpoint.connect() as sock:
        sock.sendall(_put_head(endpoint, missing, "100-continue"))
        answer = read_answer(sock)
    assert (answer.status, answer.code) == (404, "NoSuchBucket")
    listed = s3_in_each_mode.list_objects_v2(Bucket=bucket_in_each_mode)
    assert "Contents" not in listed


def test_other_expectations_are_ignored(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    endpoint = Endpoint.of(gateway_in_each_mode.endpoint, ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
    with endpoint.connect() as sock:
        sock.sendall(_put_head(endpoint, f"/{bucket_in_each_mode}/odd", "200") + BODY)
        assert read_answer(sock).status == 200
    assert s3_in_each_mode.head_object(Bucket=bucket_in_each_mode, Key="odd")[
        "ContentLength"
    ] == len(BODY)
