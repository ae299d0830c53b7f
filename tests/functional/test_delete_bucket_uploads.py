"""DeleteBucket on a bucket holding only unfinished multipart uploads deletes the bucket and the
uploads, parts and their data included, as AWS does; objects (or delete markers) still make it
BucketNotEmpty. Run on a standalone gateway and on a storage cluster."""

from __future__ import annotations

import uuid

from mypy_boto3_s3 import S3Client

from tests.functional.conftest import GatewayHandle, empty_and_delete, error_code


def new_bucket(s3: S3Client) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def start_upload(s3: S3Client, bucket: str, key: str, parts: int) -> str:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    for number in range(1, parts + 1):
        body = f"part {number} of {key}".encode()
        s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
    return upload_id


def part_blobs(gateway: GatewayHandle, bucket: str, upload_id: str) -> list[str]:
    index = gateway.gateway.services.catalog.index(bucket)
    parts = gateway.call(index.get_parts(upload_id))
    return [part.blob for part in parts.values()]


def stored(gateway: GatewayHandle, blob: str) -> bool:
    """Whether the default policy's store still holds the blob's data."""

    async def open_blob() -> bool:
        reader = await gateway.gateway.services.blobs.open(blob)
        if reader is None:
            return False
        reader.close()
        return True

    found: bool = gateway.call(open_blob())
    return found


def test_a_bucket_of_unfinished_uploads_is_deleted_with_their_parts(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client
) -> None:
    s3, gateway = s3_in_each_mode, gateway_in_each_mode
    bucket = new_bucket(s3)
    uploads = [
        start_upload(s3, bucket, "big", parts=3),
        start_upload(s3, bucket, "big", parts=1),
        start_upload(s3, bucket, "no parts yet", parts=0),
    ]
    blobs = [blob for upload_id in uploads for blob in part_blobs(gateway, bucket, upload_id)]
    assert len(blobs) == 4
    assert all(stored(gateway, blob) for blob in blobs)

    s3.delete_bucket(Bucket=bucket)

    assert error_code(lambda: s3.head_bucket(Bucket=bucket)) == ("404", 404)
    assert not any(stored(gateway, blob) for blob in blobs)
    s3.create_bucket(Bucket=bucket)  # a new bucket of that name has none of the old uploads
    try:
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        assert error_code(lambda: s3.list_parts(Bucket=bucket, Key="big", UploadId=uploads[0])) == (
            "NoSuchUpload",
            404,
        )
    finally:
        empty_and_delete(s3, bucket)


def test_a_bucket_with_objects_is_not_empty_and_keeps_its_uploads(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client
) -> None:
    s3, gateway = s3_in_each_mode, gateway_in_each_mode
    bucket = new_bucket(s3)
    try:
        upload_id = start_upload(s3, bucket, "big", parts=2)
        blobs = part_blobs(gateway, bucket, upload_id)
        s3.put_object(Bucket=bucket, Key="object", Body=b"x")
        assert error_code(lambda: s3.delete_bucket(Bucket=bucket)) == ("BucketNotEmpty", 409)
        listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
        assert [entry["UploadId"] for entry in listed] == [upload_id]
        assert all(stored(gateway, blob) for blob in blobs)

        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.delete_object(Bucket=bucket, Key="object")  # a delete marker and a version
        version = s3.list_object_versions(Bucket=bucket)["Versions"][0]["VersionId"]
        s3.delete_object(Bucket=bucket, Key="object", VersionId=version)
        # A delete marker alone is content too.
        assert error_code(lambda: s3.delete_bucket(Bucket=bucket)) == ("BucketNotEmpty", 409)
        assert len(s3.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1
    finally:
        empty_and_delete(s3, bucket)
