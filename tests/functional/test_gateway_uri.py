"""Request paths that do not decode are a client error (400), never an internal error (500).

Sent over a plain socket: SDKs always percent-encode valid UTF-8, so they cannot produce these.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest

from tests.functional.conftest import GatewayHandle


def raw_request(gateway: GatewayHandle, path: bytes, method: bytes = b"GET") -> tuple[int, bytes]:
    """Send one HTTP/1.1 request with ``path`` exactly as given; the status and the body."""
    address = urlsplit(gateway.endpoint)
    assert address.hostname is not None
    assert address.port is not None
    host = f"{address.hostname}:{address.port}".encode()
    request = (
        method + b" " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n"
        b"x-amz-date: 20240101T000000Z\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


@pytest.mark.parametrize(
    "path",
    [
        b"/some-bucket/%FF%FE",  # never valid UTF-8
        b"/some-bucket/caf%C3",  # truncated sequence
        b"/some-bucket/dir/%C0%AF",  # overlong "/"
        b"/%FF/key",  # in the bucket part
        b"/some-bucket/%ED%A0%80?tagging",  # encoded surrogate, with a sub-resource
    ],
)
@pytest.mark.parametrize("method", [b"GET", b"HEAD", b"PUT"])
def test_percent_encoded_invalid_utf8_is_invalid_uri(
    gateway: GatewayHandle, path: bytes, method: bytes
) -> None:
    status, body = raw_request(gateway, path, method)
    assert status == 400
    if method != b"HEAD":
        error = ET.fromstring(body)
        assert error.findtext("Code") == "InvalidURI"
        assert error.findtext("Message") == "Couldn't parse the specified URI."


def test_raw_non_utf8_bytes_in_the_path_are_rejected(gateway: GatewayHandle) -> None:
    # aiohttp's HTTP parser refuses raw non-ASCII bytes in the request target before the
    # gateway sees them; what matters is a 400, not a crash.
    status, _ = raw_request(gateway, b"/some-bucket/\xff\xfe")
    assert status == 400


def test_valid_percent_encoded_utf8_still_reaches_the_bucket(gateway: GatewayHandle) -> None:
    status, body = raw_request(gateway, b"/no-such-bucket-uri-test/caf%C3%A9")
    assert status in (403, 404)  # anonymous: denied or no such bucket, but decoded fine
    assert ET.fromstring(body).findtext("Code") in ("AccessDenied", "NoSuchBucket")
