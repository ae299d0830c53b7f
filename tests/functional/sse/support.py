"""What the server-side encryption tests share: the kinds of encryption a write asks for, the
arguments a read of each needs, the answers AWS gives, and a look at what is stored."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import GatewayHandle

KEY = bytes(range(32))
OTHER_KEY = bytes(range(100, 132))
DEFAULT_KEY_ID = "sse-s3"  # what `keystore generate` names the default key
TENANT_KEY_ID = "tenant-a"
CONTEXT = {"tenant": "a", "purpose": "tests"}
CONTEXT_B64 = base64.b64encode(json.dumps(CONTEXT).encode()).decode()
SEGMENT = 64 * 1024  # the segment size objects are sealed in (sse/segments.py)


def sse_c(key: bytes = KEY) -> dict[str, Any]:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def copy_source_sse_c(key: bytes = KEY) -> dict[str, Any]:
    return {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key}


def key_md5(key: bytes = KEY) -> str:
    return base64.b64encode(hashlib.md5(key).digest()).decode()


# The encryption a write asks for, by name.
WRITES: dict[str, dict[str, Any]] = {
    "sse-c": sse_c(),
    "sse-s3": {"ServerSideEncryption": "AES256"},
    "sse-kms": {"ServerSideEncryption": "aws:kms"},
    "sse-kms-key": {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": f"alias/{TENANT_KEY_ID}",
        "SSEKMSEncryptionContext": CONTEXT_B64,
    },
}
KINDS = list(WRITES)


def read_args(kind: str | None) -> dict[str, Any]:
    """What a GET or HEAD of an object written as ``kind`` must send."""
    return sse_c() if kind == "sse-c" else {}


def expected_headers(kind: str | None) -> dict[str, Any]:
    """The SSE fields boto3 reads from a GET or HEAD of an object written as ``kind``."""
    if kind is None:
        return {}
    if kind == "sse-c":
        return {"SSECustomerAlgorithm": "AES256", "SSECustomerKeyMD5": key_md5()}
    if kind == "sse-s3":
        return {"ServerSideEncryption": "AES256"}
    key_id = TENANT_KEY_ID if kind == "sse-kms-key" else DEFAULT_KEY_ID
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}


SSE_FIELDS = (
    "ServerSideEncryption",
    "SSEKMSKeyId",
    "SSECustomerAlgorithm",
    "SSECustomerKeyMD5",
    "BucketKeyEnabled",
)


def sse_fields(response: Any) -> dict[str, Any]:
    return {name: response[name] for name in SSE_FIELDS if name in response}


def etag_is_plain_md5(kind: str | None) -> bool:
    """docs/encryption.md: unencrypted and SSE-S3 objects have the MD5 of their plaintext."""
    return kind in (None, "sse-s3")


def failure(call: Callable[[], Any]) -> tuple[str, int, str]:
    """The AWS error code, HTTP status and message a call fails with."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    error = response.get("Error", {})
    return (
        error.get("Code", ""),
        response["ResponseMetadata"]["HTTPStatusCode"],
        error.get("Message", ""),
    )


def marked_body(size: int) -> tuple[bytes, bytes]:
    """A random marker, and ``size`` bytes repeating it: whatever slice of the body a blob or
    a fragment archive holds, a stored plaintext shows the marker whole."""
    marker = os.urandom(32).hex().encode()
    return marker, (marker * (size // len(marker) + 1))[:size]


@dataclass
class SseGateway:
    """A gateway with a key store, in one of the modes, and where its data ends up."""

    mode: str
    s3: S3Client
    data_roots: list[Path]
    key_store: Path
    handle: GatewayHandle | None = None  # the standalone gateway runs in this process

    def stored_files(self) -> Iterator[Path]:
        for root in self.data_roots:
            for path in root.rglob("*"):
                if path.is_file():
                    yield path

    def stored_anywhere(self, needle: bytes) -> bool:
        """Whether any file the gateway (or its storage nodes) stored holds ``needle``."""
        return any(needle in path.read_bytes() for path in self.stored_files())
