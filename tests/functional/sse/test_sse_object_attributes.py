"""GetObjectAttributes of encrypted objects, as AWS answers it: an SSE-C object's attributes
need its key (none: 400 InvalidRequest, another: 403 AccessDenied), the other kinds need none,
and the size is the plaintext's."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from mypy_boto3_s3.literals import ObjectAttributesType

from tests.functional.sse.support import (
    KEY,
    KINDS,
    OTHER_KEY,
    WRITES,
    SseGateway,
    failure,
    key_md5,
    sse_c,
)

ATTRIBUTES: list[ObjectAttributesType] = ["ETag", "ObjectSize"]


def customer_key(key: bytes = KEY) -> dict[str, Any]:
    """The SSE-C parameters, encoded: botocore encodes them for GetObject, not here."""
    return {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(key).decode(),
        "SSECustomerKeyMD5": key_md5(key),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_attributes_of_each_kind(sse_gateway: SseGateway, sse_bucket: str, kind: str) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    put = s3.put_object(Bucket=bucket, Key="object", Body=b"x" * 1000, **WRITES[kind])
    key = customer_key() if kind == "sse-c" else {}
    got = s3.get_object_attributes(Bucket=bucket, Key="object", ObjectAttributes=ATTRIBUTES, **key)
    assert (got["ETag"], got["ObjectSize"]) == (put["ETag"].strip('"'), 1000)


def test_an_sse_c_object_needs_its_key(sse_gateway: SseGateway, sse_bucket: str) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    s3.put_object(Bucket=bucket, Key="secret", Body=b"x", **sse_c())
    code, status, _ = failure(
        lambda: s3.get_object_attributes(Bucket=bucket, Key="secret", ObjectAttributes=ATTRIBUTES)
    )
    assert (code, status) == ("InvalidRequest", 400)
    code, status, _ = failure(
        lambda: s3.get_object_attributes(
            Bucket=bucket, Key="secret", ObjectAttributes=ATTRIBUTES, **customer_key(OTHER_KEY)
        )
    )
    assert (code, status) == ("AccessDenied", 403)


def test_an_sse_c_key_on_a_plain_object_is_refused(
    sse_gateway: SseGateway, sse_bucket: str
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    code, status, _ = failure(
        lambda: s3.get_object_attributes(
            Bucket=bucket, Key="plain", ObjectAttributes=ATTRIBUTES, **customer_key()
        )
    )
    assert (code, status) == ("InvalidRequest", 400)
