"""Multipart uploads: the whole protocol and every way to get it wrong."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.access_support import plain_user
from tests.functional.conftest import ROOT_ACCESS_KEY, GatewayHandle, error_code

MiB = 1024 * 1024


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def upload_parts(
    s3: S3Client, bucket: str, key: str, upload_id: str, parts: list[bytes]
) -> list[dict[str, object]]:
    completed = []
    for number, data in enumerate(parts, start=1):
        etag = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )["ETag"]
        completed.append({"PartNumber": number, "ETag": etag})
    return completed


def test_complete_multipart_upload(s3: S3Client, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"tail"]
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="big.bin", ContentType="application/x-big", Metadata={"m": "1"}
    )
    upload_id = upload["UploadId"]
    completed = upload_parts(s3, bucket, "big.bin", upload_id, parts)
    listed = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload_id)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert [p["Size"] for p in listed["Parts"]] == [5 * MiB, 5 * MiB, 4]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [upload_id]
    result = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big.bin",
        UploadId=upload_id,
        MultipartUpload={"Parts": completed},  # type: ignore[typeddict-item]
    )
    assert result["ETag"] == multipart_etag(parts)
    got = s3.get_object(Bucket=bucket, Key="big.bin")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"] == multipart_etag(parts)
    assert got["ContentType"] == "application/x-big"
    assert got["Metadata"] == {"m": "1"}
    ranged = s3.get_object(Bucket=bucket, Key="big.bin", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")
    assert ranged["Body"].read() == parts[0][-2:] + parts[1][:2]
    part_two = s3.get_object(Bucket=bucket, Key="big.bin", PartNumber=2)
    assert part_two["Body"].read() == parts[1]
    assert part_two["PartsCount"] == 3
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="big.bin", PartNumber=4)) == (
        "InvalidPartNumber",
        416,
    )
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert error_code(lambda: s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload_id)) == (
        "NoSuchUpload",
        404,
    )


def test_small_part_is_entity_too_small(s3: S3Client, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    completed = upload_parts(s3, bucket, "k", upload_id, [b"small", b"parts"])
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": completed},  # type: ignore[typeddict-item]
        )
    ) == ("EntityTooSmall", 400)
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="k")) == ("404", 404)


def test_wrong_part_etag_and_order(s3: S3Client, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    completed = upload_parts(s3, bucket, "k", upload_id, [os.urandom(5 * MiB), b"end"])
    wrong_etag = [completed[0], {"PartNumber": 2, "ETag": '"0123456789abcdef0123456789abcdef"'}]
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": wrong_etag},  # type: ignore[typeddict-item]
        )
    ) == ("InvalidPart", 400)
    missing = [completed[0], {"PartNumber": 7, "ETag": completed[1]["ETag"]}]
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": missing},  # type: ignore[typeddict-item]
        )
    ) == ("InvalidPart", 400)
    reversed_parts = [completed[1], completed[0]]
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": reversed_parts},  # type: ignore[typeddict-item]
        )
    ) == ("InvalidPartOrder", 400)
    # Nothing failed destructively: the right list still completes.
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={"Parts": completed},  # type: ignore[typeddict-item]
    )
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 5 * MiB + 3


def test_empty_part_list_is_malformed(s3: S3Client, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": []}
        )
    ) == ("MalformedXML", 400)


def test_abort_and_unknown_upload(s3: S3Client, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    upload_parts(s3, bucket, "k", upload_id, [b"data"])
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert error_code(
        lambda: s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"")
    ) == ("NoSuchUpload", 404)
    assert error_code(
        lambda: s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="nope")
    ) == ("NoSuchUpload", 404)


@pytest.mark.parametrize("number", [0, 10001])
def test_part_number_out_of_range(s3: S3Client, bucket: str, number: int) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    assert error_code(
        lambda: s3.upload_part(
            Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=b"x"
        )
    ) == ("InvalidArgument", 400)


def test_reuploaded_part_replaces_previous(s3: S3Client, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"old")
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"new!")[
        "ETag"
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new!"


def test_upload_part_copy(s3: S3Client, bucket: str) -> None:
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )["CopyPartResult"]["ETag"]
    second = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange=f"bytes={5 * MiB}-{6 * MiB - 1}",
    )["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]
        },
    )
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source
    assert error_code(
        lambda: s3.upload_part_copy(
            Bucket=bucket,
            Key="assembled",
            UploadId="nope",
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "source"},
        )
    ) == ("NoSuchUpload", 404)


def test_boto3_transfer_manager_multipart(
    s3: S3Client, bucket: str, tmp_path: os.PathLike[str]
) -> None:
    from boto3.s3.transfer import TransferConfig

    path = os.path.join(tmp_path, "upload.bin")
    data = os.urandom(12 * MiB + 123)
    with open(path, "wb") as handle:
        handle.write(data)
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(path, bucket, "transfer.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="transfer.bin")
    assert head["ETag"].endswith('-3"')
    out = os.path.join(tmp_path, "download.bin")
    s3.download_file(bucket, "transfer.bin", out, Config=config)
    with open(out, "rb") as handle:
        assert handle.read() == data


def test_abandoned_uploads_are_cleaned(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    import time

    from nimbus_storage.gateway import janitor

    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="abandoned")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="abandoned", UploadId=upload_id, PartNumber=1, Body=b"x")
    services = gateway.gateway.services
    week_later = time.time() + services.config.abandoned_upload_seconds + 60
    report = gateway.call(janitor.run_pass(services, now=week_later))
    assert report.uploads_aborted >= 1
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


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


def test_a_repeated_completion_answers_as_the_first(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """A client whose CompleteMultipartUpload answer was lost sends it again: while the object
    it made is current, AWS answers the same; after that, or for another part list, the upload
    is gone."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    parts = upload_parts(s3, bucket, "k", upload_id, [b"only part"])
    listed: Any = {"Parts": parts}

    def complete() -> Any:
        return s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload=listed
        )

    first, again = complete(), complete()
    assert (again["ETag"], again["VersionId"]) == (first["ETag"], first["VersionId"])
    assert again["ETag"] == multipart_etag([b"only part"])
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 1
    wrong: Any = {"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]}
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload=wrong
        )
    ) == ("NoSuchUpload", 404)
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId="another", MultipartUpload=listed
        )
    ) == ("NoSuchUpload", 404)
    s3.put_object(Bucket=bucket, Key="k", Body=b"newer")
    assert error_code(complete) == ("NoSuchUpload", 404)


def test_uploads_name_who_initiated_them(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    with plain_user(gateway_in_each_mode) as (writer_key, writer):
        statement = {
            "Effect": "Allow",
            "Principal": {"AWS": [writer_key]},
            "Action": ["s3:PutObject", "s3:ListMultipartUploadParts"],
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
        document = {"Version": "2012-10-17", "Statement": [statement]}
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
        try:
            theirs = writer.create_multipart_upload(Bucket=bucket, Key="theirs")["UploadId"]
            mine = s3.create_multipart_upload(Bucket=bucket, Key="mine")["UploadId"]
            listed = {u["UploadId"]: u for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]}
            assert listed[theirs]["Initiator"]["ID"] == writer_key
            assert listed[theirs]["Owner"]["ID"] == writer_key
            assert listed[mine]["Initiator"]["ID"] == ROOT_ACCESS_KEY
            parts = writer.list_parts(Bucket=bucket, Key="theirs", UploadId=theirs)
            assert parts["Initiator"]["ID"] == writer_key
        finally:
            s3.delete_bucket_policy(Bucket=bucket)
