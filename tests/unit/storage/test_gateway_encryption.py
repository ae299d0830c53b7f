"""SSE headers on operations that encrypt nothing: refused (501 on writes and other
operations, 400 as AWS answers on reads of one object); the object operations that do
encryption (``SSE_OPERATIONS``) take their headers in their handlers (gateway/sse_*.py)."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict
from nimbus_storage.gateway.encryption import (
    SSE_OPERATIONS,
    refuse_encryption,
    requested_encryption,
)
from nimbus_storage.s3errors import InvalidArgument, InvalidRequest, NotImplementedError_

SSE_HEADERS = [
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key",
    "X-Amz-Server-Side-Encryption-Customer-Key-MD5",
    "x-amz-copy-source-server-side-encryption-customer-algorithm",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key-MD5",
]
ENCRYPTING = [
    "PutObject",
    "CopyObject",
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "GetObject",
    "HeadObject",
]
OTHERS = ["PutObjectTagging", "DeleteObject", "PutBucketVersioning", "AbortMultipartUpload"]


def test_requests_without_sse_headers_pass() -> None:
    headers = CIMultiDict({"x-amz-copy-source": "/b/k", "x-amz-meta-encryption": "none"})
    assert requested_encryption(headers) is None
    for operation in [*ENCRYPTING, *OTHERS]:
        refuse_encryption(operation, headers)
        refuse_encryption(operation, headers, read=True)


@pytest.mark.parametrize("header", SSE_HEADERS)
def test_the_encrypting_operations_take_their_headers(header: str) -> None:
    assert set(ENCRYPTING) == SSE_OPERATIONS
    for operation in ENCRYPTING:
        refuse_encryption(operation, CIMultiDict({header: "v"}))


@pytest.mark.parametrize("header", SSE_HEADERS)
@pytest.mark.parametrize("operation", OTHERS)
def test_other_operations_are_not_implemented_naming_the_header(
    operation: str, header: str
) -> None:
    with pytest.raises(NotImplementedError_) as caught:
        refuse_encryption(operation, CIMultiDict({header: "v"}))
    assert (caught.value.status, caught.value.code) == (501, "NotImplemented")
    assert caught.value.extra["Header"] == header.lower()
    assert header.lower() in caught.value.message


@pytest.mark.parametrize("header", [h for h in SSE_HEADERS if "-customer-" in h.lower()])
def test_other_reads_with_customer_keys_are_invalid_request(header: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        refuse_encryption("GetObjectAttributes", CIMultiDict({header: "v"}), read=True)
    assert caught.value.message == "The encryption parameters are not applicable to this object."


@pytest.mark.parametrize("header", [h for h in SSE_HEADERS if "-customer-" not in h.lower()])
def test_other_reads_with_other_sse_headers_are_invalid_argument(header: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        refuse_encryption("GetObjectAttributes", CIMultiDict({header: "AES256"}), read=True)
    assert caught.value.extra == {"ArgumentName": header, "ArgumentValue": "AES256"}
