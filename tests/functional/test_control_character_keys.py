"""Keys holding control characters are valid S3 keys: stored, listed, read, copied, deleted.

In a URL they are percent-encoded (``%0A``). XML 1.0 carries TAB, LF and CR (as ``&#13;``) but no
other C0 control character: listings return such keys intact with ``encoding-type=url``, which
boto3 sends by default, and DeleteObjects can name them only when XML can carry them, as on AWS.
Run on a standalone gateway and on a storage cluster.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import error_code
from tests.functional.test_exact_keys import listed_keys, rewriting_bodies

CONTROL_KEYS = [
    "line1\nline2",
    "tab\there",
    "cr\rkey",
    "crlf\r\nkey",
    "\x01ctrl",
    "bell\x07and\x1funit",
    "del\x7fkey",
    "ends with newline\n",
    "trailing space ",
    " leading",
]
XML_SAFE_KEYS = ["line1\nline2", "tab\there", "cr\rkey", "crlf\r\nkey", "ends with newline\n"]


def body_of(key: str) -> bytes:
    return f"body of {key!r}".encode()


def test_control_character_keys_round_trip(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    for key in CONTROL_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=body_of(key))
    for key in CONTROL_KEYS:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body_of(key)
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body_of(key))
    assert listed_keys(s3, bucket) == sorted(CONTROL_KEYS, key=lambda k: k.encode())
    v1 = [entry["Key"] for entry in s3.list_objects(Bucket=bucket)["Contents"]]
    versions = [entry["Key"] for entry in s3.list_object_versions(Bucket=bucket)["Versions"]]
    assert sorted(v1) == sorted(versions) == sorted(CONTROL_KEYS)
    prefixed = s3.list_objects_v2(Bucket=bucket, Prefix="line1\n")["Contents"]
    assert [entry["Key"] for entry in prefixed] == ["line1\nline2"]
    delimited = s3.list_objects_v2(Bucket=bucket, Delimiter="\n")
    assert sorted(p["Prefix"] for p in delimited["CommonPrefixes"]) == [
        "crlf\r\n",
        "ends with newline\n",
        "line1\n",
    ]

    for key in CONTROL_KEYS:
        s3.copy_object(Bucket=bucket, Key=f"copy/{key}", CopySource={"Bucket": bucket, "Key": key})
        assert s3.get_object(Bucket=bucket, Key=f"copy/{key}")["Body"].read() == body_of(key)
    for key in CONTROL_KEYS:
        s3.delete_object(Bucket=bucket, Key=key)
        assert error_code(partial(s3.head_object, Bucket=bucket, Key=key)) == ("404", 404)
    assert listed_keys(s3, bucket) == sorted(f"copy/{key}" for key in CONTROL_KEYS)


def test_listing_with_url_encoding_type_asked_for(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """Asked for explicitly, the keys come back encoded (boto3 decodes only what it asked for)."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    for key in CONTROL_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    answer = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    encoded = [entry["Key"] for entry in answer["Contents"]]
    assert "line1%0Aline2" in encoded
    assert "%01ctrl" in encoded
    assert sorted(unquote_plus(key) for key in encoded) == sorted(CONTROL_KEYS)


def with_character_references(body: bytes) -> bytes:
    """Keys written as AWS asks for in XML requests: CR and LF as character references."""
    return body.replace(b"\r", b"&#13;").replace(b"\n", b"&#10;").replace(b"\t", b"&#9;")


def test_delete_objects_names_control_character_keys_by_character_reference(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    for key in [*XML_SAFE_KEYS, "cr\nkey", "crlf\nkey"]:
        s3.put_object(Bucket=bucket, Key=key, Body=body_of(key))
    rewriting_bodies(s3, "DeleteObjects", with_character_references)
    answer = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": key} for key in XML_SAFE_KEYS]}
    )
    assert sorted(entry["Key"] for entry in answer["Deleted"]) == sorted(XML_SAFE_KEYS)
    assert "Errors" not in answer
    # The CR in a key is no LF: the keys that differ from those only there are still here.
    assert listed_keys(s3, bucket) == ["cr\nkey", "crlf\nkey"]


def test_delete_objects_cannot_carry_other_control_characters(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """XML 1.0 has no U+0001, raw or as ``&#1;``: MalformedXML, as on AWS; DeleteObject works."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="\x01ctrl", Body=b"x")
    delete: Any = {"Objects": [{"Key": "\x01ctrl"}]}
    assert error_code(lambda: s3.delete_objects(Bucket=bucket, Delete=delete)) == (
        "MalformedXML",
        400,
    )
    as_reference = rewriting_bodies(
        s3, "DeleteObjects", lambda body: body.replace(b"\x01", b"&#1;")
    )
    assert error_code(lambda: as_reference.delete_objects(Bucket=bucket, Delete=delete)) == (
        "MalformedXML",
        400,
    )
    assert listed_keys(s3, bucket) == ["\x01ctrl"]
    s3.delete_object(Bucket=bucket, Key="\x01ctrl")
    assert listed_keys(s3, bucket) == []


def test_listing_without_an_encoding_type_writes_what_xml_cannot_hold_as_aws_does(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """LF and TAB as they are, CR as ``&#13;`` (a raw one would read back as LF), and the
    characters XML 1.0 has no place for as ``&#xN;``: what AWS answers, which strict XML
    parsers refuse (boto3 makes the 200 it cannot parse a 500); hence boto3's default
    ``encoding-type=url``."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    for key in ["line1\nline2", "cr\rkey", "\x01ctrl"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    bodies: list[bytes] = []

    def drop_encoding_type(request: Any, **_: Any) -> None:
        request.url = request.url.replace("&encoding-type=url", "")

    def keep_body(response_dict: dict[str, Any], **_: Any) -> None:
        bodies.append(response_dict["body"])

    s3.meta.events.register("before-sign.s3.ListObjectsV2", drop_encoding_type)
    s3.meta.events.register("before-parse.s3.ListObjectsV2", keep_body)
    with pytest.raises(ClientError):
        s3.list_objects_v2(Bucket=bucket)
    assert b"<EncodingType>" not in bodies[0]
    for written in [b"<Key>line1\nline2</Key>", b"<Key>cr&#13;key</Key>", b"<Key>&#x1;ctrl</Key>"]:
        assert written in bodies[0]
