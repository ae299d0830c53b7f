"""Bucket configuration: versioning, tagging, CORS, policy, lifecycle and ACL."""

from __future__ import annotations

import json

from aiohttp import web

from nimbus_storage.bucket_config import cors, lifecycle, tagging, versioning
from nimbus_storage.bucket_config.acl import parse_acl_body, render_acl, requested_acl
from nimbus_storage.bucket_config.bucket_policy import parse_policy
from nimbus_storage.bucket_config.public_policy import is_public_policy
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.bucket_controls import check_acl, check_grantees, request_controls
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.handlers.object_lock import refuse_versioning_change
from nimbus_storage.gateway.responses import empty_response
from nimbus_storage.s3errors import (
    AccessDenied,
    NoSuchBucketPolicy,
    NoSuchCORSConfiguration,
    NoSuchLifecycleConfiguration,
    NoSuchTagSet,
    S3Error,
)

MAX_CONFIG_BODY = 1024 * 1024
XML = "application/xml"
# The catalog stores versioning as text; "" means never enabled.
_VERSIONING_STATES: dict[str, versioning.VersioningStatus] = {
    "Enabled": "Enabled",
    "Suspended": "Suspended",
}


def _xml(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=XML)


async def _stored(request: S3Request, kind: str, missing: type[S3Error]) -> str:
    """The bucket's ``kind`` document; ``missing`` (NoSuchCORSConfiguration ...) when unset."""
    bucket = request.require_bucket()
    stored = await request.services.catalog.get_config(bucket.name, kind)
    if stored is None:
        raise missing(BucketName=bucket.name)
    return stored


async def _store(request: S3Request, kind: str, document: str) -> None:
    await request.services.catalog.set_config(request.require_bucket().name, kind, document)


async def _clear(request: S3Request, kind: str) -> web.Response:
    await request.services.catalog.set_config(request.require_bucket().name, kind, None)
    return empty_response(204)


# --- versioning -----------------------------------------------------------------------------


async def get_bucket_versioning(request: S3Request) -> web.StreamResponse:
    status = _VERSIONING_STATES.get(request.require_bucket().versioning)
    return _xml(versioning.render_versioning(status))


async def put_bucket_versioning(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    status = versioning.parse_versioning(await read_small_body(request, MAX_CONFIG_BODY))
    await refuse_versioning_change(request, status)
    await request.services.catalog.set_versioning(bucket.name, status)
    return empty_response()


# --- tagging --------------------------------------------------------------------------------


async def get_bucket_tagging(request: S3Request) -> web.StreamResponse:
    stored = await _stored(request, "tagging", NoSuchTagSet)
    return _xml(tagging.render_tagging(json.loads(stored)))


async def put_bucket_tagging(request: S3Request) -> web.StreamResponse:
    tags = tagging.parse_bucket_tagging(await read_small_body(request, MAX_CONFIG_BODY))
    await _store(request, "tagging", json.dumps(tags))
    return empty_response(204)


async def delete_bucket_tagging(request: S3Request) -> web.StreamResponse:
    return await _clear(request, "tagging")


# --- CORS -----------------------------------------------------------------------------------


async def get_bucket_cors(request: S3Request) -> web.StreamResponse:
    stored = await _stored(request, "cors", NoSuchCORSConfiguration)
    return _xml(cors.render_cors(cors.from_json(stored)))


async def put_bucket_cors(request: S3Request) -> web.StreamResponse:
    configuration = cors.parse_cors(await read_small_body(request, MAX_CONFIG_BODY))
    await _store(request, "cors", cors.to_json(configuration))
    return empty_response()


async def delete_bucket_cors(request: S3Request) -> web.StreamResponse:
    return await _clear(request, "cors")


# --- policy ---------------------------------------------------------------------------------


async def get_bucket_policy(request: S3Request) -> web.StreamResponse:
    stored = await _stored(request, "policy", NoSuchBucketPolicy)
    return web.Response(text=stored, content_type="application/json")


async def put_bucket_policy(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    text = (await read_small_body(request, MAX_CONFIG_BODY)).decode("utf-8", "replace")
    policy = parse_policy(text, bucket.name)  # raises MalformedPolicy with the reason
    controls = await request_controls(request)
    if controls.public_access.block_public_policy and is_public_policy(policy):
        raise AccessDenied()  # BlockPublicPolicy, as AWS answers it
    await _store(request, "policy", text)
    return empty_response(204)


async def delete_bucket_policy(request: S3Request) -> web.StreamResponse:
    return await _clear(request, "policy")


# --- lifecycle ------------------------------------------------------------------------------


async def get_bucket_lifecycle(request: S3Request) -> web.StreamResponse:
    stored = await _stored(request, "lifecycle", NoSuchLifecycleConfiguration)
    return _xml(lifecycle.render_lifecycle(lifecycle.from_json(stored)))


async def put_bucket_lifecycle(request: S3Request) -> web.StreamResponse:
    configuration = lifecycle.parse_lifecycle(await read_small_body(request, MAX_CONFIG_BODY))
    await _store(request, "lifecycle", lifecycle.to_json(configuration))
    return empty_response()


async def delete_bucket_lifecycle(request: S3Request) -> web.StreamResponse:
    return await _clear(request, "lifecycle")


# --- ACL ------------------------------------------------------------------------------------


async def get_bucket_acl(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    controls = await request_controls(request)
    return _xml(render_acl(controls.shown_acl(bucket.acl), bucket.owner))


async def put_bucket_acl(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    body = await read_small_body(request, MAX_CONFIG_BODY)
    acl = requested_acl(request.headers, bucket.owner) or parse_acl_body(body, bucket.owner)
    check_acl(await request_controls(request), acl, bucket.owner)
    await check_grantees(request.services, acl, bucket.owner)
    await request.services.catalog.set_acl(bucket.name, acl)
    return empty_response()
