"""SSE-C only over a secure connection, as AWS and MinIO (docs/encryption.md).

* Over plain HTTP every request bringing an SSE-C key (its own object's, or a copy source's;
  headers or a browser upload's form fields) is ``400 InvalidRequest`` "Requests specifying
  Server Side Encryption with Customer provided keys must be made over a secure connection.",
  and nothing is stored — on the standalone gateway and on a gateway over a storage cluster.
* Over HTTPS (``--tls-cert`` / ``--tls-key``: a certificate of a throwaway CA made here, which
  boto3 trusts with ``verify=``) SSE-C works, on both; these gateways have no key store, which
  SSE-C does not need.
* Behind a proxy that ends TLS: ``--trust-forwarded-proto`` takes ``X-Forwarded-Proto: https``
  (set after the request is signed, as a proxy does) for a secure connection; a gateway
  without the option ignores it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import subprocess
import sys
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import CompletedPartTypeDef
from nimbus_storage.gateway.config import GatewayConfig

from tests.functional.conftest import (
    ROOT_ACCESS_KEY,
    ROOT_SECRET_KEY,
    GatewayHandle,
    empty_and_delete,
    start_in_thread,
    stop_in_thread,
)
from tests.functional.raw_http import Endpoint, read_answer
from tests.functional.standalone_server import start_standalone
from tests.functional.test_post_object import post, presigned
from tests.support.storage_cluster import StorageCluster
from tests.support.tls import TlsFiles, make_tls_files

INSECURE = (
    "InvalidRequest",
    400,
    "Requests specifying Server Side Encryption with Customer provided keys must be made over"
    " a secure connection.",
)
SERVE = [sys.executable, "-m", "nimbus_storage.cli", "serve"]
KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
SSE_C: dict[str, Any] = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}
COPY_SOURCE_SSE_C: dict[str, Any] = {
    "CopySourceSSECustomerAlgorithm": "AES256",
    "CopySourceSSECustomerKey": KEY,
}


def key_md5(key: bytes = KEY) -> str:
    return base64.b64encode(hashlib.md5(key).digest()).decode()


SSE_C_FIELDS = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY).decode(),
    "x-amz-server-side-encryption-customer-key-MD5": key_md5(),
}


def failure(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    error = response.get("Error", {})
    status = response["ResponseMetadata"]["HTTPStatusCode"]
    return error.get("Code", ""), status, error.get("Message", "")


def assert_absent(s3: S3Client, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key=key)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert s3.list_objects_v2(Bucket=bucket, Prefix=key)["KeyCount"] == 0


def add_header_after_signing(s3: S3Client, name: str, value: str) -> None:
    """Every request of ``s3`` gets ``name: value`` once signed, as a proxy adds it."""

    def add(request: Any, **_: Any) -> None:
        request.headers[name] = value

    s3.meta.events.register("before-send.s3", add)


# --- plain HTTP: refused, nothing stored --------------------------------------------------------


def _put(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="target", Body=b"plaintext in clear", **SSE_C)


def _get(s3: S3Client, bucket: str) -> None:
    s3.get_object(Bucket=bucket, Key="plain", **SSE_C)


def _copy_to_sse_c(s3: S3Client, bucket: str) -> None:
    s3.copy_object(Bucket=bucket, Key="target", CopySource=f"{bucket}/plain", **SSE_C)


def _copy_from_sse_c(s3: S3Client, bucket: str) -> None:
    s3.copy_object(Bucket=bucket, Key="target", CopySource=f"{bucket}/plain", **COPY_SOURCE_SSE_C)


def _create_upload(s3: S3Client, bucket: str) -> None:
    s3.create_multipart_upload(Bucket=bucket, Key="target", **SSE_C)


def _upload_part(s3: S3Client, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="target")["UploadId"]
    try:
        s3.upload_part(
            Bucket=bucket, Key="target", UploadId=upload, PartNumber=1, Body=b"part", **SSE_C
        )
    finally:
        assert s3.list_parts(Bucket=bucket, Key="target", UploadId=upload).get("Parts", []) == []
        s3.abort_multipart_upload(Bucket=bucket, Key="target", UploadId=upload)


def _upload_part_copy(s3: S3Client, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="target")["UploadId"]
    try:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="target",
            UploadId=upload,
            PartNumber=1,
            CopySource=f"{bucket}/plain",
            **COPY_SOURCE_SSE_C,
        )
    finally:
        assert s3.list_parts(Bucket=bucket, Key="target", UploadId=upload).get("Parts", []) == []
        s3.abort_multipart_upload(Bucket=bucket, Key="target", UploadId=upload)


REFUSED = [
    pytest.param(_put, id="PutObject"),
    pytest.param(_get, id="GetObject"),
    pytest.param(_copy_to_sse_c, id="CopyObject-to-SSE-C"),
    pytest.param(_copy_from_sse_c, id="CopyObject-from-SSE-C-source"),
    pytest.param(_create_upload, id="CreateMultipartUpload"),
    pytest.param(_upload_part, id="UploadPart"),
    pytest.param(_upload_part_copy, id="UploadPartCopy"),
]


@pytest.mark.parametrize("call", REFUSED)
def test_sse_c_over_plain_http_is_refused(
    s3_in_each_mode: S3Client,
    bucket_in_each_mode: str,
    call: Callable[[S3Client, str], None],
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="plain", Body=b"stored before")
    assert failure(lambda: call(s3, bucket)) == INSECURE
    assert_absent(s3, bucket, "target")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"stored before"


def test_head_with_sse_c_over_plain_http_is_refused(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """HEAD answers have no body: the status says it (GetObject above gets the document)."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    _, status, _ = failure(lambda: s3.head_object(Bucket=bucket, Key="plain", **SSE_C))
    assert status == 400
    with pytest.raises(ClientError) as absent:  # refused before the object is looked up
        s3.head_object(Bucket=bucket, Key="absent", **SSE_C)
    assert absent.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize(
    "header",
    [
        "x-amz-server-side-encryption-customer-algorithm",
        "x-amz-server-side-encryption-customer-key-MD5",
        "x-amz-copy-source-server-side-encryption-customer-key",
    ],
)
def test_refused_from_one_header_before_the_body_is_sent(
    gateway_in_each_mode: GatewayHandle,
    s3_in_each_mode: S3Client,
    bucket_in_each_mode: str,
    header: str,
) -> None:
    """Any one SSE-C header is enough, and the answer comes from the request head alone: a
    gateway that waited for the 5 MiB body would answer nothing."""
    endpoint = Endpoint.of(gateway_in_each_mode.endpoint, ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
    head = endpoint.signed_head(
        "PUT",
        f"/{bucket_in_each_mode}/unsent",
        {"Content-Length": str(5 * 1024 * 1024), header: "AES256"},
    )
    with endpoint.connect() as sock:
        sock.sendall(head)
        answer = read_answer(sock)
    message = ET.fromstring(answer.body).findtext("Message")
    assert (answer.code, answer.status, message) == INSECURE
    assert_absent(s3_in_each_mode, bucket_in_each_mode, "unsent")


def test_a_forwarded_proto_is_not_trusted_unless_told(
    gateway_in_each_mode: GatewayHandle, bucket_in_each_mode: str
) -> None:
    """Any client may send X-Forwarded-Proto: a gateway reached directly ignores it."""
    s3 = gateway_in_each_mode.client()
    add_header_after_signing(s3, "X-Forwarded-Proto", "https")
    assert failure(lambda: _put(s3, bucket_in_each_mode)) == INSECURE
    assert_absent(s3, bucket_in_each_mode, "target")


def test_post_form_with_sse_c_fields_over_plain_http_is_refused(
    gateway_in_each_mode: GatewayHandle, bucket_in_each_mode: str
) -> None:
    s3 = gateway_in_each_mode.client(signature_version="s3v4")
    conditions = [{name: value} for name, value in SSE_C_FIELDS.items()]
    url, form = presigned(
        s3, bucket_in_each_mode, "target", Fields=SSE_C_FIELDS, Conditions=conditions
    )
    reply = post(url, form, b"for your eyes only")
    assert (reply.code, reply.status, reply.message) == INSECURE, reply.body
    assert_absent(s3, bucket_in_each_mode, "target")


# --- HTTPS: SSE-C works ------------------------------------------------------------------------


@dataclass
class HttpsGateway:
    mode: str
    endpoint: str
    tls: TlsFiles
    data_roots: list[Path]

    def client(self, **config: Any) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ROOT_ACCESS_KEY,
            aws_secret_access_key=ROOT_SECRET_KEY,
            region_name="us-east-1",
            verify=str(self.tls.ca),
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, **config),
        )

    def stored_anywhere(self, needle: bytes) -> bool:
        return any(
            needle in path.read_bytes()
            for root in self.data_roots
            for path in root.rglob("*")
            if path.is_file()
        )


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module", params=["standalone", "cluster"])
def https_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles
) -> Iterator[HttpsGateway]:
    """The standalone gateway (GatewayConfig.tls_cert / tls_key), then a gateway process
    (``serve --tls-cert --tls-key``) over 3 storage nodes; no key store."""
    root: Path = tmp_path_factory.mktemp(f"https-{request.param}")
    if request.param == "standalone":
        config = GatewayConfig(
            data_dir=root / "data", port=0, fsync=False, tls_cert=tls.cert, tls_key=tls.key
        )
        handle = start_in_thread(config)
        try:
            assert handle.endpoint.startswith("https://127.0.0.1:")
            yield HttpsGateway("standalone", handle.endpoint, tls, [root / "data"])
        finally:
            stop_in_thread(handle)
        return
    cluster = StorageCluster(
        root / "cluster",
        nodes=3,
        replicas=3,
        access_key=ROOT_ACCESS_KEY,
        secret_key=ROOT_SECRET_KEY,
        tls=tls,
    )
    cluster.start()  # waits for /_nimbus/readyz over HTTPS
    try:
        nodes = [member.data for member in cluster.members]
        yield HttpsGateway("cluster", cluster.endpoint, tls, nodes)
    finally:
        cluster.stop()


@pytest.fixture
def https_bucket(https_gateway: HttpsGateway) -> Iterator[str]:
    s3 = https_gateway.client()
    name = f"tls-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete(s3, name)


def test_sse_c_works_over_https_without_a_key_store(
    https_gateway: HttpsGateway, https_bucket: str
) -> None:
    s3, bucket = https_gateway.client(), https_bucket
    marker = os.urandom(16).hex().encode()
    body = marker * 1000
    put = s3.put_object(Bucket=bucket, Key="secret", Body=body, **SSE_C)
    assert (put["SSECustomerAlgorithm"], put["SSECustomerKeyMD5"]) == ("AES256", key_md5())
    got = s3.get_object(Bucket=bucket, Key="secret", **SSE_C)
    assert got["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key="secret", **SSE_C)["ContentLength"] == len(body)
    assert not https_gateway.stored_anywhere(marker)  # encrypted at rest
    # The key is checked as over any connection.
    code, status, _ = failure(lambda: s3.get_object(Bucket=bucket, Key="secret"))
    assert (code, status) == ("InvalidRequest", 400)
    other: dict[str, Any] = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": OTHER_KEY}
    assert failure(lambda: s3.get_object(Bucket=bucket, Key="secret", **other))[:2] == (
        "AccessDenied",
        403,
    )
    # A copy opens its source with the copy-source key, and rotates the key.
    s3.copy_object(
        Bucket=bucket, Key="rotated", CopySource=f"{bucket}/secret", **COPY_SOURCE_SSE_C, **other
    )
    assert s3.get_object(Bucket=bucket, Key="rotated", **other)["Body"].read() == body


def test_sse_c_multipart_upload_over_https(https_gateway: HttpsGateway, https_bucket: str) -> None:
    s3, bucket = https_gateway.client(), https_bucket
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts", **SSE_C)["UploadId"]
    first, last = os.urandom(5 * 1024 * 1024), os.urandom(1000)
    etags = [
        s3.upload_part(
            Bucket=bucket, Key="parts", UploadId=upload, PartNumber=number, Body=data, **SSE_C
        )["ETag"]
        for number, data in ((1, first), (2, last))
    ]
    parts: list[CompletedPartTypeDef] = [
        {"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="parts", UploadId=upload, MultipartUpload={"Parts": parts}
    )
    got = s3.get_object(Bucket=bucket, Key="parts", Range="bytes=5242870-5242889", **SSE_C)
    assert got["Body"].read() == (first + last)[5242870:5242890]


def test_sse_c_headers_on_a_plain_object_over_https(
    https_gateway: HttpsGateway, https_bucket: str
) -> None:
    """Once the connection is secure, AWS's other answers come back: SSE-C headers on a read
    of an object not stored with SSE-C are 400 InvalidRequest "not applicable"."""
    s3, bucket = https_gateway.client(), https_bucket
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plaintext")
    assert failure(lambda: s3.get_object(Bucket=bucket, Key="plain", **SSE_C)) == (
        "InvalidRequest",
        400,
        "The encryption parameters are not applicable to this object.",
    )
    assert failure(lambda: s3.get_object(Bucket=bucket, Key="absent", **SSE_C))[0] == "NoSuchKey"


def test_post_form_with_sse_c_fields_over_https(
    https_gateway: HttpsGateway, https_bucket: str
) -> None:
    s3, bucket = https_gateway.client(signature_version="s3v4"), https_bucket
    conditions = [{name: value} for name, value in SSE_C_FIELDS.items()]
    url, form = presigned(s3, bucket, "secret", Fields=SSE_C_FIELDS, Conditions=conditions)
    assert url.startswith("https://")
    reply = post(url, form, b"for your eyes only", tls=https_gateway.tls.client_context())
    assert reply.status == 204, reply.body
    assert reply.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="secret", **SSE_C)
    assert got["Body"].read() == b"for your eyes only"
    assert failure(lambda: s3.get_object(Bucket=bucket, Key="secret"))[1] == 400


def test_the_listener_is_tls_only_with_the_given_certificate(https_gateway: HttpsGateway) -> None:
    """Metrics and health share the listener: HTTPS too. A client that does not trust the CA
    fails the handshake, and plain HTTP to the port gets no HTTP answer."""
    trusted = https_gateway.tls.client_context()
    for path in ("/_nimbus/healthz", "/_nimbus/metrics"):
        with urllib.request.urlopen(https_gateway.endpoint + path, context=trusted) as answer:
            assert answer.status == 200
    with pytest.raises(urllib.error.URLError) as untrusted:
        urllib.request.urlopen(https_gateway.endpoint + "/_nimbus/healthz", timeout=10)
    assert isinstance(untrusted.value.reason, ssl.SSLCertVerificationError)
    host, port = https_gateway.endpoint.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /_nimbus/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            received = sock.recv(1024)
        except ConnectionResetError:
            received = b""
    assert not received.startswith(b"HTTP/")  # no HTTP answer from a TLS port


def test_tls_files_that_do_not_load_stop_the_start(tls: TlsFiles, tmp_path: Path) -> None:
    """``serve`` names the problem and exits 2 before it listens."""
    for options in (
        ["--tls-cert", str(tls.cert)],
        ["--tls-cert", str(tls.cert), "--tls-key", str(tls.ca)],  # not the certificate's key
        ["--tls-cert", str(tmp_path / "absent.pem"), "--tls-key", str(tls.key)],
    ):
        done = subprocess.run(
            [*SERVE, "--data", str(tmp_path), "--port", "0", *options],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done
        assert "--tls-cert/--tls-key" in done.stderr, done.stderr


# --- behind a proxy that ends TLS: --trust-forwarded-proto ----------------------------------------


@pytest.fixture(scope="module")
def proxied_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``serve --trust-forwarded-proto``, plain HTTP."""
    data = tmp_path_factory.mktemp("proxied")
    process, url, _ = start_standalone(
        data, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, "--trust-forwarded-proto"
    )
    yield url
    process.terminate()
    assert process.wait(timeout=15) == 0


def _proxied_client(endpoint: str, proto: str | None) -> S3Client:
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ROOT_ACCESS_KEY,
        aws_secret_access_key=ROOT_SECRET_KEY,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )
    if proto is not None:
        add_header_after_signing(s3, "X-Forwarded-Proto", proto)
    return s3


def test_a_trusted_forwarded_https_allows_sse_c(proxied_endpoint: str) -> None:
    s3 = _proxied_client(proxied_endpoint, "https")
    bucket = f"proxied-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_object(Bucket=bucket, Key="secret", Body=b"behind the proxy", **SSE_C)
        got = s3.get_object(Bucket=bucket, Key="secret", **SSE_C)
        assert (got["Body"].read(), got["SSECustomerKeyMD5"]) == (b"behind the proxy", key_md5())
    finally:
        empty_and_delete(s3, bucket)


@pytest.mark.parametrize("proto", [None, "http", "https, http"])
def test_without_a_forwarded_https_sse_c_is_refused(proxied_endpoint: str, proto: str) -> None:
    """No header (a client reaching the gateway past the proxy), http, or an https the client
    sent ahead of a plain hop (the last value counts)."""
    s3 = _proxied_client(proxied_endpoint, proto)
    bucket = f"proxied-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    try:
        assert failure(lambda: _put(s3, bucket)) == INSECURE
        assert_absent(s3, bucket, "target")
    finally:
        empty_and_delete(s3, bucket)
