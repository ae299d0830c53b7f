"""ListObjects v1 and v2: prefixes, delimiters, pagination, URL encoding."""

from __future__ import annotations

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import error_code

KEYS = [
    "a.txt",
    "docs/guide.md",
    "docs/img/logo.png",
    "docs/img/photo.jpg",
    "docs/readme.md",
    "logs/2026/11/01.log",
    "logs/2026/11/02.log",
    "logs/2026/12/01.log",
    "z.txt",
]


@pytest.fixture
def tree(s3: S3Client, bucket: str) -> str:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def test_v2_lists_everything_in_order(s3: S3Client, tree: str) -> None:
    listed = s3.list_objects_v2(Bucket=tree)
    assert [o["Key"] for o in listed["Contents"]] == KEYS
    assert listed["KeyCount"] == len(KEYS)
    assert listed["IsTruncated"] is False
    first = listed["Contents"][0]
    assert first["Size"] == len(b"a.txt")
    assert first["StorageClass"] == "STANDARD"


def test_v2_prefix_and_delimiter(s3: S3Client, tree: str) -> None:
    top = s3.list_objects_v2(Bucket=tree, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt", "z.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["docs/", "logs/"]
    assert top["KeyCount"] == 4
    docs = s3.list_objects_v2(Bucket=tree, Prefix="docs/", Delimiter="/")
    assert [o["Key"] for o in docs["Contents"]] == ["docs/guide.md", "docs/readme.md"]
    assert [p["Prefix"] for p in docs["CommonPrefixes"]] == ["docs/img/"]
    nested = s3.list_objects_v2(Bucket=tree, Prefix="logs/2026/", Delimiter="/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["logs/2026/11/", "logs/2026/12/"]
    assert "Contents" not in nested


def test_v2_pagination_with_continuation(s3: S3Client, tree: str) -> None:
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=tree, MaxKeys=2, **kwargs)  # type: ignore[arg-type]
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])]
        assert page["MaxKeys"] == 2
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == KEYS
    assert pages == 5


def test_v2_pagination_with_delimiter_counts_prefixes(s3: S3Client, tree: str) -> None:
    page = s3.list_objects_v2(Bucket=tree, Delimiter="/", MaxKeys=2)
    assert page["KeyCount"] == 2
    assert page["IsTruncated"] is True
    rest = s3.list_objects_v2(
        Bucket=tree, Delimiter="/", ContinuationToken=page["NextContinuationToken"]
    )
    first = [o["Key"] for o in page.get("Contents", [])] + [
        p["Prefix"] for p in page.get("CommonPrefixes", [])
    ]
    second = [o["Key"] for o in rest.get("Contents", [])] + [
        p["Prefix"] for p in rest.get("CommonPrefixes", [])
    ]
    assert sorted(first + second) == ["a.txt", "docs/", "logs/", "z.txt"]


def test_v2_start_after(s3: S3Client, tree: str) -> None:
    listed = s3.list_objects_v2(Bucket=tree, StartAfter="docs/readme.md")
    assert [o["Key"] for o in listed["Contents"]] == KEYS[5:]
    assert listed["StartAfter"] == "docs/readme.md"


def test_v2_paginator(s3: S3Client, tree: str) -> None:
    paginator = s3.get_paginator("list_objects_v2")
    keys = [
        o["Key"]
        for page in paginator.paginate(Bucket=tree, PaginationConfig={"PageSize": 3})
        for o in page.get("Contents", [])
    ]
    assert keys == KEYS


def test_v1_marker_and_next_marker(s3: S3Client, tree: str) -> None:
    page = s3.list_objects(Bucket=tree, MaxKeys=3)
    assert [o["Key"] for o in page["Contents"]] == KEYS[:3]
    assert page["IsTruncated"] is True
    assert "NextMarker" not in page  # only with a delimiter
    rest = s3.list_objects(Bucket=tree, Marker=KEYS[2])
    assert [o["Key"] for o in rest["Contents"]] == KEYS[3:]
    with_delimiter = s3.list_objects(Bucket=tree, Delimiter="/", MaxKeys=2)
    assert with_delimiter["NextMarker"] == "docs/"
    paginator = s3.get_paginator("list_objects")
    keys = [
        o["Key"]
        for p in paginator.paginate(Bucket=tree, PaginationConfig={"PageSize": 2})
        for o in p.get("Contents", [])
    ]
    assert keys == KEYS


def test_max_keys_zero(s3: S3Client, tree: str) -> None:
    page = s3.list_objects_v2(Bucket=tree, MaxKeys=0)
    assert page["KeyCount"] == 0
    assert "Contents" not in page


def test_url_encoding(s3: S3Client, bucket: str) -> None:
    key = "with space/ünïcode+plus&amp"
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    # boto3 asks for encoding-type=url by default and decodes the answer.
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == [key]
    v1 = s3.list_objects(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["with space/"]


def test_utf8_binary_order(s3: S3Client, bucket: str) -> None:
    keys = ["Z", "a", "é", "€", "😀", "ḿ"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode("utf-8"))


def test_invalid_arguments(s3: S3Client, bucket: str) -> None:
    assert error_code(lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=-1)) == (
        "InvalidArgument",
        400,
    )
    assert error_code(
        lambda: s3.list_objects_v2(Bucket=bucket, EncodingType="base64")  # type: ignore[arg-type]
    ) == ("InvalidArgument", 400)
