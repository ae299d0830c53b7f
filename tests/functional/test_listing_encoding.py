"""``encoding-type=url`` in listings, as AWS answers it.

AWS encodes key-valued elements like Java's URLEncoder with ``/`` kept: letters, digits and
``-_.*/`` as they are, a space as ``+``, every other byte of the UTF-8 as ``%XX`` (``~``
included). Which elements are encoded depends on the operation:

- ListObjects: Key, Prefix, Delimiter, Marker, NextMarker, CommonPrefixes/Prefix;
- ListObjectsV2: Key, Prefix, Delimiter, StartAfter, CommonPrefixes/Prefix (the continuation
  tokens are opaque and never encoded);
- ListObjectVersions: Key (versions and delete markers), Prefix, Delimiter, KeyMarker,
  NextKeyMarker, CommonPrefixes/Prefix (never the version-id markers);
- ListMultipartUploads: Key, Prefix, Delimiter, KeyMarker, NextKeyMarker,
  CommonPrefixes/Prefix (never the upload-id markers). ListParts has no encoding-type.

boto3 asks for ``encoding-type=url`` itself on the first three and then decodes (form
decoding, so ``+`` is a space and ``%2B`` a plus); asked for by the caller, the answer comes
back encoded. Raw answers are read with signed requests of our own. Run on a standalone gateway
and on a storage cluster.
"""

from __future__ import annotations

import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote, unquote_plus

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import ROOT_ACCESS_KEY, ROOT_SECRET_KEY, GatewayHandle

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

# Each key, and what AWS writes for it under encoding-type=url. Listed in UTF-8 binary order.
ENCODED = {
    "100%.csv": "100%25.csv",
    "a b": "a+b",
    "a+b": "a%2Bb",
    "dir one/\u00fc.txt": "dir+one/%C3%BC.txt",
    "emoji\U0001f600": "emoji%F0%9F%98%80",
    "line\nbreak": "line%0Abreak",
    "paren(1)&=?#.txt": "paren%281%29%26%3D%3F%23.txt",
    "plain-key_1.txt": "plain-key_1.txt",
    "tilde~star*": "tilde%7Estar*",
}
KEYS = list(ENCODED)
INVALID_MESSAGE = "Invalid Encoding Method specified in Request"


@pytest.fixture
def filled(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> str:
    for key in KEYS:
        s3_in_each_mode.put_object(Bucket=bucket_in_each_mode, Key=key, Body=b"x")
    return bucket_in_each_mode


def raw_get(gateway: GatewayHandle, bucket: str, query: str) -> tuple[int, ET.Element]:
    """A signed GET of ``/{bucket}?{query}`` (query already percent-encoded) and the parsed
    XML answer: exactly what a client reads, before any SDK decodes it."""
    url = f"{gateway.endpoint}/{bucket}?{query}"
    signed = AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    credentials = Credentials(ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(signed)
    request = urllib.request.Request(url, headers=dict(signed.headers.items()))
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, ET.fromstring(response.read())
    except HTTPError as failure:
        return failure.code, ET.fromstring(failure.read())


def texts(root: ET.Element, path: str) -> list[str]:
    return [element.text or "" for element in root.iterfind(NS + path.replace("/", f"/{NS}"))]


def text(root: ET.Element, name: str) -> str | None:
    """A child's text; listings are in the S3 namespace, error documents in none."""
    element = root.find(f"{NS}{name}")
    if element is None:
        element = root.find(name)
    return None if element is None else element.text or ""


def q(value: str) -> str:
    return quote(value, safe="")


def test_v2_asked_for_url_encodes_every_key_valued_element(
    s3_in_each_mode: S3Client, filled: str
) -> None:
    s3 = s3_in_each_mode
    listed = s3.list_objects_v2(Bucket=filled, EncodingType="url")
    assert listed["EncodingType"] == "url"
    assert [o["Key"] for o in listed["Contents"]] == [ENCODED[k] for k in KEYS]

    grouped = s3.list_objects_v2(
        Bucket=filled, EncodingType="url", Delimiter=" ", Prefix="", StartAfter="a b"
    )
    assert grouped["Delimiter"] == "+"
    assert grouped["StartAfter"] == "a+b"
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir+"]
    assert "a%2Bb" in [o["Key"] for o in grouped["Contents"]]

    nested = s3.list_objects_v2(Bucket=filled, EncodingType="url", Prefix="dir one/", Delimiter="/")
    assert nested["Prefix"] == "dir+one/"
    assert nested["Delimiter"] == "/"
    assert [o["Key"] for o in nested["Contents"]] == ["dir+one/%C3%BC.txt"]

    top = s3.list_objects_v2(Bucket=filled, EncodingType="url", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["dir+one/"]

    # The continuation token is opaque: handed back as it came, it continues the listing.
    first = s3.list_objects_v2(Bucket=filled, EncodingType="url", MaxKeys=3)
    rest = s3.list_objects_v2(
        Bucket=filled, EncodingType="url", ContinuationToken=first["NextContinuationToken"]
    )
    assert rest["ContinuationToken"] == first["NextContinuationToken"]
    paged = [o["Key"] for o in first["Contents"] + rest["Contents"]]
    assert paged == [ENCODED[k] for k in KEYS]


def test_v1_asked_for_url_encodes_markers_too(s3_in_each_mode: S3Client, filled: str) -> None:
    s3 = s3_in_each_mode
    page = s3.list_objects(Bucket=filled, EncodingType="url", Delimiter="/", MaxKeys=4)
    assert page["EncodingType"] == "url"
    assert page["Marker"] == ""
    assert [o["Key"] for o in page["Contents"]] == ["100%25.csv", "a+b", "a%2Bb"]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir+one/"]
    assert page["IsTruncated"] is True
    assert page["NextMarker"] == "dir+one/"

    # The marker goes back decoded; the answer echoes it encoded.
    rest = s3.list_objects(
        Bucket=filled, EncodingType="url", Delimiter="/", Marker=unquote_plus(page["NextMarker"])
    )
    assert rest["Marker"] == "dir+one/"
    assert [o["Key"] for o in rest["Contents"]] == [ENCODED[k] for k in KEYS[4:]]
    assert rest["IsTruncated"] is False

    prefixed = s3.list_objects(Bucket=filled, EncodingType="url", Prefix="a ", Marker="a b")
    assert prefixed["Prefix"] == "a+"
    assert prefixed["Marker"] == "a+b"
    assert "Contents" not in prefixed


def test_boto3_decodes_what_it_asked_for(s3_in_each_mode: S3Client, filled: str) -> None:
    s3 = s3_in_each_mode
    v2 = s3.list_objects_v2(Bucket=filled)
    assert [o["Key"] for o in v2["Contents"]] == KEYS
    v1 = s3.list_objects(Bucket=filled, Delimiter="/", MaxKeys=4)
    assert [o["Key"] for o in v1["Contents"]] == ["100%.csv", "a b", "a+b"]
    assert [p["Prefix"] for p in v1["CommonPrefixes"]] == ["dir one/"]
    assert v1["NextMarker"] == "dir one/"
    versions = s3.list_object_versions(Bucket=filled, Prefix="a", Delimiter=" ")
    assert versions["Prefix"] == "a"
    assert versions["Delimiter"] == " "
    assert [p["Prefix"] for p in versions["CommonPrefixes"]] == ["a "]
    assert [v["Key"] for v in versions["Versions"]] == ["a+b"]
    paginated = [
        o["Key"]
        for page in s3.get_paginator("list_objects").paginate(
            Bucket=filled, PaginationConfig={"PageSize": 2}
        )
        for o in page["Contents"]
    ]
    assert paginated == KEYS


def test_raw_answers(gateway_in_each_mode: GatewayHandle, filled: str) -> None:
    gateway = gateway_in_each_mode
    status, v2 = raw_get(gateway, filled, "list-type=2&encoding-type=url")
    assert status == 200
    assert text(v2, "EncodingType") == "url"
    assert texts(v2, "Contents/Key") == [ENCODED[k] for k in KEYS]

    status, v1 = raw_get(
        gateway, filled, f"encoding-type=url&delimiter=%2F&marker={q('a b')}&prefix={q('a')}"
    )
    assert status == 200
    assert (text(v1, "Prefix"), text(v1, "Marker"), text(v1, "Delimiter")) == ("a", "a+b", "/")
    assert texts(v1, "Contents/Key") == ["a%2Bb"]

    # Without encoding-type: the keys as they are, and no EncodingType element.
    status, plain = raw_get(gateway, filled, f"list-type=2&prefix={q('dir one/')}")
    assert status == 200
    assert text(plain, "EncodingType") is None
    assert text(plain, "Prefix") == "dir one/"
    assert texts(plain, "Contents/Key") == ["dir one/\u00fc.txt"]

    status, error = raw_get(gateway, filled, "list-type=2&encoding-type=base64")
    assert status == 400
    assert text(error, "Code") == "InvalidArgument"
    assert text(error, "Message") == INVALID_MESSAGE
    assert text(error, "ArgumentName") == "encoding-type"
    assert text(error, "ArgumentValue") == "base64"


def test_versions_encode_keys_and_key_markers_not_version_ids(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="a b", Body=b"1")
    s3.put_object(Bucket=bucket, Key="a b", Body=b"2")
    s3.put_object(Bucket=bucket, Key="a+b", Body=b"3")
    s3.delete_object(Bucket=bucket, Key="a+b")
    s3.put_object(Bucket=bucket, Key="dir one/\u00fc.txt", Body=b"4")

    first = s3.list_object_versions(Bucket=bucket, EncodingType="url", Prefix="a", MaxKeys=2)
    assert first["EncodingType"] == "url"
    assert first["Prefix"] == "a"
    assert [v["Key"] for v in first["Versions"]] == ["a+b", "a+b"]
    assert first["IsTruncated"] is True
    # "a b", encoded: the same text as the key "a+b" written plainly.
    assert first["NextKeyMarker"] == "a+b"
    version_marker = first["NextVersionIdMarker"]
    assert version_marker == first["Versions"][-1]["VersionId"]

    rest = s3.list_object_versions(
        Bucket=bucket,
        EncodingType="url",
        Prefix="a",
        KeyMarker=unquote_plus(first["NextKeyMarker"]),
        VersionIdMarker=version_marker,
    )
    assert rest["KeyMarker"] == "a+b"
    assert rest["VersionIdMarker"] == version_marker
    assert [m["Key"] for m in rest["DeleteMarkers"]] == ["a%2Bb"]
    assert [v["Key"] for v in rest["Versions"]] == ["a%2Bb"]
    assert rest["IsTruncated"] is False

    grouped = s3.list_object_versions(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert grouped["Delimiter"] == "/"
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir+one/"]

    decoded = s3.list_object_versions(Bucket=bucket, Prefix="a")
    assert [v["Key"] for v in decoded["Versions"]] == ["a b", "a b", "a+b"]
    assert [m["Key"] for m in decoded["DeleteMarkers"]] == ["a+b"]


def test_multipart_uploads_encode_keys_and_key_markers(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    keys = ["a b", "a+b", "dir one/\u00fc.txt", "tilde~star*"]
    for key in keys:
        s3.create_multipart_upload(Bucket=bucket, Key=key)

    listed = s3.list_multipart_uploads(Bucket=bucket, EncodingType="url")
    assert listed["EncodingType"] == "url"
    assert [u["Key"] for u in listed["Uploads"]] == [ENCODED[k] for k in keys]

    first = s3.list_multipart_uploads(Bucket=bucket, EncodingType="url", MaxUploads=1)
    assert first["IsTruncated"] is True
    assert first["NextKeyMarker"] == "a+b"
    rest = s3.list_multipart_uploads(
        Bucket=bucket,
        EncodingType="url",
        KeyMarker=unquote_plus(first["NextKeyMarker"]),
        UploadIdMarker=first["NextUploadIdMarker"],
    )
    assert rest["KeyMarker"] == "a+b"
    assert rest["UploadIdMarker"] == first["NextUploadIdMarker"]
    assert [u["Key"] for u in rest["Uploads"]] == [ENCODED[k] for k in keys[1:]]

    grouped = s3.list_multipart_uploads(
        Bucket=bucket, EncodingType="url", Delimiter="/", Prefix="d"
    )
    assert (grouped["Prefix"], grouped["Delimiter"]) == ("d", "/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["dir+one/"]

    # boto3 does not ask for an encoding here: the keys come back as they are.
    plain = s3.list_multipart_uploads(Bucket=bucket)
    assert "EncodingType" not in plain
    assert [u["Key"] for u in plain["Uploads"]] == keys


def test_an_encoding_type_other_than_url_is_refused_everywhere(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    bogus: Any = "base64"
    calls: list[Callable[[], object]] = [
        lambda: s3.list_objects(Bucket=bucket, EncodingType=bogus),
        lambda: s3.list_objects_v2(Bucket=bucket, EncodingType=bogus),
        lambda: s3.list_object_versions(Bucket=bucket, EncodingType=bogus),
        lambda: s3.list_multipart_uploads(Bucket=bucket, EncodingType=bogus),
    ]
    for call in calls:
        with pytest.raises(ClientError) as caught:
            call()
        error = caught.value.response["Error"]
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert (error["Code"], error["Message"]) == ("InvalidArgument", INVALID_MESSAGE)
