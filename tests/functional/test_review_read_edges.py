"""Read-path answers AWS clients rely on: what a 304 carries, listings of uploads."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client


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


def test_list_multipart_uploads_encoding_type_url(s3: S3Client, bucket: str) -> None:
    key = "dir/a b&c+\u00e9|z"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    try:
        listed = s3.list_multipart_uploads(
            Bucket=bucket, EncodingType="url", Prefix="dir/a b", Delimiter="|", MaxUploads=1
        )
        assert listed["EncodingType"] == "url"
        assert listed["Prefix"] == "dir/a+b"
        assert listed["Delimiter"] == "%7C"
        assert listed["CommonPrefixes"] == [{"Prefix": "dir/a+b%26c%2B%C3%A9%7C"}]
        listed = s3.list_multipart_uploads(
            Bucket=bucket, EncodingType="url", MaxUploads=1, KeyMarker="dir/a"
        )
        assert listed["KeyMarker"] == "dir/a"
        assert [u["Key"] for u in listed["Uploads"]] == ["dir/a+b%26c%2B%C3%A9%7Cz"]
        plain = s3.list_multipart_uploads(Bucket=bucket)
        assert "EncodingType" not in plain
        assert [u["Key"] for u in plain["Uploads"]] == [key]
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def test_copy_restores_an_older_version_onto_its_own_key(s3: S3Client, bucket: str) -> None:
    """AWS's documented restore: copy a previous version over the current one."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old", Metadata={"v": "1"})["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    copied = s3.copy_object(
        Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k", "VersionId": old}
    )
    assert copied["CopySourceVersionId"] == old
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"old"
    assert got["Metadata"] == {"v": "1"}
    # Copying the current version onto itself unchanged is still refused.
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"})
    assert caught.value.response["Error"]["Code"] == "InvalidRequest"
