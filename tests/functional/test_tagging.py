"""Object and bucket tagging against a real gateway, with boto3."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import TagTypeDef

from tests.functional.conftest import (
    ROOT_ACCESS_KEY,
    ROOT_SECRET_KEY,
    GatewayHandle,
    error_code,
)

PART = 5 * 1024**2


def tag_set(pairs: dict[str, str]) -> list[TagTypeDef]:
    return [{"Key": key, "Value": value} for key, value in pairs.items()]


def as_dict(tags: Any) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags}


def signed_put(gateway: GatewayHandle, path: str, body: bytes) -> tuple[int, bytes]:
    """A raw signed PUT, for bodies boto3 would refuse to build."""
    url = f"{gateway.endpoint}/{path}"
    request = AWSRequest(method="PUT", url=url, data=body)
    S3SigV4Auth(Credentials(ROOT_ACCESS_KEY, ROOT_SECRET_KEY), "s3", "us-east-1").add_auth(request)
    http = urllib.request.Request(
        url, data=body, method="PUT", headers=dict(request.headers.items())
    )
    try:
        with urllib.request.urlopen(http) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# --- object tagging -------------------------------------------------------------------------


def test_object_tagging_put_get_delete(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    tags = {"project": "nimbus", "stage": "test run", "empty": ""}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tag_set(tags)})
    got = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert as_dict(got["TagSet"]) == tags
    # Put replaces the whole set.
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tag_set({"only": "one"})})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]) == {"only": "one"}
    deleted = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    # The object itself is untouched.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"


def test_tags_go_with_the_object_they_tag(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="re", Body=b"one", Tagging="first=1")
    s3.delete_object(Bucket=bucket, Key="re")
    s3.put_object(Bucket=bucket, Key="re", Body=b"two")
    assert s3.get_object_tagging(Bucket=bucket, Key="re")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="re")
    # An overwrite without tags drops them as well.
    s3.put_object(Bucket=bucket, Key="re", Body=b"three", Tagging="third=3")
    assert s3.get_object(Bucket=bucket, Key="re")["TagCount"] == 1
    s3.put_object(Bucket=bucket, Key="re", Body=b"four")
    assert s3.get_object_tagging(Bucket=bucket, Key="re")["TagSet"] == []


def test_object_tagging_on_missing_key(s3: S3Client, bucket: str) -> None:
    assert error_code(lambda: s3.get_object_tagging(Bucket=bucket, Key="nope")) == (
        "NoSuchKey",
        404,
    )
    assert error_code(
        lambda: s3.put_object_tagging(
            Bucket=bucket, Key="nope", Tagging={"TagSet": tag_set({"a": "b"})}
        )
    ) == ("NoSuchKey", 404)


def test_object_tagging_per_version(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="v", Body=b"two")["VersionId"]
    put = s3.put_object_tagging(
        Bucket=bucket, Key="v", VersionId=first, Tagging={"TagSet": tag_set({"gen": "1"})}
    )
    assert put["VersionId"] == first
    s3.put_object_tagging(Bucket=bucket, Key="v", Tagging={"TagSet": tag_set({"gen": "2"})})
    old = s3.get_object_tagging(Bucket=bucket, Key="v", VersionId=first)
    assert (old["VersionId"], as_dict(old["TagSet"])) == (first, {"gen": "1"})
    latest = s3.get_object_tagging(Bucket=bucket, Key="v")
    assert (latest["VersionId"], as_dict(latest["TagSet"])) == (second, {"gen": "2"})
    deleted = s3.delete_object_tagging(Bucket=bucket, Key="v", VersionId=first)
    assert deleted["VersionId"] == first
    assert s3.get_object_tagging(Bucket=bucket, Key="v", VersionId=first)["TagSet"] == []
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="v")["TagSet"]) == {"gen": "2"}
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="v", VersionId=first)
    assert s3.get_object(Bucket=bucket, Key="v", VersionId=second)["TagCount"] == 1


def test_tagging_header_on_put_object_and_tag_count(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="h", Body=b"x", Tagging="a=1&b=two%20words&c=")
    tags = as_dict(s3.get_object_tagging(Bucket=bucket, Key="h")["TagSet"])
    assert tags == {"a": "1", "b": "two words", "c": ""}
    assert s3.get_object(Bucket=bucket, Key="h")["TagCount"] == 3
    s3.put_object(Bucket=bucket, Key="untagged", Body=b"x")
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="untagged")
    # Overwriting without the header drops the old tags.
    s3.put_object(Bucket=bucket, Key="h", Body=b"y")
    assert s3.get_object_tagging(Bucket=bucket, Key="h")["TagSet"] == []


def test_tagging_header_on_multipart_upload(s3: S3Client, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="team=storage&tier=1")
    upload_id = upload["UploadId"]
    first = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"a" * PART
    )
    second = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=2, Body=b"tail")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": first["ETag"]},
                {"PartNumber": 2, "ETag": second["ETag"]},
            ]
        },
    )
    tags = as_dict(s3.get_object_tagging(Bucket=bucket, Key="mp")["TagSet"])
    assert tags == {"team": "storage", "tier": "1"}
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["ContentLength"] == PART + 4
    assert "x-nimbus-tags" not in head["Metadata"]
    assert s3.get_object(Bucket=bucket, Key="mp", Range="bytes=0-0")["TagCount"] == 2


def test_bad_tagging_header_on_multipart_upload(s3: S3Client, bucket: str) -> None:
    assert error_code(
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="aws:x=1")
    ) == ("InvalidTag", 400)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_copy_object_tagging_directive(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", Tagging="origin=src&n=1")
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "src"})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="copied")["TagSet"]) == {
        "origin": "src",
        "n": "1",
    }
    s3.copy_object(
        Bucket=bucket,
        Key="explicit-copy",
        CopySource={"Bucket": bucket, "Key": "src"},
        TaggingDirective="COPY",
        Tagging="ignored=yes",
    )
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="explicit-copy")["TagSet"]) == {
        "origin": "src",
        "n": "1",
    }
    s3.copy_object(
        Bucket=bucket,
        Key="replaced",
        CopySource={"Bucket": bucket, "Key": "src"},
        TaggingDirective="REPLACE",
        Tagging="fresh=tag",
    )
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="replaced")["TagSet"]) == {
        "fresh": "tag"
    }
    s3.copy_object(
        Bucket=bucket,
        Key="stripped",
        CopySource={"Bucket": bucket, "Key": "src"},
        TaggingDirective="REPLACE",
    )
    assert s3.get_object_tagging(Bucket=bucket, Key="stripped")["TagSet"] == []
    assert s3.get_object(Bucket=bucket, Key="stripped")["Body"].read() == b"payload"


def test_copy_object_with_bad_tagging_directive(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload")
    assert error_code(
        lambda: s3.copy_object(
            Bucket=bucket,
            Key="dst",
            CopySource={"Bucket": bucket, "Key": "src"},
            TaggingDirective="MERGE",  # type: ignore[arg-type]
        )
    ) == ("InvalidArgument", 400)


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ([{"Key": f"k{n}", "Value": "v"} for n in range(11)], "eleven tags"),
        ([{"Key": "k" * 129, "Value": "v"}], "key too long"),
        ([{"Key": "k", "Value": "v" * 257}], "value too long"),
        ([{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}], "duplicate keys"),
        ([{"Key": "aws:reserved", "Value": "v"}], "aws: prefix"),
        ([{"Key": "AWS:Reserved", "Value": "v"}], "AWS: prefix, any case"),
        ([{"Key": "bad<char>", "Value": "v"}], "character outside the allowed set"),
    ],
)
def test_invalid_object_tags(s3: S3Client, bucket: str, tags: list[TagTypeDef], why: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    assert error_code(
        lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tags})
    ) == ("InvalidTag", 400), why
    # A refused set leaves the old one in place.
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]) == {"keep": "me"}


def test_ten_object_tags_and_limits_are_accepted(s3: S3Client, bucket: str) -> None:
    tags = {f"k{n}": "v" for n in range(9)} | {"k" * 128: "v" * 256}
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tag_set(tags)})
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]) == tags


@pytest.mark.parametrize(
    "header",
    [
        "&".join(f"k{n}=v" for n in range(11)),
        "dup=1&dup=2",
        "aws:key=v",
        f"{'k' * 129}=v",
    ],
)
def test_invalid_tagging_header_on_put_object(s3: S3Client, bucket: str, header: str) -> None:
    assert error_code(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging=header)) == (
        "InvalidTag",
        400,
    )
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="k")) == ("404", 404)


@pytest.mark.parametrize(
    "body",
    [
        b"<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>",
        b"<Tagging></Tagging>",
        b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>",
        b"not xml at all",
        b"<Other><TagSet/></Other>",
    ],
)
def test_malformed_object_tagging_xml(
    gateway: GatewayHandle, s3: S3Client, bucket: str, body: bytes
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    status, answer = signed_put(gateway, f"{bucket}/k?tagging", body)
    assert status == 400
    assert b"<Code>MalformedXML</Code>" in answer


def test_empty_tag_key_is_invalid(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    body = b"<Tagging><TagSet><Tag><Key></Key><Value>v</Value></Tag></TagSet></Tagging>"
    status, answer = signed_put(gateway, f"{bucket}/k?tagging", body)
    assert status == 400
    assert b"<Code>InvalidTag</Code>" in answer


# --- bucket tagging -------------------------------------------------------------------------


def test_bucket_tagging_put_get_delete(s3: S3Client, bucket: str) -> None:
    assert error_code(lambda: s3.get_bucket_tagging(Bucket=bucket)) == ("NoSuchTagSet", 404)
    tags = {"cost-centre": "42", "env": "functional tests"}
    put = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_set(tags)})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == tags
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_set({"env": "prod"})})
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == {"env": "prod"}
    deleted = s3.delete_bucket_tagging(Bucket=bucket)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_code(lambda: s3.get_bucket_tagging(Bucket=bucket)) == ("NoSuchTagSet", 404)
    # Deleting again is harmless.
    s3.delete_bucket_tagging(Bucket=bucket)


def test_bucket_tagging_allows_fifty_not_fifty_one(s3: S3Client, bucket: str) -> None:
    fifty = {f"k{n}": str(n) for n in range(50)}
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_set(fifty)})
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == fifty
    fifty_one = fifty | {"k50": "50"}
    assert error_code(
        lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag_set(fifty_one)})
    ) == ("InvalidTag", 400)
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == fifty


@pytest.mark.parametrize(
    "tags",
    [
        [{"Key": "aws:cloudformation", "Value": "x"}],
        [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}],
        [{"Key": "k" * 129, "Value": "v"}],
    ],
)
def test_invalid_bucket_tags(s3: S3Client, bucket: str, tags: list[TagTypeDef]) -> None:
    assert error_code(lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})) == (
        "InvalidTag",
        400,
    )
    assert error_code(lambda: s3.get_bucket_tagging(Bucket=bucket)) == ("NoSuchTagSet", 404)


def test_malformed_bucket_tagging_xml(gateway: GatewayHandle, bucket: str) -> None:
    status, answer = signed_put(gateway, f"{bucket}?tagging", b"<Tagging><TagSet>")
    assert status == 400
    assert b"<Code>MalformedXML</Code>" in answer


def test_bucket_tagging_on_missing_bucket(s3: S3Client) -> None:
    assert error_code(lambda: s3.get_bucket_tagging(Bucket="no-such-bucket-tagging")) == (
        "NoSuchBucket",
        404,
    )
