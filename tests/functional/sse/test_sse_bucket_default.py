"""Bucket default encryption (PutBucketEncryption, GetBucketEncryption,
DeleteBucketEncryption), stored with the bucket's documents in the catalog and applied to
writes that ask for no encryption, on each gateway of ``conftest.py``; and key rotation."""

from __future__ import annotations

from typing import Any

import pytest
from mypy_boto3_s3.type_defs import (
    CompletedPartTypeDef,
    CopySourceTypeDef,
    ServerSideEncryptionConfigurationTypeDef,
)
from nimbus_storage.sse.keystore import main as keystore_tool

from tests.functional.sse.support import (
    DEFAULT_KEY_ID,
    TENANT_KEY_ID,
    SseGateway,
    failure,
    marked_body,
    sse_c,
    sse_fields,
)


def _rule(algorithm: str, key_id: str | None = None) -> ServerSideEncryptionConfigurationTypeDef:
    default: dict[str, str] = {"SSEAlgorithm": algorithm}
    if key_id is not None:
        default["KMSMasterKeyID"] = key_id
    return {
        "Rules": [
            {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}  # type: ignore[typeddict-item]
        ]
    }


def test_configuration_is_kept_answered_and_removed(
    sse_gateway: SseGateway, sse_bucket: str
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    assert failure(lambda: s3.get_bucket_encryption(Bucket=bucket))[:2] == (
        "ServerSideEncryptionConfigurationNotFoundError",
        404,
    )
    s3.put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration=_rule("aws:kms", TENANT_KEY_ID)
    )
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules == [
        {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": TENANT_KEY_ID,
            },
            "BucketKeyEnabled": True,
        }
    ]
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=_rule("AES256"))
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert s3.delete_bucket_encryption(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert failure(lambda: s3.get_bucket_encryption(Bucket=bucket))[1] == 404
    assert s3.delete_bucket_encryption(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


BAD_DOCUMENTS = [
    pytest.param(b"<ServerSideEncryptionConfiguration><Rule>", "MalformedXML", 400, id="broken"),
    pytest.param(b"<Other/>", "MalformedXML", 400, id="other-root"),
    pytest.param(b"<ServerSideEncryptionConfiguration/>", "MalformedXML", 400, id="no-rule"),
    pytest.param(
        b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        b"<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
        b"<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
        b"</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
        "MalformedXML",
        400,
        id="two-rules",
    ),
    pytest.param(
        b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        b"<SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
        b"</ServerSideEncryptionConfiguration>",
        "MalformedXML",
        400,
        id="unknown-algorithm",
    ),
    pytest.param(
        b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        b"<SSEAlgorithm>aws:kms:dsse</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
        b"</Rule></ServerSideEncryptionConfiguration>",
        "NotImplemented",
        501,
        id="dsse",
    ),
    pytest.param(
        b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        b"<SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>tenant-a</KMSMasterKeyID>"
        b"</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
        "InvalidArgument",
        400,
        id="key-with-aes256",
    ),
    pytest.param(
        b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        b"<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>missing</KMSMasterKeyID>"
        b"</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
        "KMS.NotFoundException",
        400,
        id="unknown-kms-key",
    ),
    pytest.param(
        b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
        b"<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
        b"<BucketKeyEnabled>maybe</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>",
        "MalformedXML",
        400,
        id="bucket-key-not-boolean",
    ),
]


@pytest.mark.parametrize(("document", "code", "status"), BAD_DOCUMENTS)
def test_bad_configurations_are_refused(
    sse_gateway: SseGateway, sse_bucket: str, document: bytes, code: str, status: int
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket

    def send_document(request: Any, **_: Any) -> None:
        request.data = document
        for name in list(request.headers.keys()):  # checksums of the document boto3 made
            if name.lower() == "content-md5" or name.lower().startswith("x-amz-checksum-"):
                del request.headers[name]

    event = "before-sign.s3.PutBucketEncryption"
    s3.meta.events.register(event, send_document)
    try:
        got = failure(
            lambda: s3.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration=_rule("AES256")
            )
        )
    finally:
        s3.meta.events.unregister(event, send_document)
    assert got[:2] == (code, status)
    assert failure(lambda: s3.get_bucket_encryption(Bucket=bucket))[1] == 404


def test_the_default_applies_to_writes_asking_for_none(
    sse_gateway: SseGateway, sse_bucket: str
) -> None:
    s3, bucket = sse_gateway.s3, sse_bucket
    s3.put_object(Bucket=bucket, Key="before", Body=b"written before the default")
    s3.put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration=_rule("aws:kms", TENANT_KEY_ID)
    )
    kms = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": TENANT_KEY_ID}
    marker, body = marked_body(300_000)
    assert sse_fields(s3.put_object(Bucket=bucket, Key="put", Body=body)) == kms
    assert sse_fields(s3.head_object(Bucket=bucket, Key="put")) == kms
    assert sse_fields(s3.head_object(Bucket=bucket, Key="before")) == {}
    source: CopySourceTypeDef = {"Bucket": bucket, "Key": "before"}
    assert sse_fields(s3.copy_object(Bucket=bucket, Key="copy", CopySource=source)) == kms
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"written before the default"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert sse_fields(upload) == kms
    etag = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=body
    )["ETag"]
    parts: list[CompletedPartTypeDef] = [{"PartNumber": 1, "ETag": etag}]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    assert sse_fields(s3.head_object(Bucket=bucket, Key="mp")) == kms
    # A write's own encryption wins over the default.
    assert "SSECustomerAlgorithm" in s3.put_object(Bucket=bucket, Key="c", Body=b"c", **sse_c())
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=_rule("AES256"))
    s3_default = {"ServerSideEncryption": "AES256"}
    assert sse_fields(s3.put_object(Bucket=bucket, Key="s3", Body=b"x")) == s3_default
    s3.delete_bucket_encryption(Bucket=bucket)
    assert sse_fields(s3.put_object(Bucket=bucket, Key="after", Body=b"x")) == {}
    s3.delete_object(Bucket=bucket, Key="before")
    assert not sse_gateway.stored_anywhere(marker)


def test_rotation_keeps_old_objects_readable(sse_gateway: SseGateway, sse_bucket: str) -> None:
    """A new version of the default key, picked up by the running gateway, wraps new data
    keys; objects its old version wrapped still open. (The gateway looks at the key file at
    most every 5 s: the standalone gateway is told to look now, the others are waited for.)"""
    s3, bucket = sse_gateway.s3, sse_bucket
    s3.put_object(Bucket=bucket, Key="old", Body=b"old", ServerSideEncryption="AES256")
    keystore_tool(["rotate", str(sse_gateway.key_store)])
    if sse_gateway.handle is not None:
        keystore = sse_gateway.handle.gateway.services.keystore
        assert keystore is not None
        assert keystore.maybe_reload(force=True)
        assert keystore.newest_version(DEFAULT_KEY_ID) >= 2
    s3.put_object(Bucket=bucket, Key="new", Body=b"new", ServerSideEncryption="AES256")
    for key in ("old", "new"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
