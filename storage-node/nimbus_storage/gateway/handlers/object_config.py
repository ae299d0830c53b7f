"""Per-object configuration: tagging and canned ACLs (both kept per version in the index)."""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.bucket_config import tagging
from nimbus_storage.bucket_config.acl import parse_acl_body, parse_canned_acl, render_acl
from nimbus_storage.gateway import objects
from nimbus_storage.gateway.body import read_small_body
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
    return web.Response(
        body=render_acl(version.acl, version.owner or request.require_bucket().owner),
        content_type="application/xml",
        headers=_version_header(version.version_id),
    )


async def put_object_acl(request: S3Request) -> web.StreamResponse:
    version = await objects.find_version(request, request.key, request.query.get("versionId"))
    header = request.headers.get("x-amz-acl")
    body = await read_small_body(request, MAX_TAGGING_BODY)
    owner = version.owner or request.require_bucket().owner
    canned = parse_canned_acl(header) if header else parse_acl_body(body, owner)
    await request.index().set_acl(version.key, version.version_id, canned)
    return empty_response(headers=_version_header(version.version_id))
