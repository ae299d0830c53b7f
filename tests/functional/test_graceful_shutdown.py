"""SIGTERM to ``nimbus-storage serve`` (a pod being stopped): the listening socket closes at
once, a request already in flight still finishes and is stored, and the process exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
from mypy_boto3_s3 import S3Client
from prometheus_client.parser import text_string_to_metric_families

from tests.functional.raw_http import Endpoint, read_answer
from tests.functional.standalone_server import start_standalone

ACCESS_KEY = "GRACEFULKEY"
SECRET_KEY = "graceful-secret-key"
BODY = os.urandom(256 * 1024)
WAIT_SECONDS = 60.0
"""A ceiling for a busy machine, never a measurement."""


def start(data: Path) -> tuple[subprocess.Popen[str], str]:
    process, url, _ = start_standalone(data, ACCESS_KEY, SECRET_KEY)
    return process, url


def client(url: str) -> S3Client:
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )


def in_flight(url: str) -> float:
    with urllib.request.urlopen(f"{url}/_nimbus/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "nimbus_s3_requests_in_flight"
    )


def poll(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def refuses_connections(endpoint: Endpoint) -> bool:
    try:
        endpoint.connect(timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_put_in_flight_at_sigterm_completes_and_is_stored(tmp_path: Path) -> None:
    process, url = start(tmp_path)
    try:
        client(url).create_bucket(Bucket="slow")
        endpoint = Endpoint.of(url, ACCESS_KEY, SECRET_KEY)
        sock = endpoint.connect()
        head = endpoint.signed_head("PUT", "/slow/key", {"Content-Length": str(len(BODY))}, BODY)
        sock.sendall(head + BODY[: len(BODY) // 2])
        poll(lambda: in_flight(url) >= 1, "the PUT to be in flight")

        process.send_signal(signal.SIGTERM)
        poll(lambda: refuses_connections(endpoint), "the gateway to stop accepting")
        sock.sendall(BODY[len(BODY) // 2 :])
        answer = read_answer(sock)
        sock.close()

        assert answer.status == 200, answer.body
        assert process.wait(timeout=WAIT_SECONDS) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    process, url = start(tmp_path)
    try:
        stored = client(url).get_object(Bucket="slow", Key="key")["Body"].read()
        assert stored == BODY
    finally:
        process.terminate()
        process.wait(timeout=WAIT_SECONDS)


def test_a_stopped_gateway_frees_its_port(tmp_path: Path) -> None:
    process, url = start(tmp_path)
    port = int(url.rsplit(":", 1)[1])
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=WAIT_SECONDS) == 0

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
