"""Bucket default encryption: Nimbus does not encrypt objects, so no bucket has a configuration.

GetBucketEncryption answers as AWS did for a bucket without one (404
ServerSideEncryptionConfigurationNotFoundError), which clients take as "not encrypted" — the
truth here. DeleteBucketEncryption has nothing to remove. PutBucketEncryption is refused with 501
NotImplemented before its body is read: accepting it would promise encryption that never
happens (gateway/encryption.py refuses the per-request SSE headers the same way).
"""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.responses import empty_response
from nimbus_storage.s3errors import (
    NotImplementedError_,
    ServerSideEncryptionConfigurationNotFoundError,
)


async def get_bucket_encryption(request: S3Request) -> web.StreamResponse:
    raise ServerSideEncryptionConfigurationNotFoundError(BucketName=request.require_bucket().name)


async def put_bucket_encryption(request: S3Request) -> web.StreamResponse:
    request.require_bucket()
    raise NotImplementedError_(
        "Server-side encryption is not implemented: Nimbus stores objects unencrypted, so a"
        " bucket default encryption configuration is refused."
    )


async def delete_bucket_encryption(request: S3Request) -> web.StreamResponse:
    request.require_bucket()
    return empty_response(204)
