"""Multipart uploads with SSE-C, SSE-S3 and SSE-KMS, on each gateway of ``conftest.py``.

CreateMultipartUpload fixes the encryption and draws the upload's one data key; each part is a
stream of its own sealed under it (an SSE-C part must bring the upload's key);
CompleteMultipartUpload names the parts; a read, ranged or by part number, opens each part it
crosses."""

from __future__ import annotations

import base64
import hashlib
import io
from functools import partial
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import CompletedPartTypeDef

from tests.functional.sse.support import (
    KEY,
    OTHER_KEY,
    WRITES,
    SseGateway,
    expected_headers,
    failure,
    marked_body,
    read_args,
    sse_c,
    sse_fields,
)

MIB = 1024 * 1024
FIRST = 5 * MIB + 3  # parts but the last are at least 5 MiB
SECOND = 700_001


def _part_args(kind: str) -> dict[str, Any]:
    return sse_c() if kind == "sse-c" else {}


def _upload(s3: S3Client, bucket: str, kind: str, body: bytes) -> tuple[str, list[str]]:
    created = s3.create_multipart_upload(Bucket=bucket, Key="mp", **WRITES[kind])
    assert sse_fields(created) == expected_headers(kind)
    upload_id = created["UploadId"]
    etags = []
    for number, chunk in ((1, body[:FIRST]), (2, body[FIRST:])):
        part = s3.upload_part(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            PartNumber=number,
            Body=chunk,
            **_part_args(kind),
        )
        assert sse_fields(part) == expected_headers(kind)
        if kind == "sse-s3":
            assert part["ETag"] == f'"{hashlib.md5(chunk).hexdigest()}"'
        else:
            assert part["ETag"] != f'"{hashlib.md5(chunk).hexdigest()}"'
        etags.append(part["ETag"])
    return upload_id, etags


@pytest.mark.parametrize("kind", ["sse-c", "sse-s3", "sse-kms-key"])
def test_multipart_upload_of_each_kind(sse_gateway: SseGateway, sse_bucket: str, kind: str) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    marker, body = marked_body(FIRST + SECOND)
    upload_id, etags = _upload(s3, bucket, kind, body)
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]
    assert [(p["Size"], p["ETag"]) for p in listed] == list(
        zip((FIRST, SECOND), etags, strict=True)
    )
    parts: list[CompletedPartTypeDef] = [
        {"PartNumber": number, "ETag": etag} for number, etag in enumerate(etags, start=1)
    ]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    digest = hashlib.md5(b"".join(bytes.fromhex(etag.strip('"')) for etag in etags))
    assert done["ETag"] == f'"{digest.hexdigest()}-2"'
    if kind != "sse-c":
        assert sse_fields(done) == expected_headers(kind)

    args = read_args(kind)
    got = s3.get_object(Bucket=bucket, Key="mp", **args)
    assert (got["Body"].read(), got["ContentLength"], got["ETag"]) == (
        body,
        len(body),
        done["ETag"],
    )
    assert sse_fields(got) == expected_headers(kind)
    head = s3.head_object(Bucket=bucket, Key="mp", **args)
    assert (head["ContentLength"], head["PartsCount"]) == (len(body), 2)
    for start, end in ((FIRST - 100, FIRST + 100), (10, 20), (FIRST + 5, FIRST + 70_000)):
        ranged = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={start}-{end}", **args)
        assert ranged["Body"].read() == body[start : end + 1]
        assert ranged["ContentRange"] == f"bytes {start}-{end}/{len(body)}"
    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2, **args)
    assert (second["Body"].read(), second["ContentLength"]) == (body[FIRST:], SECOND)
    assert s3.list_objects_v2(Bucket=bucket)["Contents"][0]["Size"] == len(body)
    if kind == "sse-c":
        assert failure(lambda: s3.get_object(Bucket=bucket, Key="mp"))[:2] == (
            "InvalidRequest",
            400,
        )
    assert not sse_gateway.stored_anywhere(marker)


def test_sse_c_parts_must_bring_the_uploads_key(sse_gateway: SseGateway, sse_bucket: str) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp", **sse_c())["UploadId"]

    def part(**args: Any) -> Any:
        return s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"part", **args
        )

    assert failure(part)[:2] == ("InvalidRequest", 400)
    assert failure(lambda: part(**sse_c(OTHER_KEY)))[:2] == ("AccessDenied", 403)
    bad_md5 = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(KEY).decode(),
        "SSECustomerKeyMD5": "AAAAAAAAAAAAAAAAAAAAAA==",
    }
    assert failure(lambda: part(**bad_md5))[:2] == ("InvalidArgument", 400)
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id).get("Parts", []) == []
    etag = part(**sse_c())["ETag"]
    parts: list[CompletedPartTypeDef] = [{"PartNumber": 1, "ETag": etag}]
    wrong = failure(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            **sse_c(OTHER_KEY),
        )
    )
    assert wrong[:2] == ("AccessDenied", 403)
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": parts}, **sse_c()
    )
    assert s3.get_object(Bucket=bucket, Key="mp", **sse_c())["Body"].read() == b"part"


def test_parts_of_other_uploads_take_no_sse_c_key(sse_gateway: SseGateway, sse_bucket: str) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    creates: list[dict[str, Any]] = [{"ServerSideEncryption": "AES256"}, {}]
    for create in creates:
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp", **create)["UploadId"]
        part = partial(
            s3.upload_part, Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"p"
        )
        refused = failure(partial(part, **sse_c()))
        assert refused[:2] == ("InvalidRequest", 400)
        s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)


def test_bad_encryption_at_creation_creates_no_upload(
    sse_gateway: SseGateway, sse_bucket: str
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    refusals: list[tuple[dict[str, Any], str]] = [
        ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "missing"}, "KMS.NotFoundException"),
        ({"ServerSideEncryption": "DES"}, "InvalidArgument"),
    ]
    for encryption, code in refusals:
        got = failure(partial(s3.create_multipart_upload, Bucket=bucket, Key="mp", **encryption))
        assert got[:2] == (code, 400)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("kind", ["sse-c", "sse-kms-key"])
def test_boto3_managed_transfers(sse_gateway: SseGateway, sse_bucket: str, kind: str) -> None:
    """boto3's upload_fileobj / download_fileobj (s3transfer): a multipart upload whose parts
    and completion carry what s3transfer sends, then ranged GETs in parallel."""
    s3, bucket = sse_gateway.s3, sse_bucket
    marker, body = marked_body(11 * MIB + 5)
    transfer = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_fileobj(io.BytesIO(body), bucket, "managed", ExtraArgs=WRITES[kind], Config=transfer)
    head = s3.head_object(Bucket=bucket, Key="managed", **read_args(kind))
    assert (head["ContentLength"], head["PartsCount"]) == (len(body), 3)
    assert sse_fields(head) == expected_headers(kind)
    sink = io.BytesIO()
    s3.download_fileobj(bucket, "managed", sink, ExtraArgs=read_args(kind), Config=transfer)
    assert sink.getvalue() == body
    assert not sse_gateway.stored_anywhere(marker)
