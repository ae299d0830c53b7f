"""Per-object configuration: tagging and canned ACLs."""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.errors import NotImplementedError_
from nimbus_storage.gateway import objects
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.headers import META_ACL
from nimbus_storage.gateway.registry import s3_operation
from nimbus_storage.gateway.responses import empty_response
from nimbus_storage.policy import tagging
from nimbus_storage.policy.acl import render_acl

MAX_TAGGING_BODY = 64 * 1024


def _version_header(version_id: str) -> dict[str, str]:
    return {"x-amz-version-id": version_id}


@s3_operation("GetObjectTagging")
async def get_object_tagging(request: S3Request) -> web.StreamResponse:
    version = objects.find_version(request, request.key, request.query.get("versionId"))
    tags = request.index().get_tags(version.key, version.version_id)
    return web.Response(
        body=tagging.render_tagging(tags or {}),
        content_type="application/xml",
        headers=_version_header(version.version_id),
    )


@s3_operation("PutObjectTagging")
async def put_object_tagging(request: S3Request) -> web.StreamResponse:
    version = objects.find_version(request, request.key, request.query.get("versionId"))
    body = await read_small_body(request, MAX_TAGGING_BODY)
    tags = tagging.parse_object_tagging(body)
    request.index().set_tags(version.key, version.version_id, tags)
    return empty_response(headers=_version_header(version.version_id))


@s3_operation("DeleteObjectTagging")
async def delete_object_tagging(request: S3Request) -> web.StreamResponse:
    version = objects.find_version(request, request.key, request.query.get("versionId"))
    request.index().delete_tags(version.key, version.version_id)
    return empty_response(204, headers=_version_header(version.version_id))


@s3_operation("GetObjectAcl")
async def get_object_acl(request: S3Request) -> web.StreamResponse:
    version = objects.find_version(request, request.key, request.query.get("versionId"))
    body = await objects.open_body(request.services, version)
    try:
        canned = body.meta.get(META_ACL, "private")
    finally:
        body.close()
    return web.Response(
        body=render_acl(canned, version.owner or request.require_bucket().owner),
        content_type="application/xml",
    )


@s3_operation("PutObjectAcl")
async def put_object_acl(request: S3Request) -> web.StreamResponse:
    # Object ACLs are stored with the object's data and fixed at write time (x-amz-acl on
    # PutObject / CreateMultipartUpload / CopyObject); changing them afterwards would mean
    # rewriting metadata in place, which the blob store deliberately never does.
    raise NotImplementedError_(
        "PutObjectAcl is not supported: set x-amz-acl when writing the object, or use a bucket"
        " policy"
    )
