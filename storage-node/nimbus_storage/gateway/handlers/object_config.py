"""Per-object configuration: tagging and ACLs (both kept per version in the index)."""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.bucket_config import tagging
from nimbus_storage.bucket_config.acl import parse_acl_body, render_acl, requested_acl
from nimbus_storage.gateway import objects
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.bucket_controls import check_acl, check_grantees, request_controls
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.responses import empty_response

MAX_TAGGING_BODY = 64 * 1024


def _version_header(version_id: str) -> dict[str, str]:
    return {"x-amz-version-id": version_id}


async def get_object_tagging(request: S3Request) -> web.StreamResponse:
    version = await objects.find_version(request, request.key, request.query.get("versionId"))
    tags = await request.index().get_tags(version.key, version.version_id)
    return web.Response(
        body=tagging.render_tagging(tags or {}),
        content_type="application/xml",
        headers=_version_header(version.version_id),
    )


async def put_object_tagging(request: S3Request) -> web.StreamResponse:
    version = await objects.find_version(request, request.key, request.query.get("versionId"))
    body = await read_small_body(request, MAX_TAGGING_BODY)
    tags = tagging.parse_object_tagging(body)
    await request.index().set_tags(version.key, version.version_id, tags)
    return empty_response(headers=_version_header(version.version_id))


async def delete_object_tagging(request: S3Request) -> web.StreamResponse:
    version = await objects.find_version(request, request.key, request.query.get("versionId"))
    await request.index().delete_tags(version.key, version.version_id)
    return empty_response(204, headers=_version_header(version.version_id))


async def get_object_acl(request: S3Request) -> web.StreamResponse:
    version = await objects.find_version(request, request.key, request.query.get("versionId"))
    bucket_owner = request.require_bucket().owner
    controls = await request_controls(request)
    # Without ACLs (BucketOwnerEnforced) the bucket owner owns every object, with full control.
    owner = bucket_owner if controls.acls_disabled else version.owner or bucket_owner
    return web.Response(
        body=render_acl(controls.shown_acl(version.acl), owner, bucket_owner=bucket_owner),
        content_type="application/xml",
        headers=_version_header(version.version_id),
    )


async def put_object_acl(request: S3Request) -> web.StreamResponse:
    version = await objects.find_version(request, request.key, request.query.get("versionId"))
    body = await read_small_body(request, MAX_TAGGING_BODY)
    bucket_owner = request.require_bucket().owner
    owner = version.owner or bucket_owner
    acl = requested_acl(request.headers, owner, bucket_owner) or parse_acl_body(
        body, owner, bucket_owner=bucket_owner
    )
    check_acl(await request_controls(request), acl, bucket_owner)
    await check_grantees(request.services, acl, owner, bucket_owner)
    await request.index().set_acl(version.key, version.version_id, acl)
    return empty_response(headers=_version_header(version.version_id))
