"""Bucket CORS configuration, preflight OPTIONS and CORS headers on actual requests."""

from __future__ import annotations

import urllib.error
import urllib.request
from email.message import Message

from mypy_boto3_s3 import S3Client
from mypy_boto3_s3.type_defs import CORSConfigurationTypeDef

from tests.functional.conftest import GatewayHandle, error_code

APP_ORIGIN = "https://app.example.com"
CONFIG: CORSConfigurationTypeDef = {
    "CORSRules": [
        {
            "ID": "app",
            "AllowedOrigins": [APP_ORIGIN],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["content-type", "x-amz-*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 600,
        },
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
    ]
}


def options(
    gateway: GatewayHandle, path: str, headers: dict[str, str]
) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(
        f"{gateway.endpoint}/{path}", method="OPTIONS", headers=headers
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def anonymous_get(
    gateway: GatewayHandle, path: str, headers: dict[str, str]
) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(f"{gateway.endpoint}/{path}", headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_put_get_delete_cors(s3: S3Client, bucket: str) -> None:
    assert error_code(lambda: s3.get_bucket_cors(Bucket=bucket)) == (
        "NoSuchCORSConfiguration",
        404,
    )
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    rules = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert len(rules) == 2
    first, second = rules
    assert first["ID"] == "app"
    assert first["AllowedOrigins"] == [APP_ORIGIN]
    assert first["AllowedMethods"] == ["GET", "PUT"]
    assert first["AllowedHeaders"] == ["content-type", "x-amz-*"]
    assert first["ExposeHeaders"] == ["ETag"]
    assert first["MaxAgeSeconds"] == 600
    assert second["AllowedOrigins"] == ["*"]
    assert second["AllowedMethods"] == ["GET", "HEAD"]
    assert "ID" not in second
    assert "MaxAgeSeconds" not in second
    deleted = s3.delete_bucket_cors(Bucket=bucket)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_code(lambda: s3.get_bucket_cors(Bucket=bucket)) == (
        "NoSuchCORSConfiguration",
        404,
    )


def test_cors_on_missing_bucket(s3: S3Client) -> None:
    assert error_code(lambda: s3.get_bucket_cors(Bucket="no-such-bucket-cors")) == (
        "NoSuchBucket",
        404,
    )
    assert error_code(
        lambda: s3.put_bucket_cors(Bucket="no-such-bucket-cors", CORSConfiguration=CONFIG)
    ) == ("NoSuchBucket", 404)


def test_preflight_allowed(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    status, headers, _ = options(
        gateway,
        f"{bucket}/some/key.txt",
        {
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-Colour",
        },
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert headers["Access-Control-Allow-Methods"] == "GET, PUT"
    assert headers["Access-Control-Allow-Headers"] == "Content-Type, X-Amz-Meta-Colour"
    assert headers["Access-Control-Expose-Headers"] == "ETag"
    assert headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in headers["Vary"]


def test_preflight_matches_wildcard_rule(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    status, headers, _ = options(
        gateway,
        bucket,
        {"Origin": "https://elsewhere.example.org", "Access-Control-Request-Method": "HEAD"},
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "GET, HEAD"
    assert headers["Access-Control-Allow-Credentials"] is None
    assert headers["Access-Control-Max-Age"] is None


def test_preflight_denied(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    for asked in (
        # PUT is allowed for the app origin only.
        {"Origin": "https://evil.example.net", "Access-Control-Request-Method": "PUT"},
        # DELETE is in no rule.
        {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "DELETE"},
        # A header no rule allows.
        {
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization",
        },
    ):
        status, headers, body = options(gateway, f"{bucket}/k", asked)
        assert status == 403, asked
        assert b"<Code>AccessForbidden</Code>" in body
        assert headers["Access-Control-Allow-Origin"] is None


def test_preflight_without_cors_configuration(gateway: GatewayHandle, bucket: str) -> None:
    status, headers, body = options(
        gateway, f"{bucket}/k", {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert status == 403
    assert b"<Code>AccessForbidden</Code>" in body
    assert headers["Access-Control-Allow-Origin"] is None


def test_preflight_on_missing_bucket(gateway: GatewayHandle) -> None:
    status, _, body = options(
        gateway,
        "no-such-bucket-preflight/k",
        {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert status == 403
    assert b"<Code>AccessForbidden</Code>" in body


def test_preflight_missing_origin_or_method(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    status, headers, body = options(
        gateway, f"{bucket}/k", {"Access-Control-Request-Method": "GET"}
    )
    assert status == 400
    assert b"<Code>BadRequest</Code>" in body
    assert b"Insufficient information. Origin request header needed." in body
    assert headers["Access-Control-Allow-Origin"] is None
    status, headers, body = options(gateway, f"{bucket}/k", {"Origin": APP_ORIGIN})
    assert status == 400
    assert b"Access-Control-Request-Method" in body
    assert headers["Access-Control-Allow-Origin"] is None


def test_actual_request_gets_cors_headers(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CONFIG)
    s3.put_object(Bucket=bucket, Key="public.txt", Body=b"hi", ACL="public-read")
    status, headers, body = anonymous_get(gateway, f"{bucket}/public.txt", {"Origin": APP_ORIGIN})
    assert (status, body) == (200, b"hi")
    assert headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert headers["Access-Control-Allow-Methods"] == "GET, PUT"
    assert headers["Access-Control-Expose-Headers"] == "ETag"
    # Max-Age belongs to preflights only.
    assert headers["Access-Control-Max-Age"] is None
    # Another origin falls through to the wildcard rule.
    status, headers, _ = anonymous_get(
        gateway, f"{bucket}/public.txt", {"Origin": "https://other.example"}
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "*"
    # Without an Origin header there is nothing to answer.
    status, headers, _ = anonymous_get(gateway, f"{bucket}/public.txt", {})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] is None


def test_actual_request_without_matching_rule(
    gateway: GatewayHandle, s3: S3Client, bucket: str
) -> None:
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": [APP_ORIGIN], "AllowedMethods": ["PUT"]}]
        },
    )
    s3.put_object(Bucket=bucket, Key="public.txt", Body=b"hi", ACL="public-read")
    status, headers, _ = anonymous_get(gateway, f"{bucket}/public.txt", {"Origin": APP_ORIGIN})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] is None


def test_invalid_cors_method(s3: S3Client, bucket: str) -> None:
    bad: CORSConfigurationTypeDef = {
        "CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]
    }
    assert error_code(lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=bad)) == (
        "InvalidRequest",
        400,
    )
    assert error_code(lambda: s3.get_bucket_cors(Bucket=bucket)) == (
        "NoSuchCORSConfiguration",
        404,
    )


def test_invalid_cors_configurations(s3: S3Client, bucket: str) -> None:
    two_wildcards: CORSConfigurationTypeDef = {
        "CORSRules": [{"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]}]
    }
    assert error_code(
        lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=two_wildcards)
    ) == ("InvalidRequest", 400)
    no_rules: CORSConfigurationTypeDef = {"CORSRules": []}
    assert error_code(lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=no_rules)) == (
        "MalformedXML",
        400,
    )
    no_origin: CORSConfigurationTypeDef = {
        "CORSRules": [{"AllowedOrigins": [], "AllowedMethods": ["GET"]}]
    }
    assert error_code(lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=no_origin)) == (
        "MalformedXML",
        400,
    )
    too_many: CORSConfigurationTypeDef = {
        "CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101
    }
    assert error_code(lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=too_many)) == (
        "InvalidRequest",
        400,
    )
    assert error_code(lambda: s3.get_bucket_cors(Bucket=bucket)) == (
        "NoSuchCORSConfiguration",
        404,
    )
