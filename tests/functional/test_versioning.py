"""Versioning: enable, suspend, version ids, delete markers, ListObjectVersions."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import error_code


def enable(s3: S3Client, bucket: str, status: str = "Enabled") -> None:
    s3.put_bucket_versioning(
        Bucket=bucket,
        VersioningConfiguration={"Status": status},  # type: ignore[typeddict-item]
    )


def test_status_roundtrip(s3: S3Client, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_versions_and_delete_markers(s3: S3Client, bucket: str) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    assert s3.get_object(Bucket=bucket, Key="doc", VersionId=v1)["Body"].read() == b"one"
    deleted = s3.delete_object(Bucket=bucket, Key="doc")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="doc")) == ("NoSuchKey", 404)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    versions = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in versions["Versions"]] == [v2, v1]
    assert [v["IsLatest"] for v in versions["Versions"]] == [False, False]
    assert [(m["VersionId"], m["IsLatest"]) for m in versions["DeleteMarkers"]] == [(marker, True)]
    # GET of a delete marker by version id is 405 MethodNotAllowed.
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="doc", VersionId=marker)) == (
        "MethodNotAllowed",
        405,
    )
    # Removing the marker brings the object back.
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker)
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"two"
    # Deleting a specific version removes exactly that version.
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"one"
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="doc", VersionId=v2)) == (
        "NoSuchVersion",
        404,
    )


def test_suspended_versioning_overwrites_null(s3: S3Client, bucket: str) -> None:
    enable(s3, bucket)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    enable(s3, bucket, "Suspended")
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"null-1")
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"null-2")
    assert first["VersionId"] == second["VersionId"] == "null"
    versions = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted([kept, "null"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"null-2"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=kept)["Body"].read() == b"versioned"


def test_list_versions_pagination(s3: S3Client, bucket: str) -> None:
    enable(s3, bucket)
    written = {}
    for key in ("a", "b"):
        written[key] = [
            s3.put_object(Bucket=bucket, Key=key, Body=str(i).encode())["VersionId"]
            for i in range(3)
        ]
    seen: list[tuple[str, str]] = []
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}):
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    expected = [(key, vid) for key in ("a", "b") for vid in reversed(written[key])]
    assert seen == expected


def test_delete_objects_in_versioned_bucket(s3: S3Client, bucket: str) -> None:
    enable(s3, bucket)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})
    assert result["Deleted"][0]["DeleteMarker"] is True
    marker = result["Deleted"][0]["DeleteMarkerVersionId"]
    result = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "k", "VersionId": marker}, {"Key": "k", "VersionId": version}]},
    )
    assert len(result["Deleted"]) == 2
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)


def test_malformed_versioning_configuration(s3: S3Client, bucket: str) -> None:
    assert (
        error_code(
            lambda: s3.put_bucket_versioning(
                Bucket=bucket,
                VersioningConfiguration={"Status": "Sometimes"},  # type: ignore[typeddict-item]
            )
        )[1]
        == 400
    )


def test_copy_restores_an_older_version_onto_its_own_key(s3: S3Client, bucket: str) -> None:
    """AWS's documented restore: copy a previous version over the current one."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old", Metadata={"v": "1"})["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    copied = s3.copy_object(
        Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k", "VersionId": old}
    )
    assert copied["CopySourceVersionId"] == old
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"old"
    assert got["Metadata"] == {"v": "1"}
    # Copying the current version onto itself unchanged is still refused.
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"})
    assert caught.value.response["Error"]["Code"] == "InvalidRequest"
