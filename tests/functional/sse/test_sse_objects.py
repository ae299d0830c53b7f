"""PutObject, GetObject and HeadObject with SSE-C, SSE-S3 and SSE-KMS, on each gateway of
``conftest.py``: the data is encrypted where it is stored, clients see the plaintext's size,
ranges, conditions and overrides work, and bad keys and headers get AWS's errors."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.sse.support import (
    KEY,
    KINDS,
    OTHER_KEY,
    SEGMENT,
    WRITES,
    SseGateway,
    etag_is_plain_md5,
    expected_headers,
    failure,
    key_md5,
    marked_body,
    read_args,
    sse_c,
    sse_fields,
)

SIZE = 3 * SEGMENT + 1234  # four segments, the last one short


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_stored_encrypted_and_read_back(
    sse_gateway: SseGateway, sse_bucket: str, kind: str
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    marker, body = marked_body(SIZE)
    put = s3.put_object(Bucket=bucket, Key="object", Body=body, **WRITES[kind])
    expected = expected_headers(kind)
    assert sse_fields(put) == expected
    if kind == "sse-kms-key":  # AWS answers the encryption context on writes
        assert put["ResponseMetadata"]["HTTPHeaders"]["x-amz-server-side-encryption-context"]
    plain_md5 = hashlib.md5(body).hexdigest()
    assert (put["ETag"] == f'"{plain_md5}"') == etag_is_plain_md5(kind)

    got = s3.get_object(Bucket=bucket, Key="object", **read_args(kind))
    assert got["Body"].read() == body
    assert (got["ContentLength"], got["ETag"]) == (SIZE, put["ETag"])
    assert sse_fields(got) == expected
    head = s3.head_object(Bucket=bucket, Key="object", **read_args(kind))
    assert (head["ContentLength"], head["ETag"]) == (SIZE, put["ETag"])
    assert sse_fields(head) == expected
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(entry["Key"], entry["Size"], entry["ETag"]) for entry in listed] == [
        ("object", SIZE, put["ETag"])
    ]
    assert not sse_gateway.stored_anywhere(marker)


def test_unencrypted_objects_are_found_where_they_are_stored(
    sse_gateway: SseGateway, sse_bucket: str
) -> None:
    """The control of the test above: the same look finds a plaintext stored in clear."""
    marker, body = marked_body(SIZE)
    put = sse_gateway.s3.put_object(Bucket=sse_bucket, Key="clear", Body=body)
    assert sse_fields(put) == {}
    assert sse_gateway.stored_anywhere(marker)


RANGES = [
    ("bytes=0-0", 0, 0),
    ("bytes=10-20", 10, 20),
    (f"bytes={SEGMENT - 5}-{SEGMENT + 5}", SEGMENT - 5, SEGMENT + 5),  # straddles two segments
    (f"bytes={2 * SEGMENT}-{3 * SEGMENT - 1}", 2 * SEGMENT, 3 * SEGMENT - 1),  # one whole
    ("bytes=-10", SIZE - 10, SIZE - 1),
    (f"bytes=-{SEGMENT + 7}", SIZE - SEGMENT - 7, SIZE - 1),
    (f"bytes={SEGMENT + 1}-", SEGMENT + 1, SIZE - 1),
    (f"bytes=100-{10 * SIZE}", 100, SIZE - 1),
]


@pytest.mark.parametrize("kind", ["sse-c", "sse-s3", "sse-kms-key"])
def test_ranges_decrypt_the_plaintext_range(
    sse_gateway: SseGateway, sse_bucket: str, kind: str
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    _marker, body = marked_body(SIZE)
    s3.put_object(Bucket=bucket, Key="ranged", Body=body, **WRITES[kind])
    for header, start, end in RANGES:
        got = s3.get_object(Bucket=bucket, Key="ranged", Range=header, **read_args(kind))
        assert got["Body"].read() == body[start : end + 1], header
        assert got["ContentRange"] == f"bytes {start}-{end}/{SIZE}"
        assert got["ContentLength"] == end - start + 1
    code, status, _ = failure(
        lambda: s3.get_object(
            Bucket=bucket, Key="ranged", Range=f"bytes={SIZE}-", **read_args(kind)
        )
    )
    assert (code, status) == ("InvalidRange", 416)


@pytest.mark.parametrize("kind", ["sse-c", "sse-s3"])
def test_empty_and_one_segment_objects(sse_gateway: SseGateway, sse_bucket: str, kind: str) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    for size in (0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1):
        body = bytes(range(256)) * (size // 256 + 1)
        body = body[:size]
        s3.put_object(Bucket=bucket, Key=f"k{size}", Body=body, **WRITES[kind])
        got = s3.get_object(Bucket=bucket, Key=f"k{size}", **read_args(kind))
        assert (got["Body"].read(), got["ContentLength"]) == (body, size)
        head = s3.head_object(Bucket=bucket, Key=f"k{size}", **read_args(kind))
        assert head["ContentLength"] == size


def test_sse_c_reads_need_the_right_key(sse_gateway: SseGateway, sse_bucket: str) -> None:
    """No key: 400 InvalidRequest; another key: 403 AccessDenied, HEAD as GET (HEAD answers
    carry no error document, only the status)."""
    s3, bucket = sse_gateway.s3, sse_bucket
    s3.put_object(Bucket=bucket, Key="c", Body=b"customer data", **sse_c())
    code, status, message = failure(lambda: s3.get_object(Bucket=bucket, Key="c"))
    assert (code, status) == ("InvalidRequest", 400)
    assert "Server Side Encryption" in message
    code, status, _ = failure(lambda: s3.get_object(Bucket=bucket, Key="c", **sse_c(OTHER_KEY)))
    assert (code, status) == ("AccessDenied", 403)
    assert failure(lambda: s3.head_object(Bucket=bucket, Key="c"))[1] == 400
    assert failure(lambda: s3.head_object(Bucket=bucket, Key="c", **sse_c(OTHER_KEY)))[1] == 403
    assert s3.get_object(Bucket=bucket, Key="c", **sse_c())["Body"].read() == b"customer data"


def _bad_md5(key: bytes = KEY) -> dict[str, Any]:
    """SSE-C headers whose MD5 is not the key's (boto3 sends them as given)."""
    return {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(key).decode(),
        "SSECustomerKeyMD5": key_md5(OTHER_KEY),
    }


def _sse_c_headers(s3: S3Client, operation: str, headers: dict[str, str]) -> Any:
    """Register a hook setting raw SSE-C headers on ``operation``; returns it to unregister."""

    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    s3.meta.events.register(f"before-sign.s3.{operation}", add)
    return add


def test_bad_sse_c_headers_are_invalid_argument(sse_gateway: SseGateway, sse_bucket: str) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    s3.put_object(Bucket=bucket, Key="c", Body=b"customer data", **sse_c())
    code, status, message = failure(lambda: s3.get_object(Bucket=bucket, Key="c", **_bad_md5()))
    assert (code, status) == ("InvalidArgument", 400)
    assert "MD5" in message
    code, status, _ = failure(
        lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", **_bad_md5())
    )
    assert (code, status) == ("InvalidArgument", 400)
    short: dict[str, Any] = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(b"short").decode(),
        "SSECustomerKeyMD5": key_md5(b"short"),
    }
    assert failure(lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", **short))[:2] == (
        "InvalidArgument",
        400,
    )
    algorithm = {**sse_c(), "SSECustomerAlgorithm": "AES128"}
    assert failure(lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", **algorithm))[:2] == (
        "InvalidEncryptionAlgorithmError",
        400,
    )
    hook = _sse_c_headers(
        s3, "PutObject", {"x-amz-server-side-encryption-customer-algorithm": "AES256"}
    )
    try:  # an algorithm without a key
        code, status, _ = failure(lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x"))
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", hook)
    assert (code, status) == ("InvalidArgument", 400)
    assert failure(lambda: s3.head_object(Bucket=bucket, Key="new"))[:2] == ("404", 404)


def test_sse_c_on_objects_not_stored_with_it(sse_gateway: SseGateway, sse_bucket: str) -> None:
    """AWS: 400 InvalidRequest for SSE-C headers on a read of an object without SSE-C; the
    other SSE headers on a read are 400 InvalidArgument; a missing key is still 404."""
    s3, bucket = sse_gateway.s3, sse_bucket
    s3.put_object(Bucket=bucket, Key="clear", Body=b"plaintext")
    s3.put_object(Bucket=bucket, Key="s3", Body=b"plaintext", ServerSideEncryption="AES256")
    for key in ("clear", "s3"):
        code, status, message = failure(
            lambda key=key: s3.get_object(Bucket=bucket, Key=key, **sse_c())  # type: ignore[misc]
        )
        assert (code, status, message) == (
            "InvalidRequest",
            400,
            "The encryption parameters are not applicable to this object.",
        )
        assert (
            failure(
                lambda key=key: s3.head_object(Bucket=bucket, Key=key, **sse_c())  # type: ignore[misc]
            )[1]
            == 400
        )
    assert failure(lambda: s3.get_object(Bucket=bucket, Key="absent", **sse_c()))[0] == "NoSuchKey"
    hook = _sse_c_headers(s3, "GetObject", {"x-amz-server-side-encryption": "AES256"})
    try:
        code, status, _ = failure(lambda: s3.get_object(Bucket=bucket, Key="s3"))
    finally:
        s3.meta.events.unregister("before-sign.s3.GetObject", hook)
    assert (code, status) == ("InvalidArgument", 400)


@pytest.mark.parametrize(
    ("encryption", "code"),
    [
        pytest.param({**sse_c(), "ServerSideEncryption": "AES256"}, "InvalidArgument", id="c+s3"),
        pytest.param({"ServerSideEncryption": "aws:kms:dsse"}, "InvalidArgument", id="dsse"),
        pytest.param({"ServerSideEncryption": "AES512"}, "InvalidArgument", id="unknown"),
        pytest.param({"SSEKMSKeyId": "tenant-a"}, "InvalidArgument", id="key-without-kms"),
        pytest.param(
            {"ServerSideEncryption": "AES256", "SSEKMSKeyId": "tenant-a"},
            "InvalidArgument",
            id="key-with-s3",
        ),
        pytest.param(
            {"ServerSideEncryption": "aws:kms", "SSEKMSEncryptionContext": "not base64!"},
            "InvalidArgument",
            id="bad-context",
        ),
        pytest.param(
            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "no-such-key"},
            "KMS.NotFoundException",
            id="unknown-kms-key",
        ),
    ],
)
def test_bad_write_headers_store_nothing(
    sse_gateway: SseGateway, sse_bucket: str, encryption: dict[str, Any], code: str
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    got = failure(lambda: s3.put_object(Bucket=bucket, Key="refused", Body=b"x", **encryption))
    assert got[:2] == (code, 400)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


@pytest.mark.parametrize("kind", ["sse-c", "sse-kms"])
def test_conditions_overrides_and_part_numbers(
    sse_gateway: SseGateway, sse_bucket: str, kind: str
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    body = b"conditional" * 10_000
    etag = s3.put_object(Bucket=bucket, Key="o", Body=body, **WRITES[kind])["ETag"]
    args = read_args(kind)
    assert failure(lambda: s3.get_object(Bucket=bucket, Key="o", IfNoneMatch=etag, **args))[:2] == (
        "304",
        304,
    )
    assert failure(lambda: s3.get_object(Bucket=bucket, Key="o", IfMatch='"0"', **args))[:2] == (
        "PreconditionFailed",
        412,
    )
    got = s3.get_object(Bucket=bucket, Key="o", IfMatch=etag, **args)
    assert got["Body"].read() == body
    overridden = s3.get_object(
        Bucket=bucket,
        Key="o",
        ResponseContentType="text/x-override",
        ResponseContentDisposition="attachment",
        **args,
    )
    assert (overridden["ContentType"], overridden["ContentDisposition"]) == (
        "text/x-override",
        "attachment",
    )
    assert overridden["Body"].read() == body
    part = s3.get_object(Bucket=bucket, Key="o", PartNumber=1, **args)
    assert (part["Body"].read(), part["ContentLength"]) == (body, len(body))


def test_checksums_of_the_plaintext_are_kept(sse_gateway: SseGateway, sse_bucket: str) -> None:
    """A trailing checksum (boto3's aws-chunked trailer) is stored with the stream parameters
    in the blob's trailer, and is the plaintext's."""
    s3, bucket = sse_gateway.s3, sse_bucket
    body = b"checksummed" * 50_000
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    put = s3.put_object(
        Bucket=bucket, Key="sum", Body=body, ChecksumAlgorithm="SHA256", **WRITES["sse-s3"]
    )
    assert put["ChecksumSHA256"] == digest
    head = s3.head_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == digest
    got = s3.get_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert (got["Body"].read(), got["ChecksumSHA256"]) == (body, digest)
