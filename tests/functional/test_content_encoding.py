"""A body sent with Content-Encoding is stored as sent, as S3 does, in both modes."""

from __future__ import annotations

import gzip

import requests
from mypy_boto3_s3 import S3Client


def test_a_gzip_encoded_body_is_stored_and_served_as_sent(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    raw = b"region,total\n" + b"eu,42\n" * 1000
    encoded = gzip.compress(raw)

    s3_in_each_mode.put_object(
        Bucket=bucket_in_each_mode, Key="data.csv", Body=encoded, ContentEncoding="gzip"
    )
    got = s3_in_each_mode.get_object(Bucket=bucket_in_each_mode, Key="data.csv")

    assert got["ContentEncoding"] == "gzip"
    assert got["ContentLength"] == len(encoded)
    assert got["Body"].read() == encoded


def test_a_presigned_gzip_upload_keeps_its_bytes(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    encoded = gzip.compress(b"hello " * 500)
    url = s3_in_each_mode.generate_presigned_url(
        "put_object", Params={"Bucket": bucket_in_each_mode, "Key": "hello.gz"}
    )

    answer = requests.put(url, data=encoded, headers={"Content-Encoding": "gzip"}, timeout=30)

    assert answer.status_code == 200, answer.text
    body = s3_in_each_mode.get_object(Bucket=bucket_in_each_mode, Key="hello.gz")["Body"].read()
    assert body == encoded


def test_aws_chunked_is_not_kept_as_the_objects_encoding(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """``aws-chunked`` frames the request's body (SDKs add it for a trailing checksum); S3 keeps
    the other codings only."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    encoded = gzip.compress(b"framed " * 200)
    for key, sent, kept in (
        ("both", "gzip, aws-chunked", "gzip"),
        ("first", "aws-chunked,gzip", "gzip"),
        ("alone", "aws-chunked", None),
    ):
        url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key})
        answer = requests.put(url, data=encoded, headers={"Content-Encoding": sent}, timeout=30)
        assert answer.status_code == 200, answer.text
        got = s3.head_object(Bucket=bucket, Key=key)
        assert got.get("ContentEncoding") == kept, key
