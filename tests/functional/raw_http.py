"""HTTP over a plain socket, for what SDKs never send: half a request head, a body that stops
mid-way, requests that are not valid HTTP."""

from __future__ import annotations

import socket
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    access_key: str
    secret_key: str

    @classmethod
    def of(cls, url: str, access_key: str, secret_key: str) -> Endpoint:
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        return cls(parts.hostname, parts.port, access_key, secret_key)

    def connect(self, timeout: float = 60.0) -> socket.socket:
        return socket.create_connection((self.host, self.port), timeout=timeout)

    def signed_head(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> bytes:
        """The head of a SigV4-signed request: UNSIGNED-PAYLOAD unless ``headers`` say, or
        signed with the SHA-256 of ``body`` when given (the caller sends the body)."""
        netloc = f"{self.host}:{self.port}"
        request = AWSRequest(
            method=method,
            url=f"http://{netloc}{path}",
            headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", **headers},
            data=body,
        )
        credentials = Credentials(self.access_key, self.secret_key)
        S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {netloc}"]
        lines += [f"{name}: {value}" for name, value in request.headers.items() if name != "Host"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    @property
    def code(self) -> str:
        """The S3 error code of the error document."""
        assert self.headers.get("content-type") == "application/xml", self.headers
        root = ET.fromstring(self.body)
        assert root.tag == "Error", self.body
        return root.findtext("Code") or ""


def read_answer(sock: socket.socket) -> Answer:
    """One answer (with a Content-Length body) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed mid-answer"
        body += chunk
    return Answer(int(status_line.split(" ", 2)[1]), headers, body[:length])


def wait_closed(sock: socket.socket, within: float) -> bytes:
    """Read ``sock`` until the server closes it; what it sent meanwhile. Fails if the server
    has not closed it ``within`` seconds (a ceiling for a busy machine, not a measurement)."""
    received = b""
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            break
        if not chunk:
            return received
        received += chunk
    raise AssertionError(f"still open after {within} s; received {received!r}")
