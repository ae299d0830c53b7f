"""The S3 calls the operator makes itself (what the admin API does not cover): a bucket's
lifecycle configuration, an Image object's size and a presigned URL to import it, signed with
the store's admin credential (over HTTPS, trusting the store's authority only).

Errors are translated here, once, as in the admin client: refusals (4xx) -> ``AdminRefused``
with the S3 error code, an unreachable gateway or a 5xx -> ``RetryLater``.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import boto3
from botocore.client import Config
from botocore.exceptions import BotoCoreError, ClientError

from nimbus_operator.clients.admin import AdminEndpoint, AdminRefused
from nimbus_operator.clients.tls import boto_verify
from nimbus_operator.errors import RetryLater

TIMEOUT_SECONDS = 15.0
NO_LIFECYCLE = "NoSuchLifecycleConfiguration"
_session_lock = threading.Lock()
"""boto3's default session is not thread-safe; kopf runs handlers in threads."""


@functools.lru_cache(maxsize=64)
def _client(endpoint: AdminEndpoint) -> Any:
    with _session_lock:
        return _new_client(endpoint)


def _new_client(endpoint: AdminEndpoint) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint.url,
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        region_name=endpoint.region,
        # https: the gateway's certificate is checked against the store's authority.
        verify=boto_verify(endpoint.ca_pem) if endpoint.secure else None,
        config=Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            connect_timeout=TIMEOUT_SECONDS,
            read_timeout=TIMEOUT_SECONDS,
            retries={"max_attempts": 1},
        ),
    )


class S3Client:
    def __init__(self, endpoint: AdminEndpoint) -> None:
        self._endpoint = endpoint
        self._s3 = _client(endpoint)

    def _call(self, what: str, operation: str, **arguments: Any) -> Any:
        try:
            return getattr(self._s3, operation)(**arguments)
        except ClientError as error:
            response: dict[str, Any] = dict(error.response)
            details = response.get("Error") or {}
            status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
            code = str(details.get("Code") or "")
            message = str(details.get("Message") or error)
            if status >= 500 or status in (0, 429):
                raise RetryLater(
                    f"{what}: the store answered {status} {code} {message}", reason="GatewayError"
                ) from error
            raise AdminRefused(status, code, message) from error
        except BotoCoreError as error:
            raise RetryLater(
                f"{what}: the store's gateway at {self._endpoint.url} is unreachable: {error}",
                reason="GatewayUnavailable",
            ) from error

    def object_size(self, bucket: str, key: str) -> int | None:
        """The object's size in bytes; None when it does not exist."""
        try:
            answer = self._call(f"HeadObject {bucket}/{key}", "head_object", Bucket=bucket, Key=key)
        except AdminRefused as error:
            if error.status == 404:
                return None
            raise
        return int(answer["ContentLength"])

    def presigned_get(self, bucket: str, key: str, expires_seconds: int) -> str:
        """A URL anyone holding it may GET the object with, until it expires (SigV4: at most
        7 days). Made locally: nothing is sent to the store."""
        url: str = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds
        )
        return url

    def lifecycle_rules(self, bucket: str) -> list[dict[str, Any]]:
        """The bucket's lifecycle rules (empty when it has no lifecycle configuration)."""
        try:
            answer = self._call(
                f"GetBucketLifecycleConfiguration {bucket}",
                "get_bucket_lifecycle_configuration",
                Bucket=bucket,
            )
        except AdminRefused as error:
            if error.code == NO_LIFECYCLE:
                return []
            raise
        return list(answer.get("Rules") or [])

    def put_lifecycle_rules(self, bucket: str, rules: list[dict[str, Any]]) -> None:
        """Set the bucket's lifecycle rules; no rules deletes the configuration."""
        if not rules:
            self._call(f"DeleteBucketLifecycle {bucket}", "delete_bucket_lifecycle", Bucket=bucket)
            return
        self._call(
            f"PutBucketLifecycleConfiguration {bucket}",
            "put_bucket_lifecycle_configuration",
            Bucket=bucket,
            LifecycleConfiguration={"Rules": rules},
        )
