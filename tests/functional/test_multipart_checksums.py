"""Multipart uploads with checksums, through boto3, standalone and on a cluster: the upload's
algorithm and type, each part's checksum, the object's (composite or full-object) checksum."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from typing import Any

import crc32c
import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client
from nimbus_storage.auth.crc64nvme import crc64nvme

from tests.functional.conftest import GatewayHandle

MiB = 1024 * 1024


def digest(algorithm: str, data: bytes) -> bytes:
    if algorithm == "CRC32":
        return zlib.crc32(data).to_bytes(4, "big")
    if algorithm == "CRC32C":
        return crc32c.crc32c(data).to_bytes(4, "big")
    if algorithm == "CRC64NVME":
        return crc64nvme(data).to_bytes(8, "big")
    return hashlib.new(algorithm.lower(), data).digest()


def b64(algorithm: str, data: bytes) -> str:
    return base64.b64encode(digest(algorithm, data)).decode()


def composite(algorithm: str, parts: list[bytes]) -> str:
    """What S3 computes for a COMPOSITE upload: the checksum of the parts' checksums."""
    joined = b"".join(digest(algorithm, part) for part in parts)
    return f"{b64(algorithm, joined)}-{len(parts)}"


def exact_client(gateway: GatewayHandle) -> S3Client:
    """A client that sends the checksums a test gives it, and no other."""
    return gateway.client(
        request_checksum_calculation="when_required", response_checksum_validation="when_required"
    )


def stated(element: str, value: str) -> Any:
    """``{"ChecksumCRC32": value}``, as keyword arguments of a boto3 call."""
    return {element: value}


def failure(call: Any) -> tuple[str, str]:
    """The error code and message a call fails with (400 expected)."""
    try:
        call()
    except ClientError as error:
        response: Any = error.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400, response
        return response["Error"]["Code"], response["Error"]["Message"]
    raise AssertionError("the call succeeded")


PARTS = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"the last part"]


@pytest.fixture
def s3(gateway_in_each_mode: GatewayHandle) -> S3Client:
    return exact_client(gateway_in_each_mode)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_a_composite_checksum(s3: S3Client, bucket_in_each_mode: str, algorithm: str) -> None:
    bucket, key, element = bucket_in_each_mode, f"composite-{algorithm}", f"Checksum{algorithm}"
    created = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm)  # type: ignore[arg-type]
    assert (created["ChecksumAlgorithm"], created["ChecksumType"]) == (algorithm, "COMPOSITE")
    upload_id = created["UploadId"]
    completed: list[Any] = []
    for number, data in enumerate(PARTS, start=1):
        sent: Any = {element: b64(algorithm, data)}
        answer: Any = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data, **sent
        )
        assert answer[element] == b64(algorithm, data)
        completed.append({"PartNumber": number, "ETag": answer["ETag"], **sent})

    listed: Any = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == (algorithm, "COMPOSITE")
    assert [p[element] for p in listed["Parts"]] == [b64(algorithm, p) for p in PARTS]
    uploads: Any = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["ChecksumAlgorithm"], u["ChecksumType"]) for u in uploads] == [
        (algorithm, "COMPOSITE")
    ]

    expected = composite(algorithm, PARTS)
    # The header states the object's checksum: checked against it, not against the XML body.
    result: Any = s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": completed},
        **stated(element, expected),
    )
    assert (result[element], result["ChecksumType"]) == (expected, "COMPOSITE")

    head: Any = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert (head[element], head["ChecksumType"]) == (expected, "COMPOSITE")
    assert element not in s3.head_object(Bucket=bucket, Key=key)
    got: Any = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got[element] == expected
    assert got["Body"].read() == b"".join(PARTS)
    attributes: Any = s3.get_object_attributes(
        Bucket=bucket, Key=key, ObjectAttributes=["Checksum", "ObjectParts"]
    )
    assert attributes["Checksum"] == {element: expected, "ChecksumType": "COMPOSITE"}
    parts = attributes["ObjectParts"]
    assert parts["TotalPartsCount"] == 3
    assert [(p["PartNumber"], p["Size"], p[element]) for p in parts["Parts"]] == [
        (number, len(data), b64(algorithm, data)) for number, data in enumerate(PARTS, start=1)
    ]


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME"])
def test_a_full_object_checksum(s3: S3Client, bucket_in_each_mode: str, algorithm: str) -> None:
    bucket, key, element = bucket_in_each_mode, f"full-{algorithm}", f"Checksum{algorithm}"
    parts = PARTS[1:]  # CRC64NVME is slow in pure Python: 5 MiB and a few bytes
    create: Any = {"ChecksumAlgorithm": algorithm}
    if algorithm != "CRC64NVME":  # its only type, and its default
        create["ChecksumType"] = "FULL_OBJECT"
    created = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)
    assert (created["ChecksumAlgorithm"], created["ChecksumType"]) == (algorithm, "FULL_OBJECT")
    upload_id = created["UploadId"]
    first: Any = s3.upload_part(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        PartNumber=1,
        Body=parts[0],
        **stated(element, b64(algorithm, parts[0])),
    )
    # A full-object upload's part may come without its checksum: the gateway computes it.
    second: Any = s3.upload_part(
        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=2, Body=parts[1]
    )
    assert second[element] == b64(algorithm, parts[1])
    listed: Any = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)
    assert [p[element] for p in listed["Parts"]] == [b64(algorithm, p) for p in parts]

    whole = b64(algorithm, b"".join(parts))
    wrong = b64(algorithm, b"something else")
    no_part_checksums: Any = [
        {"PartNumber": 1, "ETag": first["ETag"]},
        {"PartNumber": 2, "ETag": second["ETag"]},
    ]
    assert failure(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": no_part_checksums},
            **stated(element, wrong),
        )
    ) == (
        "BadDigest",
        f"The {algorithm.lower()} you specified did not match the calculated checksum.",
    )
    # The parts' checksums may be left out of a full-object upload's list.
    result: Any = s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        MultipartUpload={"Parts": no_part_checksums},
        ChecksumType="FULL_OBJECT",
        **stated(element, whole),
    )
    assert (result[element], result["ChecksumType"]) == (whole, "FULL_OBJECT")
    head: Any = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert (head[element], head["ChecksumType"]) == (whole, "FULL_OBJECT")
    attributes: Any = s3.get_object_attributes(
        Bucket=bucket, Key=key, ObjectAttributes=["Checksum", "ObjectParts"]
    )
    assert attributes["Checksum"] == {element: whole, "ChecksumType": "FULL_OBJECT"}
    assert [p[element] for p in attributes["ObjectParts"]["Parts"]] == [
        b64(algorithm, p) for p in parts
    ]


def test_a_copied_part_gets_its_checksum(s3: S3Client, bucket_in_each_mode: str) -> None:
    bucket, source = bucket_in_each_mode, PARTS[0]
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    copied: Any = s3.upload_part_copy(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
    )["CopyPartResult"]
    assert copied["ChecksumSHA256"] == b64("SHA256", source)
    ranged: Any = s3.upload_part_copy(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange="bytes=10-19",
    )["CopyPartResult"]
    assert ranged["ChecksumSHA256"] == b64("SHA256", source[10:20])
    result: Any = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {
                    "PartNumber": 1,
                    "ETag": copied["ETag"],
                    "ChecksumSHA256": copied["ChecksumSHA256"],
                },
                {
                    "PartNumber": 2,
                    "ETag": ranged["ETag"],
                    "ChecksumSHA256": ranged["ChecksumSHA256"],
                },
            ]
        },
    )
    assert result["ChecksumSHA256"] == composite("SHA256", [source, source[10:20]])


def test_boto3_upload_file_gets_a_checksum(
    gateway_in_each_mode: GatewayHandle, bucket_in_each_mode: str, tmp_path: os.PathLike[str]
) -> None:
    """boto3's transfer manager (its default configuration) asks for CRC32 parts."""
    from boto3.s3.transfer import TransferConfig

    s3, bucket = gateway_in_each_mode.client(), bucket_in_each_mode
    data = b"".join(PARTS)
    path = os.path.join(tmp_path, "upload.bin")
    with open(path, "wb") as handle:
        handle.write(data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(path, bucket, "transfer.bin", Config=config)
    head: Any = s3.head_object(Bucket=bucket, Key="transfer.bin", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"')
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (composite("CRC32", PARTS), "COMPOSITE")
    out = os.path.join(tmp_path, "download.bin")
    s3.download_file(bucket, "transfer.bin", out, Config=config)
    with open(out, "rb") as handle:
        assert handle.read() == data


def test_an_upload_without_algorithm_is_as_before(
    gateway_in_each_mode: GatewayHandle, bucket_in_each_mode: str
) -> None:
    """boto3's default client sends a CRC32 with each part of an upload that has no algorithm;
    the object has no checksum, whatever the completion lists."""
    s3, bucket = gateway_in_each_mode.client(), bucket_in_each_mode
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="plain")["UploadId"]
    completed: list[Any] = []
    for number, data in enumerate(PARTS[1:], start=1):
        answer: Any = s3.upload_part(
            Bucket=bucket, Key="plain", UploadId=upload_id, PartNumber=number, Body=data
        )
        assert answer["ChecksumCRC32"] == b64("CRC32", data)  # the request's, echoed
        completed.append({"PartNumber": number, "ETag": answer["ETag"]})
    listed: Any = s3.list_parts(Bucket=bucket, Key="plain", UploadId=upload_id)
    assert "ChecksumAlgorithm" not in listed
    assert all("ChecksumCRC32" not in part for part in listed["Parts"])
    result: Any = s3.complete_multipart_upload(
        Bucket=bucket, Key="plain", UploadId=upload_id, MultipartUpload={"Parts": completed}
    )
    assert "ChecksumCRC32" not in result
    head: Any = s3.head_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED")
    assert not [name for name in head if name.startswith("Checksum")]
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"".join(PARTS[1:])
