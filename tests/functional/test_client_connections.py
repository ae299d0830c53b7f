"""What a gateway does with clients that break HTTP or go quiet, over plain sockets.

* A request aiohttp cannot parse is answered with the S3 error document (before: aiohttp's
  text/plain 400, logged as an ERROR with a traceback).
* A connection that never finishes its request head is closed after ``client_header_timeout``
  (before: held for aiohttp's default of an hour, so such sockets piled up).
* A body that stalls is ``400 RequestTimeout`` after ``client_body_timeout``, nothing stored
  (before: the request waited for ever).
* None of these, nor a client vanishing mid-upload, is logged as an error.

Both modes: a standalone gateway in this process, and a gateway process (the ``serve`` command
line, with the timeouts as flags) over a 3-node storage cluster. The timeouts are short so the
tests are quick; every wait is a generous ceiling derived from them, never a measurement.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client
from nimbus_storage.gateway.config import GatewayConfig

from tests.functional.conftest import (
    ROOT_ACCESS_KEY,
    ROOT_SECRET_KEY,
    start_in_thread,
    stop_in_thread,
)
from tests.functional.raw_http import Endpoint, read_answer, wait_closed
from tests.support.storage_cluster import StorageCluster

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
# Ceilings for what the timeouts must bring about, on a machine as busy as it may be. A refused
# request's connection may also linger up to aiohttp's 10 s for the rest of its body.
CLOSED_WITHIN = max(HEADER_TIMEOUT, BODY_TIMEOUT) + 10.0 + 60.0
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


@dataclass
class Served:
    endpoint: Endpoint
    log_text: Callable[[], str]

    def client(self) -> S3Client:
        # Retries: an idle pooled connection may be closed (header timeout) as it is reused.
        return boto3.client(
            "s3",
            endpoint_url=f"http://{self.endpoint.host}:{self.endpoint.port}",
            aws_access_key_id=self.endpoint.access_key,
            aws_secret_access_key=self.endpoint.secret_key,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )

    def wait_for_log(self, text: str) -> None:
        deadline = time.monotonic() + CLOSED_WITHIN
        while text not in self.log_text():
            assert time.monotonic() < deadline, f"{text!r} never logged:\n{self.log_text()}"
            time.sleep(0.1)

    def assert_no_error_logged(self) -> None:
        logged = self.log_text()
        assert " ERROR " not in logged, logged
        assert "Traceback" not in logged, logged


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _standalone(root: Path) -> Iterator[Served]:
    capture = _Capture()
    gateway_log = logging.getLogger("nimbus.gateway")
    level = gateway_log.level
    gateway_log.setLevel(logging.INFO)
    logging.getLogger().addHandler(capture)
    config = GatewayConfig(
        data_dir=root,
        port=0,
        fsync=False,
        client_header_timeout=HEADER_TIMEOUT,
        client_body_timeout=BODY_TIMEOUT,
    )
    handle = start_in_thread(config)
    try:
        endpoint = Endpoint.of(handle.endpoint, ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
        yield Served(endpoint, lambda: "\n".join(capture.lines))
    finally:
        stop_in_thread(handle)
        logging.getLogger().removeHandler(capture)
        gateway_log.setLevel(level)


def _cluster(root: Path) -> Iterator[Served]:
    flags: tuple[str, ...] = ("--client-header-timeout", str(HEADER_TIMEOUT))
    flags += ("--client-body-timeout", str(BODY_TIMEOUT), "--log-level", "INFO")
    cluster = StorageCluster(root, gateway_args=flags)
    try:
        cluster.start()
        endpoint = Endpoint.of(cluster.endpoint, cluster.access_key, cluster.secret_key)
        log = root / "gateway.log"
        yield Served(endpoint, lambda: log.read_text(errors="replace"))
    finally:
        cluster.stop()


@pytest.fixture(scope="module", params=["standalone", "cluster"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A gateway with short client timeouts: in this process (standalone), or the ``serve``
    command over a storage cluster."""
    root = tmp_path_factory.mktemp(f"timeouts-{request.param}")
    if request.param == "standalone":
        yield from _standalone(root)
    else:
        yield from _cluster(root / "cluster")


@pytest.fixture
def bucket(served: Served) -> str:
    name = f"timeouts-{time.monotonic_ns()}"
    served.client().create_bucket(Bucket=name)
    return name


def assert_absent(served: Served, bucket: str, key: str) -> None:
    s3 = served.client()
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key=key)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# --- request heads never finished -------------------------------------------------------------

UNFINISHED_HEADS = [
    b"",  # connected, nothing sent
    b"GET /some-bucket/some-ke",  # half a request line
    b"PUT /some-bucket/key HTTP/1.1\r\nHost: gateway\r\nX-Amz-Meta-Half: abc",  # half a header
]


def test_connections_that_never_finish_a_request_head_are_closed(served: Served) -> None:
    sockets = [served.endpoint.connect() for _ in range(60)]
    try:
        for index, sock in enumerate(sockets):
            sock.sendall(UNFINISHED_HEADS[index % len(UNFINISHED_HEADS)])
        for sock in sockets:
            assert wait_closed(sock, within=CLOSED_WITHIN) == b""  # no answer: just closed
    finally:
        for sock in sockets:
            sock.close()
    assert served.client().list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    served.assert_no_error_logged()


# --- bodies that stall ------------------------------------------------------------------------

MIB = 1024 * 1024
STALLED_BODIES = {
    # Content-Length: 1 MiB, of which 1000 bytes come.
    "plain": ({"Content-Length": str(MIB)}, b"x" * 1000),
    # boto3's default since 1.36: aws-chunked with a trailing checksum; one chunk of 1 MiB
    # announced, 1000 bytes of it sent.
    "aws-chunked": (
        {
            "Content-Length": str(MIB + 100),
            "Content-Encoding": "aws-chunked",
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "x-amz-decoded-content-length": str(MIB),
            "x-amz-trailer": "x-amz-checksum-crc32",
        },
        f"{MIB:x}\r\n".encode() + b"x" * 1000,
    ),
}


@pytest.mark.parametrize("kind", list(STALLED_BODIES))
def test_a_stalled_body_is_request_timeout_and_nothing_is_stored(
    served: Served, bucket: str, kind: str
) -> None:
    headers, sent = STALLED_BODIES[kind]
    with served.endpoint.connect(timeout=CLOSED_WITHIN) as sock:
        sock.sendall(served.endpoint.signed_head("PUT", f"/{bucket}/stalled", headers) + sent)
        answer = read_answer(sock)
        assert (answer.status, answer.code) == (400, "RequestTimeout")
        assert b"not read from or written to within the timeout period" in answer.body
        wait_closed(sock, within=CLOSED_WITHIN)
    assert_absent(served, bucket, "stalled")
    served.assert_no_error_logged()


def test_a_client_vanishing_mid_upload_is_no_server_error(served: Served, bucket: str) -> None:
    with served.endpoint.connect() as sock:
        sock.sendall(
            served.endpoint.signed_head("PUT", f"/{bucket}/vanished", {"Content-Length": str(MIB)})
            + b"x" * 1000
        )
    served.wait_for_log("closed its connection mid-request")
    assert_absent(served, bucket, "vanished")
    served.assert_no_error_logged()


# --- requests that are not valid HTTP ---------------------------------------------------------

HOST = b"Host: gateway\r\n"
MALFORMED = {
    "request line too long": (
        b"GET /bucket/" + b"k" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n",
        "RequestHeaderSectionTooLarge",
    ),
    "header too long": (
        b"GET /bucket HTTP/1.1\r\n" + HOST + b"X-Amz-Meta-A: " + b"a" * 9000 + b"\r\n\r\n",
        "RequestHeaderSectionTooLarge",
    ),
    "too many headers": (
        b"GET /bucket HTTP/1.1\r\n"
        + HOST
        + b"".join(b"X-Amz-Meta-%d: a\r\n" % i for i in range(200))
        + b"\r\n",
        "RequestHeaderSectionTooLarge",
    ),
    "content-length not a number": (
        b"PUT /bucket/key HTTP/1.1\r\n" + HOST + b"Content-Length: ten\r\n\r\n",
        "BadRequest",
    ),
    "negative content-length": (
        b"PUT /bucket/key HTTP/1.1\r\n" + HOST + b"Content-Length: -1\r\n\r\n",
        "BadRequest",
    ),
    "two content-lengths": (
        b"PUT /bucket/key HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "BadRequest",
    ),
    "no host": (b"GET /bucket HTTP/1.1\r\n\r\n", "BadRequest"),
    "two hosts": (b"GET /bucket HTTP/1.1\r\n" + HOST + HOST + b"\r\n", "BadRequest"),
    "not a request line": (b"hello there\r\n\r\n", "BadRequest"),
    "bad method": (b"G@T /bucket HTTP/1.1\r\n" + HOST + b"\r\n", "BadRequest"),
    "unknown version": (b"GET /bucket HTTP/7.0\r\n" + HOST + b"\r\n", "BadRequest"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_requests_get_the_s3_error_document(served: Served, case: str) -> None:
    request, code = MALFORMED[case]
    with served.endpoint.connect(timeout=CLOSED_WITHIN) as sock:
        sock.sendall(request)
        answer = read_answer(sock)
        assert (answer.status, answer.code) == (400, code)
        assert answer.headers["x-amz-request-id"]
        wait_closed(sock, within=CLOSED_WITHIN)
    served.wait_for_log("refused a request it could not parse")
    served.assert_no_error_logged()
