"""GetObjectAttributes, through boto3, standalone and on a cluster."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.access_support import code_of, plain_user, signed
from tests.functional.conftest import GatewayHandle, error_code

EVERYTHING: Any = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
PART = 5 * 1024**2


@pytest.fixture
def user_in_each_mode(gateway_in_each_mode: GatewayHandle) -> Iterator[tuple[str, S3Client]]:
    with plain_user(gateway_in_each_mode) as user:
        yield user


def attributes(s3: S3Client, bucket: str, key: str, names: Any = EVERYTHING, **extra: Any) -> Any:
    return s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=names, **extra)


def test_a_simple_object(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    data = b"attributes of a small object"
    put = s3.put_object(Bucket=bucket, Key="small", Body=data, ChecksumAlgorithm="SHA256")
    got = attributes(s3, bucket, "small")
    assert got["ETag"] == hashlib.md5(data).hexdigest() == put["ETag"].strip('"')
    assert got["ObjectSize"] == len(data)
    assert got["StorageClass"] == "STANDARD"
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert got["Checksum"]["ChecksumSHA256"] == expected
    assert got["Checksum"]["ChecksumType"] == "FULL_OBJECT"
    assert "ObjectParts" not in got  # not a multipart object
    head = s3.head_object(Bucket=bucket, Key="small")
    assert got["LastModified"] == head["LastModified"]
    assert "VersionId" not in got  # the bucket never had versioning


def test_only_the_attributes_asked_for(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="k", Body=b"12345")
    got = attributes(s3, bucket, "k", ["ObjectSize"])
    assert got["ObjectSize"] == 5
    assert not {"ETag", "Checksum", "StorageClass", "ObjectParts"} & set(got)
    # The document itself: AWS's root and element order, whatever the header's order.
    status, headers, body = signed(
        gateway_in_each_mode,
        "GET",
        f"{bucket}/k?attributes",
        headers={"x-amz-object-attributes": "ObjectSize, StorageClass,ETag"},
    )
    assert status == 200
    assert headers["content-type"] == "application/xml"
    etag = hashlib.md5(b"12345").hexdigest()
    assert body.endswith(
        b'<GetObjectAttributesResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        + f"<ETag>{etag}</ETag>".encode()
        + b"<StorageClass>STANDARD</StorageClass><ObjectSize>5</ObjectSize>"
        + b"</GetObjectAttributesResponse>"
    )


def test_no_checksum_without_one_stored(
    gateway_in_each_mode: GatewayHandle, bucket_in_each_mode: str
) -> None:
    s3 = gateway_in_each_mode.client(request_checksum_calculation="when_required")
    s3.put_object(Bucket=bucket_in_each_mode, Key="plain", Body=b"no checksum")
    got = attributes(s3, bucket_in_each_mode, "plain")
    assert "Checksum" not in got
    assert got["ObjectSize"] == len(b"no checksum")


def test_a_multipart_object_and_its_parts(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    sizes = [PART, PART, 7]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")
    parts: list[Any] = []
    for number, size in enumerate(sizes, start=1):
        part = s3.upload_part(
            Bucket=bucket,
            Key="big",
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=bytes([number]) * size,
        )
        parts.append({"PartNumber": number, "ETag": part["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    got = attributes(s3, bucket, "big")
    assert got["ETag"] == done["ETag"].strip('"')
    assert got["ETag"].endswith("-3")
    assert got["ObjectSize"] == sum(sizes)
    listed = got["ObjectParts"]
    assert listed["TotalPartsCount"] == 3
    assert listed["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, PART), (2, PART), (3, 7)]
    first = attributes(s3, bucket, "big", ["ObjectParts"], MaxParts=2)["ObjectParts"]
    assert first["TotalPartsCount"] == 3
    assert first["MaxParts"] == 2
    assert first["IsTruncated"] is True
    assert [p["PartNumber"] for p in first["Parts"]] == [1, 2]
    assert int(first["NextPartNumberMarker"]) == 2
    rest = attributes(
        s3,
        bucket,
        "big",
        ["ObjectParts"],
        MaxParts=2,
        PartNumberMarker=first["NextPartNumberMarker"],
    )["ObjectParts"]
    assert rest["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"]) for p in rest["Parts"]] == [(3, 7)]
    beyond = attributes(s3, bucket, "big", ["ObjectParts"], PartNumberMarker=3)["ObjectParts"]
    assert beyond.get("Parts", []) == []
    assert beyond["TotalPartsCount"] == 3


def test_versions_and_delete_markers(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="doc", Body=b"old")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="doc", Body=b"newer")["VersionId"]
    current = attributes(s3, bucket, "doc", ["ObjectSize"])
    assert (current["VersionId"], current["ObjectSize"]) == (new, 5)
    older = attributes(s3, bucket, "doc", ["ObjectSize", "ETag"], VersionId=old)
    assert (older["VersionId"], older["ObjectSize"]) == (old, 3)
    assert older["ETag"] == hashlib.md5(b"old").hexdigest()
    marker = s3.delete_object(Bucket=bucket, Key="doc")["VersionId"]
    status, headers, body = signed(
        gateway_in_each_mode,
        "GET",
        f"{bucket}/doc?attributes",
        headers={"x-amz-object-attributes": "ObjectSize"},
    )
    assert (status, code_of(body)) == (404, "NoSuchKey")
    assert headers["x-amz-delete-marker"] == "true"
    assert headers["x-amz-version-id"] == marker
    status, headers, _ = signed(
        gateway_in_each_mode,
        "GET",
        f"{bucket}/doc?attributes&versionId={marker}",
        headers={"x-amz-object-attributes": "ObjectSize"},
    )
    assert status == 405
    assert headers["x-amz-delete-marker"] == "true"
    assert attributes(s3, bucket, "doc", ["ObjectSize"], VersionId=old)["ObjectSize"] == 3
    assert error_code(
        lambda: attributes(s3, bucket, "doc", ["ObjectSize"], VersionId="3HL4kqtJlcpXroDTDmJ")
    ) == ("NoSuchVersion", 404)


def test_missing_object(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    assert error_code(lambda: attributes(s3_in_each_mode, bucket_in_each_mode, "nothing")) == (
        "NoSuchKey",
        404,
    )
    assert error_code(lambda: attributes(s3_in_each_mode, "no-such-bucket-attrs", "k")) == (
        "NoSuchBucket",
        404,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-amz-object-attributes": ""},
        {"x-amz-object-attributes": " , "},
        {"x-amz-object-attributes": "ETag,Owner"},
        {"x-amz-object-attributes": "etag"},
        {"x-amz-object-attributes": "ObjectParts", "x-amz-max-parts": "many"},
        {"x-amz-object-attributes": "ObjectParts", "x-amz-part-number-marker": "-1"},
    ],
)
def test_bad_requests_are_invalid_argument(
    gateway_in_each_mode: GatewayHandle,
    s3_in_each_mode: S3Client,
    bucket_in_each_mode: str,
    headers: dict[str, str],
) -> None:
    s3_in_each_mode.put_object(Bucket=bucket_in_each_mode, Key="k", Body=b"x")
    status, _, body = signed(
        gateway_in_each_mode, "GET", f"{bucket_in_each_mode}/k?attributes", headers=headers
    )
    assert (status, code_of(body)) == (400, "InvalidArgument")


def test_unknown_attribute_through_boto3(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3_in_each_mode.put_object(Bucket=bucket_in_each_mode, Key="k", Body=b"x")
    assert error_code(
        lambda: attributes(s3_in_each_mode, bucket_in_each_mode, "k", ["ETag", "Owner"])
    ) == ("InvalidArgument", 400)


def test_who_may_read_attributes(
    gateway_in_each_mode: GatewayHandle,
    s3_in_each_mode: S3Client,
    bucket_in_each_mode: str,
    user_in_each_mode: tuple[str, S3Client],
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    key, client = user_in_each_mode
    s3.put_object(Bucket=bucket, Key="private", Body=b"p")
    s3.put_object(Bucket=bucket, Key="readable", Body=b"r", ACL="authenticated-read")
    assert error_code(lambda: attributes(client, bucket, "private")) == ("AccessDenied", 403)
    # The object's own ACL (READ) lets a caller read its attributes, as on AWS.
    assert attributes(client, bucket, "readable", ["ObjectSize"])["ObjectSize"] == 1
    # A missing key is AccessDenied to a caller who may not list the bucket.
    assert error_code(lambda: attributes(client, bucket, "missing")) == ("AccessDenied", 403)
    # A bucket policy can grant the action itself; s3:GetObject alone does not.
    get_only = {
        "Effect": "Allow",
        "Principal": {"AWS": key},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(get_only))
    assert error_code(lambda: attributes(client, bucket, "private")) == ("AccessDenied", 403)
    s3.put_bucket_policy(
        Bucket=bucket, Policy=_policy({**get_only, "Action": "s3:GetObjectAttributes"})
    )
    assert attributes(client, bucket, "private", ["ObjectSize"])["ObjectSize"] == 1
    # Anonymous callers: the object ACL decides too.
    s3.put_object_acl(Bucket=bucket, Key="readable", ACL="public-read")
    status, _ = _anonymous_attributes(gateway_in_each_mode, f"{bucket}/readable")
    assert status == 200
    status, _ = _anonymous_attributes(gateway_in_each_mode, f"{bucket}/private")
    assert status == 403


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _anonymous_attributes(gateway: GatewayHandle, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{gateway.endpoint}/{path}?attributes", headers={"x-amz-object-attributes": "ETag"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
