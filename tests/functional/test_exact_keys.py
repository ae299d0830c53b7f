"""Keys, prefixes and names are exact: white space at either end is part of them.

"a" and "a " are two objects, in every request that names them: the path of GET, HEAD and
DELETE, and the XML of DeleteObjects (``<Key> a </Key>`` is the key " a ", as on AWS). The same
goes for version ids in DeleteObjects, lifecycle prefixes and tag filters, and object tags. Run
on a standalone gateway and on a storage cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import TagTypeDef
from nimbus_storage.gateway import janitor

from tests.functional.conftest import GatewayHandle, error_code

DAY = 86400.0
NEAR_TWINS = ["a", "a ", " a", " ", "a\t"]


def listed_keys(s3: S3Client, bucket: str) -> list[str]:
    return [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def rewriting_bodies(s3: S3Client, operation: str, rewrite: Callable[[bytes], bytes]) -> S3Client:
    """``s3``, with the XML body of ``operation`` rewritten before it is checksummed and signed:
    for documents boto3 will not build."""

    def rewrite_body(params: dict[str, Any], **_: Any) -> None:
        params["body"] = rewrite(params["body"])

    s3.meta.events.register_first(f"before-call.s3.{operation}", rewrite_body)
    return s3


def put_each(s3: S3Client, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=f"body of {key!r}".encode())


def test_keys_differing_only_in_white_space_are_distinct_objects(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    put_each(s3, bucket, NEAR_TWINS)
    assert sorted(listed_keys(s3, bucket)) == sorted(NEAR_TWINS)
    for key in NEAR_TWINS:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == f"body of {key!r}".encode()
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(f"body of {key!r}")
    s3.delete_object(Bucket=bucket, Key="a ")
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="a ")) == ("404", 404)
    assert sorted(listed_keys(s3, bucket)) == sorted(set(NEAR_TWINS) - {"a "})
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"body of 'a'"


def test_delete_objects_deletes_exactly_the_keys_named(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    put_each(s3, bucket, NEAR_TWINS)
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a "}]})
    assert [entry["Key"] for entry in answer["Deleted"]] == ["a "]
    assert "Errors" not in answer
    assert sorted(listed_keys(s3, bucket)) == sorted(set(NEAR_TWINS) - {"a "})

    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": " "}, {"Key": " a"}]})
    assert sorted(entry["Key"] for entry in answer["Deleted"]) == [" ", " a"]
    assert sorted(listed_keys(s3, bucket)) == ["a", "a\t"]
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"body of 'a'"


def test_delete_objects_keeps_version_ids_exact(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    padded = f" {first} "
    answer = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": padded}]}
    )
    # No version has the padded id: nothing is deleted (S3 answers Deleted for a missing one).
    assert [(e["Key"], e.get("VersionId")) for e in answer.get("Deleted", [])] == [("k", padded)]
    kept = s3.get_object(Bucket=bucket, Key="k", VersionId=first)
    assert kept["Body"].read() == b"one"


def test_delete_objects_with_an_empty_key_is_malformed(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    rewriting_bodies(s3, "DeleteObjects", lambda body: body.replace(b"<Key>k</Key>", b"<Key/>"))
    assert error_code(
        lambda: s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})
    ) == ("MalformedXML", 400)
    assert listed_keys(s3, bucket) == ["k"]


def test_lifecycle_prefix_and_tag_filters_are_exact(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": " spaced id ",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "a "},
                    "Expiration": {"Days": 1},
                },
                {
                    "ID": "tagged",
                    "Status": "Enabled",
                    "Filter": {"Tag": {"Key": " team", "Value": "blue "}},
                    "Expiration": {"Days": 1},
                },
            ]
        },
    )
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [(rule["ID"], rule["Filter"]) for rule in rules] == [
        (" spaced id ", {"Prefix": "a "}),
        ("tagged", {"Tag": {"Key": " team", "Value": "blue "}}),
    ]
    put_each(s3, bucket, ["a", "ab", "a b", "a "])
    for key, team in [("t-exact", " team=blue "), ("t-stripped", "team=blue")]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        name, value = team.split("=")
        s3.put_object_tagging(
            Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": name, "Value": value}]}
        )
    services = gateway_in_each_mode.gateway.services
    gateway_in_each_mode.call(janitor.run_pass(services, now=time.time() + 2 * DAY))
    assert sorted(listed_keys(s3, bucket)) == ["a", "ab", "t-stripped"]


def test_object_tags_are_exact(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    tags: list[TagTypeDef] = [{"Key": " k ", "Value": " v "}, {"Key": "k", "Value": "v"}]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tags})
    got = s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]
    assert sorted((tag["Key"], tag["Value"]) for tag in got) == [(" k ", " v "), ("k", "v")]


@pytest.mark.parametrize("key", ["a ", " "])
def test_a_multipart_upload_completes_under_its_exact_key(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str, key: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    put_each(s3, bucket, ["a"])
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)
    assert upload["Key"] == key
    etag = s3.upload_part(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"part"
    )["ETag"]
    listed = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [entry["Key"] for entry in listed] == [key]
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert done["Key"] == key
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"part"
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"body of 'a'"


def test_a_copy_source_that_is_not_utf_8_names_no_other_key(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """``%FF`` is no character: it must not be read as U+FFFD, the key of another object."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="\ufffd", Body=b"replacement character")

    def raw_copy_source(request: Any, **_: Any) -> None:
        request.headers.replace_header("x-amz-copy-source", f"{bucket}/%FF")

    s3.meta.events.register("before-sign.s3.CopyObject", raw_copy_source)
    assert error_code(
        lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/placeholder")
    ) == ("InvalidArgument", 400)
    assert listed_keys(s3, bucket) == ["\ufffd"]


def test_a_listing_prefix_that_is_not_utf_8_is_an_invalid_uri(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """``prefix=%FF`` is no prefix of U+FFFD's key: the URI is invalid, as a key's would be."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="\ufffd", Body=b"replacement character")

    def raw_prefix(request: Any, **_: Any) -> None:
        request.url = request.url.replace("prefix=placeholder", "prefix=%FF")

    s3.meta.events.register("before-sign.s3.ListObjectsV2", raw_prefix)
    assert error_code(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="placeholder")) == (
        "InvalidURI",
        400,
    )
