"""ListBuckets as AWS pages it (max-buckets, continuation-token, prefix, bucket-region), with
boto3 and its paginator, against a real gateway, standalone and in a cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import error_code


@pytest.fixture
def s3(s3_in_each_mode: S3Client) -> S3Client:
    """Standalone, and a gateway of a 3-node cluster (the catalog on the ring)."""
    return s3_in_each_mode


@pytest.fixture
def five_buckets(s3: S3Client) -> Iterator[list[str]]:
    prefix = f"page-{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}-{n}" for n in (3, 1, 4, 0, 2)]
    for name in names:
        s3.create_bucket(Bucket=name)
    yield sorted(names)
    for name in names:
        s3.delete_bucket(Bucket=name)


def test_pages_of_two_walk_every_bucket_in_name_order_once(
    s3: S3Client, five_buckets: list[str]
) -> None:
    prefix = five_buckets[0].rpartition("-")[0]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        asked = {"MaxBuckets": 2, "Prefix": prefix}
        if token:
            asked["ContinuationToken"] = token
        page = s3.list_buckets(**asked)  # type: ignore[arg-type]
        pages += 1
        seen += [bucket["Name"] for bucket in page["Buckets"]]
        assert page["Prefix"] == prefix
        assert all(bucket["BucketRegion"] == "us-east-1" for bucket in page["Buckets"])
        token = page.get("ContinuationToken")
        if not token:
            break
    assert seen == five_buckets
    assert pages == 3


def test_boto3_s_paginator_gets_them_all(s3: S3Client, five_buckets: list[str]) -> None:
    prefix = five_buckets[0].rpartition("-")[0]
    paginator = s3.get_paginator("list_buckets")
    names = [
        bucket["Name"]
        for page in paginator.paginate(Prefix=prefix, PaginationConfig={"PageSize": 2})
        for bucket in page["Buckets"]
    ]
    assert names == five_buckets


def test_without_parameters_every_bucket_comes_without_a_token_or_region(
    s3: S3Client, five_buckets: list[str]
) -> None:
    listed = s3.list_buckets()
    names = [bucket["Name"] for bucket in listed["Buckets"]]
    assert set(five_buckets) <= set(names)
    assert names == sorted(names)
    assert "ContinuationToken" not in listed
    assert all("BucketRegion" not in bucket for bucket in listed["Buckets"])


def test_bucket_region_filters(s3: S3Client, five_buckets: list[str]) -> None:
    prefix = five_buckets[0].rpartition("-")[0]
    here = s3.list_buckets(Prefix=prefix, BucketRegion="us-east-1")
    assert [bucket["Name"] for bucket in here["Buckets"]] == five_buckets
    elsewhere = s3.list_buckets(Prefix=prefix, BucketRegion="eu-west-1")
    assert elsewhere["Buckets"] == []


@pytest.mark.parametrize("value", ["0", "10001", "-1", "ten", "1.5"])
def test_max_buckets_out_of_range_is_invalid_argument(s3: S3Client, value: str) -> None:
    """Sent as the raw query parameter (boto3 would refuse some of them itself)."""

    def add_parameter(request: AWSRequest, **_: object) -> None:
        url = str(request.url)
        separator = "&" if "?" in url else "?"
        request.url = f"{url}{separator}max-buckets={quote(value)}"

    s3.meta.events.register("before-sign.s3.ListBuckets", add_parameter)
    try:
        assert error_code(s3.list_buckets) == ("InvalidArgument", 400)
    finally:
        s3.meta.events.unregister("before-sign.s3.ListBuckets", add_parameter)


def test_a_token_that_is_not_one_is_invalid_argument(s3: S3Client) -> None:
    with pytest.raises(ClientError) as caught:
        s3.list_buckets(ContinuationToken="%%%not-base64%%%")
    error = caught.value.response["Error"]
    assert (error["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidArgument",
        400,
    )
    assert "continuation token" in error["Message"]
