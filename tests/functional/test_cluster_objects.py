"""Objects through a gateway over a real cluster, replicated and erasure coded.

Checksums a client sends in an aws-chunked trailer (boto3's default) are kept as by a standalone
gateway: the gateway only knows them once the body is in, so they reach the storage nodes in the
PUT's meta footer (protocol/footer.py). Reads: a GET starts reading the blob as it opens it
(``BlobStore.open(read_from=...)``), so every kind of range and condition is checked here."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client

from tests.support.storage_cluster import StorageCluster


@pytest.fixture(scope="module", params=[None, "2+1"], ids=["replicated", "ec-2+1"])
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StorageCluster]:
    running = StorageCluster(
        tmp_path_factory.mktemp("checksums") / "cluster", nodes=3, replicas=3, ec=request.param
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def s3(cluster: StorageCluster) -> S3Client:
    client = boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        aws_access_key_id=cluster.access_key,
        aws_secret_access_key=cluster.secret_key,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    client.create_bucket(Bucket="sums")
    return client


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


@pytest.mark.parametrize("size", [0, 11, 3 * 1024 * 1024 + 5])
def test_a_trailing_crc32_is_kept_and_returned(s3: S3Client, size: int) -> None:
    body = os.urandom(size)
    expected = b64(zlib.crc32(body).to_bytes(4, "big"))
    put = s3.put_object(Bucket="sums", Key=f"crc-{size}", Body=body)
    assert put["ChecksumCRC32"] == expected
    got = s3.get_object(Bucket="sums", Key=f"crc-{size}", ChecksumMode="ENABLED")
    assert (got["Body"].read(), got["ChecksumCRC32"]) == (body, expected)
    head = s3.head_object(Bucket="sums", Key=f"crc-{size}", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == expected


def test_a_trailing_sha256_is_kept_and_returned(s3: S3Client) -> None:
    body = b"sha256 me" * 1000
    put = s3.put_object(Bucket="sums", Key="sha", Body=body, ChecksumAlgorithm="SHA256")
    assert put["ChecksumSHA256"] == b64(hashlib.sha256(body).digest())
    head = s3.head_object(Bucket="sums", Key="sha", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert "ChecksumCRC32" not in head


BODY = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and 4 bytes: two node chunks


@pytest.fixture(scope="module")
def stored(s3: S3Client) -> str:
    etag = s3.put_object(Bucket="sums", Key="ranged", Body=BODY, ContentType="app/x")["ETag"]
    s3.put_object(Bucket="sums", Key="empty", Body=b"")
    return etag


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-", 0, len(BODY) - 1),
        ("bytes=0-9", 0, 9),
        ("bytes=1048570-", 1048570, len(BODY) - 1),
        ("bytes=-5", len(BODY) - 5, len(BODY) - 1),
        ("bytes=100-99999999", 100, len(BODY) - 1),
    ],
)
def test_ranges(s3: S3Client, stored: str, header: str, start: int, end: int) -> None:
    got = s3.get_object(Bucket="sums", Key="ranged", Range=header)
    assert got["Body"].read() == BODY[start : end + 1]
    assert got["ContentRange"] == f"bytes {start}-{end}/{len(BODY)}"
    assert (got["ContentType"], got["ETag"]) == ("app/x", stored)


def test_whole_empty_and_unsatisfiable_reads(s3: S3Client, stored: str) -> None:
    whole = s3.get_object(Bucket="sums", Key="ranged")
    assert (whole["Body"].read(), whole["ContentLength"]) == (BODY, len(BODY))
    assert s3.get_object(Bucket="sums", Key="empty")["Body"].read() == b""
    with pytest.raises(ClientError) as past:
        s3.get_object(Bucket="sums", Key="ranged", Range=f"bytes={len(BODY)}-")
    assert past.value.response["Error"]["Code"] == "InvalidRange"
    for _ in range(3):  # reads that end early leave no stuck connection behind
        assert (
            s3.get_object(Bucket="sums", Key="ranged", Range="bytes=0-0")["Body"].read()
            == (BODY[:1])
        )


def test_conditional_reads(s3: S3Client, stored: str) -> None:
    with pytest.raises(ClientError) as cached:
        s3.get_object(Bucket="sums", Key="ranged", IfNoneMatch=stored)
    assert cached.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as changed:
        s3.get_object(Bucket="sums", Key="ranged", IfMatch='"0123"')
    assert changed.value.response["Error"]["Code"] == "PreconditionFailed"
    got = s3.get_object(Bucket="sums", Key="ranged", IfMatch=stored, Range="bytes=2-3")
    assert got["Body"].read() == BODY[2:4]
