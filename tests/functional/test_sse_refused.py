"""A gateway without a key store (no ``--sse-keys``): SSE-S3 and SSE-KMS are refused with 501
NotImplemented and nothing is stored — on the standalone gateway and on a gateway over a
storage cluster (``gateway_in_each_mode``). SSE-C, which needs no key store, works over HTTPS
only (these gateways serve plain HTTP): tests/functional/test_sse_c_transport.py. Encryption
with a key store: tests/functional/sse/."""

from __future__ import annotations

import base64
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import CopySourceTypeDef, ServerSideEncryptionConfigurationTypeDef

from tests.functional.conftest import ROOT_ACCESS_KEY, ROOT_SECRET_KEY, GatewayHandle
from tests.functional.raw_http import Endpoint, read_answer

CONTEXT = base64.b64encode(b'{"purpose": "test"}').decode()

NEEDING_A_KEY_STORE = [
    pytest.param({"ServerSideEncryption": "AES256"}, id="sse-s3"),
    pytest.param({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/key"}, id="sse-kms"),
    pytest.param(
        {"ServerSideEncryption": "aws:kms", "SSEKMSEncryptionContext": CONTEXT}, id="kms-context"
    ),
]
MALFORMED = [
    pytest.param({"ServerSideEncryption": "aws:kms:dsse"}, id="dsse-kms"),
    pytest.param({"SSEKMSKeyId": "alias/key"}, id="kms-key-id-alone"),
    pytest.param({"SSEKMSEncryptionContext": CONTEXT}, id="kms-context-alone"),
]


def refusal(call: Callable[[], Any]) -> dict[str, Any]:
    """The error document of a call that must be refused as not implemented."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    error: dict[str, Any] = dict(response["Error"])
    assert (error["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NotImplemented",
        501,
    )
    assert error["Header"] == "x-amz-server-side-encryption"
    assert "no key store" in error["Message"]
    return error


def assert_absent(s3: S3Client, bucket: str, key: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key=key)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert s3.list_objects_v2(Bucket=bucket, Prefix=key)["KeyCount"] == 0


@pytest.mark.parametrize("encryption", NEEDING_A_KEY_STORE)
def test_put_object_asking_for_a_key_store_stores_nothing(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str, encryption: dict[str, Any]
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    refusal(lambda: s3.put_object(Bucket=bucket, Key="secret", Body=b"plaintext", **encryption))
    assert_absent(s3, bucket, "secret")


@pytest.mark.parametrize("encryption", MALFORMED)
def test_malformed_encryption_headers_are_invalid_argument(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str, encryption: dict[str, Any]
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="secret", Body=b"plaintext", **encryption)
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
    assert_absent(s3, bucket, "secret")


def test_copies_and_uploads_asking_for_a_key_store_store_nothing(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="source", Body=b"plaintext")
    source: CopySourceTypeDef = {"Bucket": bucket, "Key": "source"}
    refusal(
        partial(
            s3.copy_object,
            Bucket=bucket,
            Key="copy",
            CopySource=source,
            ServerSideEncryption="AES256",
        )
    )
    assert_absent(s3, bucket, "copy")
    refusal(
        partial(
            s3.create_multipart_upload, Bucket=bucket, Key="big", ServerSideEncryption="aws:kms"
        )
    )
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_reads_with_encryption_headers_are_refused_as_aws_refuses_them(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """AWS answers SSE headers other than SSE-C's on a read with 400 InvalidArgument (SSE-C
    headers on a read of an object not stored with SSE-C, 400 InvalidRequest, need HTTPS:
    test_sse_c_transport.py)."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plaintext")

    def add_sse_header(request: Any, **_: Any) -> None:
        request.headers["x-amz-server-side-encryption"] = "AES256"

    s3.meta.events.register("before-sign.s3.GetObject", add_sse_header)
    try:
        with pytest.raises(ClientError) as argument:
            s3.get_object(Bucket=bucket, Key="plain")
    finally:
        s3.meta.events.unregister("before-sign.s3.GetObject", add_sse_header)
    assert argument.value.response["Error"]["Code"] == "InvalidArgument"
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"plaintext"


def test_bucket_default_encryption_needs_a_key_store(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """PutBucketEncryption is refused (every write it applied to would be); Get answers as
    AWS does for a bucket without a configuration, and Delete has nothing to remove."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    configuration: ServerSideEncryptionConfigurationTypeDef = {
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=configuration)
    response = refused.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "NotImplemented",
        501,
    )
    for _ in range(2):
        with pytest.raises(ClientError) as absent:
            s3.get_bucket_encryption(Bucket=bucket)
        response = absent.value.response
        assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
            "ServerSideEncryptionConfigurationNotFoundError",
            404,
        )
        deleted = s3.delete_bucket_encryption(Bucket=bucket)
        assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    s3.put_object(Bucket=bucket, Key="after", Body=b"stored in clear")
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="after")


def test_refused_before_the_body_is_sent(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """The answer comes from the request head alone: a gateway that waited for the body would
    answer nothing (or, after client_body_timeout, RequestTimeout)."""
    endpoint = Endpoint.of(gateway_in_each_mode.endpoint, ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
    head = endpoint.signed_head(
        "PUT",
        f"/{bucket_in_each_mode}/unsent",
        {"Content-Length": str(5 * 1024 * 1024), "x-amz-server-side-encryption": "AES256"},
    )
    with endpoint.connect() as sock:
        sock.sendall(head)
        answer = read_answer(sock)
    assert (answer.status, answer.code) == (501, "NotImplemented")
    assert_absent(s3_in_each_mode, bucket_in_each_mode, "unsent")
