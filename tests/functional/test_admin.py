"""The admin API the operator uses: buckets, quotas, credentials with grants, usage."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import (
    ROOT_ACCESS_KEY,
    ROOT_SECRET_KEY,
    GatewayHandle,
    empty_and_delete,
    error_code,
)


def admin(
    gateway: GatewayHandle,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    access_key: str = ROOT_ACCESS_KEY,
    secret_key: str = ROOT_SECRET_KEY,
) -> tuple[int, Any]:
    url = f"{gateway.endpoint}/_nimbus/admin/v1/{path}"
    data = json.dumps(body).encode() if body is not None else b""
    request = AWSRequest(method=method, url=url, data=data)
    S3SigV4Auth(Credentials(access_key, secret_key), "s3", "us-east-1").add_auth(request)
    http = urllib.request.Request(
        url, data=data or None, method=method, headers=dict(request.headers.items())
    )
    try:
        with urllib.request.urlopen(http) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def admin_bucket(gateway: GatewayHandle, s3: S3Client) -> Any:
    name = f"admin-{uuid.uuid4().hex[:10]}"
    yield name
    if any(b["Name"] == name for b in s3.list_buckets()["Buckets"]):
        empty_and_delete(s3, name)


def test_create_bucket_with_quota_and_usage(
    gateway: GatewayHandle, s3: S3Client, admin_bucket: str
) -> None:
    status, view = admin(
        gateway,
        "PUT",
        f"buckets/{admin_bucket}",
        {"owner": ROOT_ACCESS_KEY, "quota": {"maxBytes": 10, "maxObjects": 2}},
    )
    assert status == 201
    assert view["quota"] == {"maxBytes": 10, "maxObjects": 2}
    s3.put_object(Bucket=admin_bucket, Key="a", Body=b"12345")
    assert error_code(lambda: s3.put_object(Bucket=admin_bucket, Key="b", Body=b"123456")) == (
        "QuotaExceeded",
        403,
    )
    s3.put_object(Bucket=admin_bucket, Key="b", Body=b"1")
    assert error_code(lambda: s3.put_object(Bucket=admin_bucket, Key="c", Body=b"")) == (
        "QuotaExceeded",
        403,
    )
    status, view = admin(gateway, "GET", f"buckets/{admin_bucket}")
    assert status == 200
    assert view["usage"] == {"bytes": 6, "objects": 2}
    status, usage = admin(gateway, "GET", "usage")
    assert usage[admin_bucket] == {"bytes": 6, "objects": 2}
    # Updating is idempotent: same PUT, new quota.
    status, view = admin(
        gateway, "PUT", f"buckets/{admin_bucket}", {"owner": ROOT_ACCESS_KEY, "quota": None}
    )
    assert status == 200
    s3.put_object(Bucket=admin_bucket, Key="c", Body=b"now fits")


def test_app_credentials_with_grants(
    gateway: GatewayHandle, s3: S3Client, admin_bucket: str
) -> None:
    admin(gateway, "PUT", f"buckets/{admin_bucket}", {"owner": ROOT_ACCESS_KEY})
    s3.put_object(Bucket=admin_bucket, Key="readme", Body=b"hello")
    key = f"APP{uuid.uuid4().hex[:10].upper()}"
    status, created = admin(gateway, "PUT", f"credentials/{key}", {"grants": {admin_bucket: "RO"}})
    assert status == 201
    assert created["grants"] == {admin_bucket: "RO"}
    reader = gateway.client(access_key=key, secret_key=created["secretKey"])
    assert reader.get_object(Bucket=admin_bucket, Key="readme")["Body"].read() == b"hello"
    assert [o["Key"] for o in reader.list_objects_v2(Bucket=admin_bucket)["Contents"]] == ["readme"]
    assert error_code(lambda: reader.put_object(Bucket=admin_bucket, Key="w", Body=b"")) == (
        "AccessDenied",
        403,
    )
    assert error_code(lambda: reader.delete_bucket(Bucket=admin_bucket)) == ("AccessDenied", 403)
    assert error_code(reader.list_buckets) == ("AccessDenied", 403)
    # Rotate to RW with a new secret: the old secret stops working at once.
    status, rotated = admin(gateway, "PUT", f"credentials/{key}", {"grants": {admin_bucket: "RW"}})
    assert status == 200
    assert error_code(lambda: reader.get_object(Bucket=admin_bucket, Key="readme")) == (
        "SignatureDoesNotMatch",
        403,
    )
    writer = gateway.client(access_key=key, secret_key=rotated["secretKey"])
    writer.put_object(Bucket=admin_bucket, Key="w", Body=b"written")
    status, _ = admin(gateway, "DELETE", f"credentials/{key}")
    assert status == 200
    assert error_code(lambda: writer.get_object(Bucket=admin_bucket, Key="w")) == (
        "InvalidAccessKeyId",
        403,
    )


def test_delete_with_purge(gateway: GatewayHandle, s3: S3Client, admin_bucket: str) -> None:
    admin(
        gateway,
        "PUT",
        f"buckets/{admin_bucket}",
        {"owner": ROOT_ACCESS_KEY, "versioning": "Enabled"},
    )
    for index in range(3):
        s3.put_object(Bucket=admin_bucket, Key="k", Body=str(index).encode())
    status, body = admin(gateway, "DELETE", f"buckets/{admin_bucket}")
    assert status == 409
    assert body["error"] == "BucketNotEmpty"
    status, body = admin(gateway, "DELETE", f"buckets/{admin_bucket}?purge=true")
    assert (status, body["purgedVersions"]) == (200, 3)
    assert error_code(lambda: s3.head_bucket(Bucket=admin_bucket)) == ("404", 404)


def test_bad_admin_requests(gateway: GatewayHandle, admin_bucket: str) -> None:
    status, body = admin(gateway, "PUT", "buckets/Bad_Name", {"owner": ROOT_ACCESS_KEY})
    assert (status, body["error"]) == (400, "InvalidBucketName")
    status, body = admin(gateway, "PUT", f"buckets/{admin_bucket}", {})
    assert (status, body["error"]) == (400, "InvalidRequest")
    assert "owner" in body["message"]
    status, body = admin(
        gateway,
        "PUT",
        f"buckets/{admin_bucket}",
        {"owner": ROOT_ACCESS_KEY, "quota": {"maxBytes": -1}},
    )
    assert (status, body["error"]) == (400, "InvalidRequest")
    status, body = admin(
        gateway,
        "PUT",
        f"buckets/{admin_bucket}",
        {"owner": ROOT_ACCESS_KEY, "policy": {"Statement": "nonsense"}},
    )
    assert (status, body["error"]) == (400, "MalformedPolicy")
    status, body = admin(gateway, "PUT", "credentials/K1X", {"grants": {"b": "ALL"}})
    assert (status, body["error"]) == (400, "InvalidRequest")


def test_admin_api_needs_an_admin_credential(gateway: GatewayHandle) -> None:
    status, body = admin(gateway, "GET", "buckets", secret_key="wrong-secret")
    assert (status, body["error"]) == (403, "SignatureDoesNotMatch")
    key = f"USR{uuid.uuid4().hex[:10].upper()}"
    _, created = admin(gateway, "PUT", f"credentials/{key}", {})
    status, body = admin(gateway, "GET", "buckets", access_key=key, secret_key=created["secretKey"])
    assert (status, body["error"]) == (403, "AccessDenied")
    request = urllib.request.Request(f"{gateway.endpoint}/_nimbus/admin/v1/buckets")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 403
    admin(gateway, "DELETE", f"credentials/{key}")


def test_metrics_endpoint(gateway: GatewayHandle, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="m", Body=b"metric")
    with urllib.request.urlopen(f"{gateway.endpoint}/_nimbus/metrics") as response:
        text = response.read().decode()
    assert 'nimbus_s3_requests_total{operation="PutObject",status="200"}' in text
    assert "nimbus_s3_request_duration_seconds_bucket" in text


def test_quota_counts_the_completed_multipart_object(
    gateway: GatewayHandle, s3: S3Client, admin_bucket: str
) -> None:
    mib = 1024 * 1024
    admin(
        gateway,
        "PUT",
        f"buckets/{admin_bucket}",
        {"owner": ROOT_ACCESS_KEY, "quota": {"maxBytes": 6 * mib}},
    )
    upload_id = s3.create_multipart_upload(Bucket=admin_bucket, Key="big")["UploadId"]
    etags = [
        s3.upload_part(
            Bucket=admin_bucket, Key="big", UploadId=upload_id, PartNumber=n, Body=b"x" * size
        )["ETag"]
        for n, size in ((1, 5 * mib), (2, 2 * mib))
    ]
    parts = [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, start=1)]
    assert error_code(
        lambda: s3.complete_multipart_upload(
            Bucket=admin_bucket,
            Key="big",
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
        )
    ) == ("QuotaExceeded", 403)
    assert error_code(lambda: s3.head_object(Bucket=admin_bucket, Key="big")) == ("404", 404)
