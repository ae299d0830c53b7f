"""Server access logging: Put/GetBucketLogging. The document is stored with the bucket's
settings (``logging``); the records are kept and delivered by gateway/access_log.py."""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.bucket_config import bucket_logging
from nimbus_storage.gateway.access_log import LOGGING_CONFIG, logging_target
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.responses import empty_response
from nimbus_storage.s3errors import (
    CrossLocationLoggingProhibited,
    InvalidTargetBucketForLogging,
    NotImplementedError_,
)

MAX_BODY = 64 * 1024
XML = "application/xml"
OTHER_OWNER = "The owner for the bucket to be logged and the target bucket must be the same."
CANONICAL_USER = "CanonicalUser"


async def get_bucket_logging(request: S3Request) -> web.StreamResponse:
    target = await logging_target(request.services, request.require_bucket())
    body = bucket_logging.render_logging_status(target)
    return web.Response(body=body, content_type=XML)


async def put_bucket_logging(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    services = request.services
    status = bucket_logging.parse_logging_status(await read_small_body(request, MAX_BODY))
    target = status.target
    if target is None:
        await services.catalog.set_config(bucket.name, LOGGING_CONFIG, None)
        return empty_response()
    found = await services.catalog.get_bucket(target.bucket)
    if found is None:
        raise InvalidTargetBucketForLogging(TargetBucket=target.bucket)
    if found.owner != bucket.owner:
        raise InvalidTargetBucketForLogging(OTHER_OWNER, TargetBucket=target.bucket)
    source_region = bucket.region or services.config.region
    target_region = found.region or services.config.region
    if source_region != target_region:
        raise CrossLocationLoggingProhibited(
            SourceBucketLocation=source_region, TargetBucketLocation=target_region
        )
    for grant in status.grants:
        # Log objects belong to the target bucket's owner: a grant to anyone else would need
        # per-object grants, which Nimbus does not keep.
        if grant.grantee_type != CANONICAL_USER or grant.grantee != found.owner:
            raise NotImplementedError_(
                "TargetGrants to anyone but the target bucket's owner are not supported"
            )
    await services.catalog.set_config(bucket.name, LOGGING_CONFIG, bucket_logging.to_json(target))
    return empty_response()
