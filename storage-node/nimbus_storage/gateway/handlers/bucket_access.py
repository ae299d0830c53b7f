"""A bucket's access controls: Block Public Access, its policy's status, Object Ownership.

Stored as bucket configuration documents (see gateway/bucket_controls.py); what they do is
applied by authorization and by the requests that set ACLs or write objects.
"""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.bucket_config import ownership, public_access
from nimbus_storage.bucket_config.bucket_policy import parse_policy
from nimbus_storage.bucket_config.public_policy import is_public_policy
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.bucket_controls import OWNERSHIP_CONTROLS, PUBLIC_ACCESS_BLOCK
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.responses import empty_response, xml_response
from nimbus_storage.s3errors import (
    InvalidBucketAclWithObjectOwnership,
    NoSuchBucketPolicy,
    NoSuchPublicAccessBlockConfiguration,
    OwnershipControlsNotFoundError,
)

MAX_BODY = 64 * 1024
XML = "application/xml"


async def _set(request: S3Request, kind: str, document: str | None) -> None:
    await request.services.catalog.set_config(request.require_bucket().name, kind, document)


# --- Block Public Access --------------------------------------------------------------------


async def get_public_access_block(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    stored = await request.services.catalog.get_config(bucket.name, PUBLIC_ACCESS_BLOCK)
    if stored is None:
        raise NoSuchPublicAccessBlockConfiguration(BucketName=bucket.name)
    block = public_access.from_json(stored)
    return web.Response(body=public_access.render_public_access_block(block), content_type=XML)


async def put_public_access_block(request: S3Request) -> web.StreamResponse:
    request.require_bucket()
    block = public_access.parse_public_access_block(await read_small_body(request, MAX_BODY))
    await _set(request, PUBLIC_ACCESS_BLOCK, public_access.to_json(block))
    return empty_response()


async def delete_public_access_block(request: S3Request) -> web.StreamResponse:
    request.require_bucket()
    await _set(request, PUBLIC_ACCESS_BLOCK, None)
    return empty_response(204)


async def get_bucket_policy_status(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    stored = await request.services.catalog.get_config(bucket.name, "policy")
    if stored is None:
        raise NoSuchBucketPolicy(BucketName=bucket.name)
    public = is_public_policy(parse_policy(stored, bucket.name))
    return xml_response("PolicyStatus", {"IsPublic": public})


# --- Object Ownership -----------------------------------------------------------------------


async def get_bucket_ownership_controls(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    stored = await request.services.catalog.get_config(bucket.name, OWNERSHIP_CONTROLS)
    if stored is None:
        raise OwnershipControlsNotFoundError(BucketName=bucket.name)
    setting = ownership.ownership_of(stored)
    return web.Response(body=ownership.render_ownership_controls(setting), content_type=XML)


async def put_bucket_ownership_controls(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    setting = ownership.parse_ownership_controls(await read_small_body(request, MAX_BODY))
    if not ownership.acl_allowed(setting, bucket.acl, bucket.owner):
        # Disabling ACLs would silently take away what the bucket's ACL grants.
        raise InvalidBucketAclWithObjectOwnership()
    await _set(request, OWNERSHIP_CONTROLS, setting)
    return empty_response()


async def delete_bucket_ownership_controls(request: S3Request) -> web.StreamResponse:
    request.require_bucket()
    await _set(request, OWNERSHIP_CONTROLS, None)
    return empty_response(204)
