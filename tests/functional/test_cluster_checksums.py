"""Checksums a client sends in an aws-chunked trailer (boto3's default) are kept by a cluster,
replicated or erasure coded, as by a standalone gateway: the gateway only knows them once the
body is in, so they reach the storage nodes in the PUT's meta footer (store/meta_footer.py)."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from mypy_boto3_s3 import S3Client

from e2e.storage_cluster import StorageCluster


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
