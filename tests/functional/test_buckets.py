"""Bucket operations against a real gateway, with boto3."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import CreateBucketConfigurationTypeDef
from nimbus_storage.gateway.config import GatewayConfig

from tests.functional.conftest import (
    ROOT_ACCESS_KEY,
    ROOT_SECRET_KEY,
    GatewayHandle,
    error_code,
    start_in_thread,
    stop_in_thread,
)


def unique(prefix: str = "b") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_create_head_list_delete(s3: S3Client) -> None:
    name = unique()
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    listed = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert name in listed
    s3.delete_bucket(Bucket=name)
    assert error_code(lambda: s3.head_bucket(Bucket=name)) == ("404", 404)


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "UpperCase",
        "under_score",
        "-leading-hyphen",
        "trailing-hyphen-",
        "two..dots",
        "192.168.1.1",
        "xn--punycode",
        "dot-.hyphen",
    ],
)
def test_invalid_bucket_names(s3: S3Client, name: str) -> None:
    assert error_code(lambda: s3.create_bucket(Bucket=name)) == ("InvalidBucketName", 400)


def test_creating_your_own_bucket_again_in_us_east_1_is_200_and_resets_its_acl(
    s3_in_each_mode: S3Client,
) -> None:
    """AWS's legacy us-east-1 answer (elsewhere: BucketAlreadyOwnedByYou, below)."""
    s3 = s3_in_each_mode
    name = unique()
    s3.create_bucket(Bucket=name, ACL="public-read")
    assert len(s3.get_bucket_acl(Bucket=name)["Grants"]) == 2
    again = s3.create_bucket(Bucket=name)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert again["Location"] == f"/{name}"
    grants = s3.get_bucket_acl(Bucket=name)["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"], "reset to private"
    s3.delete_bucket(Bucket=name)


def test_creating_your_own_bucket_again_elsewhere_is_already_owned(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    handle = start_in_thread(
        GatewayConfig(
            data_dir=tmp_path_factory.mktemp("eu"), port=0, fsync=False, region="eu-west-1"
        )
    )
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=handle.endpoint,
            aws_access_key_id=ROOT_ACCESS_KEY,
            aws_secret_access_key=ROOT_SECRET_KEY,
            region_name="eu-west-1",
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )
        where: CreateBucketConfigurationTypeDef = {"LocationConstraint": "eu-west-1"}
        s3.create_bucket(Bucket="mine", CreateBucketConfiguration=where)
        assert error_code(
            lambda: s3.create_bucket(Bucket="mine", CreateBucketConfiguration=where)
        ) == ("BucketAlreadyOwnedByYou", 409)
    finally:
        stop_in_thread(handle)


def test_delete_non_empty_bucket(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error_code(lambda: s3.delete_bucket(Bucket=bucket)) == ("BucketNotEmpty", 409)


def test_missing_bucket(s3: S3Client) -> None:
    name = unique("missing")
    assert error_code(lambda: s3.list_objects_v2(Bucket=name)) == ("NoSuchBucket", 404)
    assert error_code(lambda: s3.delete_bucket(Bucket=name)) == ("NoSuchBucket", 404)
    assert error_code(lambda: s3.put_object(Bucket=name, Key="k", Body=b"")) == (
        "NoSuchBucket",
        404,
    )


def test_bucket_location(s3: S3Client, bucket: str) -> None:
    assert s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") is None


def test_wrong_location_constraint(s3: S3Client) -> None:
    code = error_code(
        lambda: s3.create_bucket(
            Bucket=unique(), CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
    )
    assert code == ("IllegalLocationConstraintException", 400)


def test_virtual_hosted_style(
    gateway: GatewayHandle, s3: S3Client, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=bucket, Key="vh/key.txt", Body=b"virtual")
    # botocore sends http://<bucket>.localhost:<port>/vh/key.txt; resolve that to loopback.
    original = socket.getaddrinfo

    def loopback(host: str, *args: Any, **kwargs: Any) -> Any:
        return original("127.0.0.1" if host.endswith(".localhost") else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback)
    virtual = boto3.client(
        "s3",
        endpoint_url=f"http://localhost:{gateway.gateway.port}",
        aws_access_key_id=ROOT_ACCESS_KEY,
        aws_secret_access_key=ROOT_SECRET_KEY,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "virtual"}),
    )
    got = virtual.get_object(Bucket=bucket, Key="vh/key.txt")
    assert got["Body"].read() == b"virtual"
    assert [o["Key"] for o in virtual.list_objects_v2(Bucket=bucket)["Contents"]] == ["vh/key.txt"]


def test_anonymous_list_buckets_denied(gateway: GatewayHandle) -> None:
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(gateway.endpoint + "/")
    assert caught.value.code == 403
    assert b"<Code>AccessDenied</Code>" in caught.value.read()
