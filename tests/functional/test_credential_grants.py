"""An app credential is limited to the buckets its grants name (docs/admin-api.md)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from mypy_boto3_s3 import S3Client

from tests.functional.conftest import GatewayHandle, error_code


@pytest.fixture
def app_client(gateway: GatewayHandle, bucket: str) -> Iterator[S3Client]:
    """A credential granted RW on ``bucket`` only."""
    catalog = gateway.gateway.services.catalog
    key = f"APP{uuid.uuid4().hex[:10].upper()}"
    gateway.call(catalog.create_credential(key, "app-secret-key-123", grants={bucket: "RW"}))
    yield gateway.client(access_key=key, secret_key="app-secret-key-123")
    gateway.call(catalog.delete_credential(key))


@pytest.fixture
def other_bucket(s3: S3Client) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="secret", Body=b"not yours", ACL="public-read")
    yield name
    s3.delete_object(Bucket=name, Key="secret")
    s3.delete_bucket(Bucket=name)


def test_grants_limit_reads_to_the_granted_buckets(
    s3: S3Client, app_client: S3Client, bucket: str, other_bucket: str
) -> None:
    app_client.put_object(Bucket=bucket, Key="mine", Body=b"ok")
    assert app_client.get_object(Bucket=bucket, Key="mine")["Body"].read() == b"ok"
    # Open to every authenticated user, and by policy to everyone: still not this credential's.
    s3.put_bucket_acl(Bucket=other_bucket, ACL="authenticated-read")
    s3.put_bucket_policy(
        Bucket=other_bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{other_bucket}/*",
                    }
                ],
            }
        ),
    )
    denied = ("AccessDenied", 403)
    assert error_code(lambda: app_client.list_objects_v2(Bucket=other_bucket)) == denied
    assert error_code(lambda: app_client.get_object(Bucket=other_bucket, Key="secret")) == denied
    assert error_code(lambda: app_client.put_object(Bucket=other_bucket, Key="x", Body=b"")) == (
        denied
    )
    assert (
        error_code(
            lambda: app_client.copy_object(
                Bucket=bucket, Key="stolen", CopySource={"Bucket": other_bucket, "Key": "secret"}
            )
        )
        == denied
    )
    s3.delete_bucket_policy(Bucket=other_bucket)
