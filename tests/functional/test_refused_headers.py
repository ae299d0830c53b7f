"""Headers S3 acts on that Nimbus does not: 501 NotImplemented naming the header, and nothing
written or deleted, on the standalone gateway and over a storage cluster.

Before, these were ignored: an append offset overwrote the object. (Object Lock headers and
conditional copies, completions and deletes are acted on now: test_object_lock.py and
test_conditional_writes.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client


def refused(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["Error"]["Code"] == "NotImplemented"
    return dict(response["Error"])


def missing(s3: S3Client, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        return error.response["Error"]["Code"] == "404"
    return False


def test_an_object_lock_event_hold_is_refused_and_stores_nothing(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    error = refused(
        lambda: s3.put_object(Bucket=bucket, Key="held", Body=b"x", ObjectLockEventHold="ON")
    )
    assert error["Header"] == "x-amz-object-lock-event-hold"
    assert missing(s3, bucket, "held")
    refused(lambda: s3.create_multipart_upload(Bucket=bucket, Key="held", ObjectLockEventHold="ON"))
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_an_append_is_refused_and_the_object_is_kept(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="log", Body=b"first")
    error = refused(
        lambda: s3.put_object(Bucket=bucket, Key="log", Body=b"second", WriteOffsetBytes=5)
    )
    assert error["Header"] == "x-amz-write-offset-bytes"
    assert s3.get_object(Bucket=bucket, Key="log")["Body"].read() == b"first"
