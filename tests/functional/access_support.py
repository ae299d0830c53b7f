"""Helpers of the access-control tests (Block Public Access, Object Ownership, object
attributes): a plain user of the gateway under test, and signed requests boto3 would not send."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import ROOT_ACCESS_KEY, ROOT_SECRET_KEY, GatewayHandle


@contextmanager
def plain_user(gateway: GatewayHandle) -> Iterator[tuple[str, S3Client]]:
    """A user credential (no admin, no grants) and a client signing as it; deleted after."""
    key = f"USR{uuid.uuid4().hex[:10].upper()}"
    secret = uuid.uuid4().hex
    gateway.call(gateway.gateway.services.catalog.create_credential(key, secret))
    try:
        yield key, gateway.client(access_key=key, secret_key=secret)
    finally:
        gateway.call(gateway.gateway.services.catalog.delete_credential(key))


def signed(
    gateway: GatewayHandle,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """A request boto3 would not send (a malformed document, a missing header), signed as root:
    its status, headers (names in lower case) and body."""
    url = f"{gateway.endpoint}/{path}"
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    S3SigV4Auth(Credentials(ROOT_ACCESS_KEY, ROOT_SECRET_KEY), "s3", "us-east-1").add_auth(request)
    http = urllib.request.Request(
        url, data=body or None, method=method, headers=dict(request.headers.items())
    )
    try:
        with urllib.request.urlopen(http) as response:
            status, raw_headers, content = (
                response.status,
                list(response.headers.items()),
                response.read(),
            )
    except urllib.error.HTTPError as error:
        status, raw_headers, content = error.code, list(error.headers.items()), error.read()
    return status, {name.lower(): value for name, value in raw_headers}, content


def code_of(body: bytes) -> str:
    """The code of an S3 error document."""
    return ET.fromstring(body).findtext("Code") or ""
