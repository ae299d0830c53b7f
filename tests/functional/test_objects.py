"""Object reads and writes against a real gateway, with boto3."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import CopySourceTypeDef, DeleteTypeDef

from tests.functional.conftest import GatewayHandle, error_code


def test_put_get_head_roundtrip(s3: S3Client, bucket: str) -> None:
    body = b"hello nimbus\n" * 100
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/hello.txt",
        Body=body,
        ContentType="text/plain",
        ContentEncoding="identity",
        ContentDisposition='attachment; filename="hello.txt"',
        CacheControl="max-age=60",
        ContentLanguage="en",
        Metadata={"colour": "blue", "owner-team": "storage"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/hello.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentLength"] == len(body)
    assert got["ContentType"] == "text/plain"
    assert got["ContentDisposition"] == 'attachment; filename="hello.txt"'
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentLanguage"] == "en"
    assert got["Metadata"] == {"colour": "blue", "owner-team": "storage"}
    head = s3.head_object(Bucket=bucket, Key="dir/hello.txt")
    assert head["ContentLength"] == len(body)
    assert head["Metadata"]["colour"] == "blue"
    assert abs(head["LastModified"].timestamp() - time.time()) < 60


def test_overwrite_is_last_writer_wins(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"second"
    listed = s3.list_objects_v2(Bucket=bucket)
    assert listed["KeyCount"] == 1


def test_empty_object(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert got["ContentType"] == "binary/octet-stream"


@pytest.mark.parametrize(
    "key",
    [
        "a/../b",
        "../escape",
        "double//slash",
        "/leading-slash",
        "trailing/",
        "unicode/ключ/鍵/🔑",
        "spaces and +plus+ and %percent",
        "query?chars&x=1#hash",
        "k" * 1024,
    ],
)
def test_unusual_keys_roundtrip(s3: S3Client, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [key]
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_key_too_long(s3: S3Client, bucket: str) -> None:
    assert error_code(lambda: s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"")) == (
        "KeyTooLongError",
        400,
    )


def test_missing_key(s3: S3Client, bucket: str) -> None:
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="nope")) == ("NoSuchKey", 404)
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="nope")) == ("404", 404)


@pytest.mark.parametrize(
    ("range_header", "expected", "content_range"),
    [
        ("bytes=0-4", b"01234", "bytes 0-4/10"),
        ("bytes=5-", b"56789", "bytes 5-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
        ("bytes=-100", b"0123456789", "bytes 0-9/10"),
        ("bytes=3-3", b"3", "bytes 3-3/10"),
    ],
)
def test_ranges(
    s3: S3Client, bucket: str, range_header: str, expected: bytes, content_range: str
) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="digits", Range=range_header)
    assert got["Body"].read() == expected
    assert got["ContentRange"] == content_range
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206


def test_unsatisfiable_range(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="digits", Range="bytes=10-20")) == (
        "InvalidRange",
        416,
    )


def test_malformed_range_serves_whole_object(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="digits", Range="bytes=abc")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == b"0123456789"


def test_conditional_get(s3: S3Client, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"data")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"data"
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="c", IfMatch='"nope"')) == (
        "PreconditionFailed",
        412,
    )
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)) == (
        "304",
        304,
    )
    later = modified + timedelta(hours=1)
    earlier = modified - timedelta(hours=1)
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=later)) == (
        "304",
        304,
    )
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=earlier)["ContentLength"] == 4
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=earlier)) == (
        "PreconditionFailed",
        412,
    )
    # If-Match wins over If-Unmodified-Since (RFC 9110 order, as S3 documents).
    got = s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=earlier)
    assert got["ContentLength"] == 4


def test_not_modified_carries_etag_and_last_modified(s3: S3Client, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"cached")["ETag"]
    head = s3.head_object(Bucket=bucket, Key="k")
    for call in (s3.head_object, s3.get_object):
        try:
            call(Bucket=bucket, Key="k", IfNoneMatch=etag)
        except ClientError as error:
            meta = error.response["ResponseMetadata"]
        else:
            raise AssertionError("expected 304")
        assert meta["HTTPStatusCode"] == 304
        assert meta["HTTPHeaders"]["etag"] == etag
        assert (
            meta["HTTPHeaders"]["last-modified"]
            == head["ResponseMetadata"]["HTTPHeaders"]["last-modified"]
        )


def test_conditional_put_if_none_match(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="once", Body=b"1", IfNoneMatch="*")
    assert error_code(
        lambda: s3.put_object(Bucket=bucket, Key="once", Body=b"2", IfNoneMatch="*")
    ) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"1"


def test_content_md5(s3: S3Client, bucket: str) -> None:
    body = b"checked"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=body, ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    assert error_code(
        lambda: s3.put_object(Bucket=bucket, Key="md5-bad", Body=body, ContentMD5=bad)
    ) == ("BadDigest", 400)
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="md5-bad")) == ("404", 404)
    assert error_code(
        lambda: s3.put_object(Bucket=bucket, Key="md5-bad", Body=body, ContentMD5="!!")
    ) == ("InvalidDigest", 400)


# boto3 needs its optional CRT extra to compute CRC32C; test_crc32c_header sends it by hand.
@pytest.mark.parametrize("algorithm", ["CRC32", "SHA1", "SHA256"])
def test_checksum_algorithms(s3: S3Client, bucket: str, algorithm: str) -> None:
    body = b"checksummed body " * 1000
    put = s3.put_object(
        Bucket=bucket,
        Key=f"sum-{algorithm}",
        Body=body,
        ChecksumAlgorithm=algorithm,  # type: ignore[arg-type]
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key=f"sum-{algorithm}", ChecksumMode="ENABLED")
    assert got["Body"].read() == body


def test_copy_object(s3: S3Client, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="src", Body=b"copy me", ContentType="text/x-src", Metadata={"a": "1"}
    )
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"copy me"
    assert got["ContentType"] == "text/x-src"
    assert got["Metadata"] == {"a": "1"}
    s3.copy_object(
        Bucket=bucket,
        Key="dst2",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        ContentType="text/x-new",
        Metadata={"b": "2"},
    )
    replaced = s3.head_object(Bucket=bucket, Key="dst2")
    assert replaced["ContentType"] == "text/x-new"
    assert replaced["Metadata"] == {"b": "2"}


def test_copy_object_errors(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    source: CopySourceTypeDef = {"Bucket": bucket, "Key": "src"}
    assert error_code(lambda: s3.copy_object(Bucket=bucket, Key="src", CopySource=source)) == (
        "InvalidRequest",
        400,
    )
    assert error_code(
        lambda: s3.copy_object(
            Bucket=bucket, Key="dst", CopySource=source, CopySourceIfMatch='"nope"'
        )
    ) == ("PreconditionFailed", 412)
    assert error_code(
        lambda: s3.copy_object(
            Bucket=bucket,
            Key="dst",
            CopySource=source,
            CopySourceIfModifiedSince=datetime.now(UTC) + timedelta(hours=1),
        )
    ) == ("PreconditionFailed", 412)
    missing: CopySourceTypeDef = {"Bucket": bucket, "Key": "missing"}
    assert error_code(lambda: s3.copy_object(Bucket=bucket, Key="dst", CopySource=missing)) == (
        "NoSuchKey",
        404,
    )


def test_delete_objects_batch(s3: S3Client, bucket: str) -> None:
    for index in range(5):
        s3.put_object(Bucket=bucket, Key=f"batch/{index}", Body=b"x")
    result = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": key} for key in [*(f"batch/{i}" for i in range(5)), "never"]]},
    )
    assert sorted(d["Key"] for d in result["Deleted"]) == [
        "batch/0",
        "batch/1",
        "batch/2",
        "batch/3",
        "batch/4",
        "never",
    ]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x"}], "Quiet": True})
    assert "Deleted" not in quiet


def test_delete_objects_malformed(s3: S3Client, bucket: str) -> None:
    too_many: DeleteTypeDef = {"Objects": [{"Key": f"k{i}"} for i in range(1001)]}
    assert error_code(lambda: s3.delete_objects(Bucket=bucket, Delete=too_many)) == (
        "MalformedXML",
        400,
    )


def test_delete_missing_object_is_204(s3: S3Client, bucket: str) -> None:
    response = s3.delete_object(Bucket=bucket, Key="never-existed")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_metadata_too_large(s3: S3Client, bucket: str) -> None:
    assert error_code(
        lambda: s3.put_object(Bucket=bucket, Key="m", Body=b"", Metadata={"big": "v" * 2100})
    ) == ("MetadataTooLarge", 400)


def test_response_header_overrides(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="o",
        ResponseContentType="application/json",
        ResponseContentDisposition="inline",
    )
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == "inline"


def test_crc32c_header(gateway: GatewayHandle, bucket: str) -> None:
    import crc32c

    # Only our header: stop boto3 adding its own default CRC32.
    s3 = gateway.client(request_checksum_calculation="when_required")
    body = b"crc32c checked body"
    good = base64.b64encode(crc32c.crc32c(body).to_bytes(4, "big")).decode()

    def add_header(value: str) -> Callable[..., None]:
        def hook(request: Any, **_: Any) -> None:
            request.headers["x-amz-checksum-crc32c"] = value

        return hook

    event = "before-sign.s3.PutObject"
    handler = add_header(good)
    s3.meta.events.register(event, handler)
    try:
        s3.put_object(Bucket=bucket, Key="crc", Body=body)
    finally:
        s3.meta.events.unregister(event, handler)
    got = s3.get_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32C"] == good
    bad = add_header(base64.b64encode(b"\0\0\0\0").decode())
    s3.meta.events.register(event, bad)
    try:
        assert error_code(lambda: s3.put_object(Bucket=bucket, Key="crc-bad", Body=body)) == (
            "BadDigest",
            400,
        )
    finally:
        s3.meta.events.unregister(event, bad)


def test_storage_classes(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="std", Body=b"x", StorageClass="STANDARD")
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["StorageClass"] for o in listed] == ["STANDARD"]
    assert error_code(
        lambda: s3.put_object(Bucket=bucket, Key="cold", Body=b"x", StorageClass="GLACIER")
    ) == ("InvalidStorageClass", 400)
