"""CopyObject and UploadPartCopy from and to encrypted objects, on each gateway of
``conftest.py``. A source's data key is opened with its copy-source SSE-C key or the key
store; the destination gets the encryption its headers ask for (or its bucket's default, or
none: a source's encryption is not inherited). The ciphertext is copied as it is when it can
be, its data key re-wrapped (same ETag); else it is decrypted and sealed again."""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

import pytest
from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef

from tests.functional.sse.support import (
    KINDS,
    OTHER_KEY,
    SEGMENT,
    WRITES,
    SseGateway,
    copy_source_sse_c,
    etag_is_plain_md5,
    expected_headers,
    failure,
    marked_body,
    read_args,
    sse_c,
    sse_fields,
)

SIZE = 2 * SEGMENT + 99
KINDS_AND_CLEAR = [None, *KINDS]


def _copy_source_args(kind: str | None) -> dict[str, Any]:
    return copy_source_sse_c() if kind == "sse-c" else {}


def _writes(kind: str | None) -> dict[str, Any]:
    return {} if kind is None else WRITES[kind]


@pytest.mark.parametrize("source_kind", KINDS_AND_CLEAR, ids=str)
def test_copies_between_every_kind(
    sse_gateway: SseGateway, sse_bucket: str, source_kind: str | None
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    marker, body = marked_body(SIZE)
    source_etag = s3.put_object(Bucket=bucket, Key="source", Body=body, **_writes(source_kind))[
        "ETag"
    ]
    source: CopySourceTypeDef = {"Bucket": bucket, "Key": "source"}
    for kind in KINDS_AND_CLEAR:
        target = f"copy-{kind}"
        copied = s3.copy_object(
            Bucket=bucket,
            Key=target,
            CopySource=source,
            **_copy_source_args(source_kind),
            **_writes(kind),
        )
        assert sse_fields(copied) == expected_headers(kind), kind
        etag = copied["CopyObjectResult"]["ETag"]
        if etag_is_plain_md5(kind):
            assert etag == f'"{hashlib.md5(body).hexdigest()}"'
        if {kind, source_kind}.isdisjoint({None, "sse-s3"}):
            # SSE-C and SSE-KMS at both ends: the ciphertext is copied as it is (its data key
            # re-wrapped), so the ETag, the ciphertext's MD5, is the source's.
            assert etag == source_etag, kind
        elif kind is not None:
            assert etag != source_etag or etag_is_plain_md5(kind), kind
        got = s3.get_object(Bucket=bucket, Key=target, **read_args(kind))
        assert (got["Body"].read(), got["ContentLength"], got["ETag"]) == (body, SIZE, etag)
        assert sse_fields(got) == expected_headers(kind)
    for clear in ("copy-None", "source"):  # the plaintext ones (the source may be)
        s3.delete_object(Bucket=bucket, Key=clear)
    assert not sse_gateway.stored_anywhere(marker)


def test_a_copy_onto_itself_changes_the_encryption(
    sse_gateway: SseGateway, sse_bucket: str
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    marker, body = marked_body(SIZE)
    s3.put_object(Bucket=bucket, Key="o", Body=body, Metadata={"kept": "yes"})
    itself: CopySourceTypeDef = {"Bucket": bucket, "Key": "o"}
    code, status, _ = failure(lambda: s3.copy_object(Bucket=bucket, Key="o", CopySource=itself))
    assert (code, status) == ("InvalidRequest", 400)  # no change at all: refused as before

    s3.copy_object(Bucket=bucket, Key="o", CopySource=itself, ServerSideEncryption="AES256")
    head = s3.head_object(Bucket=bucket, Key="o")
    assert (head["ServerSideEncryption"], head["Metadata"]) == ("AES256", {"kept": "yes"})
    assert not sse_gateway.stored_anywhere(marker)

    # SSE-C key rotation: the old key opens the source, the new one seals the copy.
    s3.copy_object(Bucket=bucket, Key="o", CopySource=itself, **sse_c())
    s3.copy_object(
        Bucket=bucket, Key="o", CopySource=itself, **copy_source_sse_c(), **sse_c(OTHER_KEY)
    )
    assert failure(lambda: s3.get_object(Bucket=bucket, Key="o", **sse_c()))[:2] == (
        "AccessDenied",
        403,
    )
    assert s3.get_object(Bucket=bucket, Key="o", **sse_c(OTHER_KEY))["Body"].read() == body

    s3.copy_object(Bucket=bucket, Key="o", CopySource=itself, **copy_source_sse_c(OTHER_KEY),
                   MetadataDirective="REPLACE")  # fmt: skip
    plain = s3.get_object(Bucket=bucket, Key="o")
    assert (plain["Body"].read(), sse_fields(plain)) == (body, {})


def test_copy_source_keys_are_checked(sse_gateway: SseGateway, sse_bucket: str) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    s3.put_object(Bucket=bucket, Key="c", Body=b"customer data", **sse_c())
    s3.put_object(Bucket=bucket, Key="clear", Body=b"clear data")
    from_c: CopySourceTypeDef = {"Bucket": bucket, "Key": "c"}
    from_clear: CopySourceTypeDef = {"Bucket": bucket, "Key": "clear"}
    cases = [
        (from_c, {}, ("InvalidRequest", 400)),
        (from_c, copy_source_sse_c(OTHER_KEY), ("AccessDenied", 403)),
        (from_c, sse_c(), ("InvalidRequest", 400)),  # the destination's key is not the source's
        (from_clear, copy_source_sse_c(), ("InvalidRequest", 400)),
    ]
    for source, args, expected in cases:
        copy = partial(s3.copy_object, Bucket=bucket, Key="t", CopySource=source, **args)
        assert failure(copy)[:2] == expected
    assert failure(lambda: s3.head_object(Bucket=bucket, Key="t"))[1] == 404


def test_upload_part_copy_decrypts_and_seals_again(
    sse_gateway: SseGateway, sse_bucket: str
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    marker, body = marked_body(6 * 1024 * 1024 + 5)
    s3.put_object(Bucket=bucket, Key="src", Body=body, **sse_c())
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms")
    assert upload["ServerSideEncryption"] == "aws:kms"
    source: CopySourceTypeDef = {"Bucket": bucket, "Key": "src"}
    split = 5 * 1024 * 1024 + 17
    parts: list[CompletedPartTypeDef] = []
    for number, copy_range in ((1, f"bytes=0-{split - 1}"), (2, f"bytes={split}-{len(body) - 1}")):
        copied = s3.upload_part_copy(
            Bucket=bucket,
            Key="mp",
            UploadId=upload["UploadId"],
            PartNumber=number,
            CopySource=source,
            CopySourceRange=copy_range,
            **copy_source_sse_c(),
        )
        assert copied["ServerSideEncryption"] == "aws:kms"
        parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
    missing_key = failure(
        lambda: s3.upload_part_copy(
            Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=3, CopySource=source
        )
    )
    assert missing_key[:2] == ("InvalidRequest", 400)
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload["UploadId"])["Parts"]
    assert [part["Size"] for part in listed] == [split, len(body) - split]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert (got["Body"].read(), got["ServerSideEncryption"]) == (body, "aws:kms")
    assert not sse_gateway.stored_anywhere(marker)
