"""A GET that fails after its headers went out must drop the connection, not hang it."""

from __future__ import annotations

import os
import time

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from mypy_boto3_s3 import S3Client
from nimbus_storage.blobs.diskfile import normalize_timestamp
from nimbus_storage.gateway import object_body

from tests.functional.conftest import GatewayHandle

MiB = 1024 * 1024


def test_failure_mid_stream_drops_the_connection(
    s3: S3Client, bucket: str, gateway: GatewayHandle
) -> None:
    parts = [os.urandom(5 * MiB), b"tail" * 1000]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    completed = [
        {
            "PartNumber": number,
            "ETag": s3.upload_part(
                Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=data
            )["ETag"],
        }
        for number, data in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={"Parts": completed},  # type: ignore[typeddict-item]
    )
    services = gateway.gateway.services

    async def lose_last_part() -> None:
        version = await services.catalog.index(bucket).get("k")
        assert version is not None
        stored_bucket = await services.catalog.get_bucket(bucket)
        assert stored_bucket is not None
        body = await object_body.open_body(services, stored_bucket, version)
        body.close()
        assert body.parts is not None
        await services.blobs.delete(body.parts[-1][0], normalize_timestamp(time.time()))

    gateway.call(lose_last_part())
    client = gateway.client(read_timeout=20)
    started = time.monotonic()
    with pytest.raises(Exception) as caught:  # noqa: PT011 - any transport error will do
        client.get_object(Bucket=bucket, Key="k")["Body"].read()
    assert not isinstance(caught.value, ReadTimeoutError | ClientError)
    assert time.monotonic() - started < 10
    # The gateway still answers on new connections.
    assert client.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
