"""What AWS answers that clients rely on: non-ASCII user metadata (RFC 2047), x-amz-expiration
on writes, and GetObject / HeadObject with ``partNumber`` (good and bad), on the standalone
gateway and over a storage cluster."""

from __future__ import annotations

import base64
from email.header import decode_header, make_header

import pytest
from botocore.exceptions import ParamValidationError
from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import CopySourceTypeDef

from tests.functional.conftest import ROOT_ACCESS_KEY, ROOT_SECRET_KEY, GatewayHandle, error_code
from tests.functional.raw_http import Answer, Endpoint, read_answer


def _raw(gateway: GatewayHandle, method: str, path: str, headers: dict[str, str]) -> Answer:
    endpoint = Endpoint.of(gateway.endpoint, ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
    body = b"x" if method == "PUT" else None
    if body is not None:
        headers = {"Content-Length": str(len(body)), **headers}
    with endpoint.connect() as sock:
        sock.sendall(endpoint.signed_head(method, path, headers, body) + (body or b""))
        return read_answer(sock)


def _word(text: str) -> str:
    return f"=?UTF-8?B?{base64.b64encode(text.encode()).decode()}?="


# --- user metadata ----------------------------------------------------------------------------


def test_non_ascii_metadata_round_trips_as_encoded_words(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    with pytest.raises(ParamValidationError):  # boto3 sends only ASCII: clients pre-encode
        s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata={"k": "café"})
    sent = {
        "b": _word("café ☕"),
        "q": "=?UTF-8?Q?na=C3=AFve?=",
        "latin": "=?ISO-8859-1?Q?=E9t=E9?=",
        "ascii": "plain text",
        "broken": "=?UTF-8?B?!!!?=",
    }
    s3.put_object(Bucket=bucket, Key="m", Body=b"x", Metadata=sent)
    expected = {
        "b": _word("café ☕"),
        "q": _word("naïve"),
        "latin": _word("été"),
        "ascii": "plain text",
        "broken": "=?UTF-8?B?!!!?=",  # not a word that decodes: kept as sent
    }
    assert s3.head_object(Bucket=bucket, Key="m")["Metadata"] == expected
    assert s3.get_object(Bucket=bucket, Key="m")["Metadata"] == expected
    # A copy keeps the stored (decoded) values, answered the same way.
    source: CopySourceTypeDef = {"Bucket": bucket, "Key": "m"}
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=source)
    assert s3.head_object(Bucket=bucket, Key="copy")["Metadata"] == expected
    # An encoded word that decodes to ASCII is stored, and answered, as that ASCII.
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", Metadata={"k": _word("abc")})
    assert s3.head_object(Bucket=bucket, Key="a")["Metadata"] == {"k": "abc"}


def test_raw_utf8_metadata_is_answered_encoded(
    gateway_in_each_mode: GatewayHandle, s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    gateway, s3, bucket = gateway_in_each_mode, s3_in_each_mode, bucket_in_each_mode
    answer = _raw(gateway, "PUT", f"/{bucket}/raw", {"x-amz-meta-city": "Zürich 東京"})
    assert answer.status == 200, answer.body
    got = s3.head_object(Bucket=bucket, Key="raw")["Metadata"]["city"]
    assert got == _word("Zürich 東京")
    assert str(make_header(decode_header(got))) == "Zürich 東京"


def test_the_metadata_limit_counts_decoded_utf8(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    # 1023 "é" and the name "k": 2047 bytes stored, though the encoded word is 2.7 KB.
    fits = _word("é" * 1023)
    s3.put_object(Bucket=bucket, Key="big", Body=b"x", Metadata={"k": fits})
    assert s3.head_object(Bucket=bucket, Key="big")["Metadata"] == {"k": fits}
    too_big = _word("é" * 1024)
    assert error_code(
        lambda: s3.put_object(Bucket=bucket, Key="big2", Body=b"x", Metadata={"k": too_big})
    ) == ("MetadataTooLarge", 400)


# --- x-amz-expiration on writes -------------------------------------------------------------


def test_writes_answer_x_amz_expiration(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "tmp rule",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "tmp/"},
                    "Expiration": {"Days": 3},
                }
            ]
        },
    )
    put = s3.put_object(Bucket=bucket, Key="tmp/a", Body=b"x")
    assert put["Expiration"].endswith('rule-id="tmp%20rule"')
    assert put["Expiration"] == s3.head_object(Bucket=bucket, Key="tmp/a")["Expiration"]
    assert "Expiration" not in s3.put_object(Bucket=bucket, Key="keep/a", Body=b"x")
    source: CopySourceTypeDef = {"Bucket": bucket, "Key": "keep/a"}
    copied = s3.copy_object(Bucket=bucket, Key="tmp/copy", CopySource=source)
    assert copied["Expiration"] == s3.head_object(Bucket=bucket, Key="tmp/copy")["Expiration"]
    assert "Expiration" not in s3.copy_object(Bucket=bucket, Key="keep/copy", CopySource=source)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="tmp/mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="tmp/mp", UploadId=upload, PartNumber=1, Body=b"p")
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="tmp/mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert done["Expiration"] == s3.head_object(Bucket=bucket, Key="tmp/mp")["Expiration"]


# --- partNumber -----------------------------------------------------------------------------


def test_part_one_of_a_simple_object_is_the_whole_object_as_a_range(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="simple", Body=b"0123456789")
    for call in (s3.get_object, s3.head_object):
        got = call(Bucket=bucket, Key="simple", PartNumber=1)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == "bytes 0-9/10"
        assert got["ContentLength"] == 10
        assert "PartsCount" not in got
    assert error_code(lambda: s3.get_object(Bucket=bucket, Key="simple", PartNumber=2)) == (
        "InvalidPartNumber",
        416,
    )
    assert error_code(
        lambda: s3.get_object(Bucket=bucket, Key="simple", PartNumber=1, Range="bytes=0-1")
    ) == ("InvalidRequest", 400)


def test_parts_of_a_multipart_object(s3_in_each_mode: S3Client, bucket_in_each_mode: str) -> None:
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"only")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=1)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206  # even when it is every byte
    assert (got["ContentRange"], got["PartsCount"]) == ("bytes 0-3/4", 1)
    assert got["Body"].read() == b"only"
    assert error_code(lambda: s3.head_object(Bucket=bucket, Key="mp", PartNumber=2)) == (
        "416",
        416,
    )


@pytest.mark.parametrize("value", ["0", "10001", "-1", "abc", "1.5", "", "99999999999999"])
def test_a_part_number_out_of_range_is_invalid_argument(
    gateway_in_each_mode: GatewayHandle,
    s3_in_each_mode: S3Client,
    bucket_in_each_mode: str,
    value: str,
) -> None:
    gateway, s3, bucket = gateway_in_each_mode, s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    answer = _raw(gateway, "GET", f"/{bucket}/k?partNumber={value}", {})
    assert (answer.status, answer.code) == (400, "InvalidArgument")
    assert b"Part number must be an integer between 1 and 10000, inclusive" in answer.body
    assert b"<ArgumentName>partNumber</ArgumentName>" in answer.body
    assert f"<ArgumentValue>{value}</ArgumentValue>".encode() in answer.body
    # Checked before the object is looked up: a missing key answers the same.
    answer = _raw(gateway, "GET", f"/{bucket}/missing?partNumber={value}", {})
    assert (answer.status, answer.code) == (400, "InvalidArgument")


# --- what every answer carries ------------------------------------------------------------------


def test_streamed_answers_carry_the_request_id(
    s3_in_each_mode: S3Client, bucket_in_each_mode: str
) -> None:
    """GetObject streams its answer from the handler; it names its request as every answer
    does (and as its error would)."""
    s3, bucket = s3_in_each_mode, bucket_in_each_mode
    s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 1000)
    seen: list[dict[str, str]] = []
    for call in (
        lambda: s3.get_object(Bucket=bucket, Key="k"),
        lambda: s3.get_object(Bucket=bucket, Key="k", Range="bytes=0-9"),
        lambda: s3.head_object(Bucket=bucket, Key="k"),
    ):
        headers = call()["ResponseMetadata"]["HTTPHeaders"]
        seen.append(headers)
    ids = [headers.get("x-amz-request-id", "") for headers in seen]
    assert all(ids), seen
    assert len(set(ids)) == len(ids)
    assert {headers.get("server") for headers in seen} == {"Nimbus"}
