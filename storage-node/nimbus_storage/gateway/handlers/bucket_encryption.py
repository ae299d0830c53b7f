"""Bucket default encryption: PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption.

The configuration (``bucket_config/encryption.py``) is one of the bucket's documents in the
catalog, beside its CORS and lifecycle rules; writes that ask for no encryption get it
(``gateway/sse_objects.py``). SSE-S3 and SSE-KMS need the gateway's key store: without one,
PutBucketEncryption is 501 NotImplemented (every write it applied to would be); a KMS key id
the key store lacks is 400 KMS.NotFoundException. A bucket without a configuration answers
404 ServerSideEncryptionConfigurationNotFoundError, as AWS did before it encrypted every
bucket by default.
"""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.bucket_config import encryption
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.responses import empty_response
from nimbus_storage.gateway.sse_objects import ENCRYPTION_CONFIG, keystore
from nimbus_storage.s3errors import ServerSideEncryptionConfigurationNotFoundError
from nimbus_storage.sse.errors import EncryptionNotConfigured

MAX_CONFIG_BODY = 64 * 1024


async def get_bucket_encryption(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    stored = await request.services.catalog.get_config(bucket.name, ENCRYPTION_CONFIG)
    if stored is None:
        raise ServerSideEncryptionConfigurationNotFoundError(BucketName=bucket.name)
    body = encryption.render_encryption(encryption.from_json(stored))
    return web.Response(body=body, content_type="application/xml")


async def put_bucket_encryption(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    configuration = encryption.parse_encryption(await read_small_body(request, MAX_CONFIG_BODY))
    store = keystore(request.services)
    if store is None:
        raise EncryptionNotConfigured()
    if configuration.algorithm == "aws:kms":
        store.resolve_kms_key_id(configuration.kms_key_id)  # KmsKeyNotFound
    await request.services.catalog.set_config(
        bucket.name, ENCRYPTION_CONFIG, encryption.to_json(configuration)
    )
    return empty_response()


async def delete_bucket_encryption(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    await request.services.catalog.set_config(bucket.name, ENCRYPTION_CONFIG, None)
    return empty_response(204)
