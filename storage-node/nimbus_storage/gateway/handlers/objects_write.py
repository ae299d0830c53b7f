"""Object writes: PutObject and CopyObject."""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.bucket_config.acl import DEFAULT_ACL, requested_acl
from nimbus_storage.bucket_config.tagging import parse_tagging_header
from nimbus_storage.gateway import objects, sse_objects, sse_reads
from nimbus_storage.gateway.body import declared_size, require_size, verified_payload
from nimbus_storage.gateway.bucket_controls import object_owner
from nimbus_storage.gateway.conditional_writes import check_write_preconditions, commit_checked
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.copy_source import CopySource, open_copy_source
from nimbus_storage.gateway.expiration import expiration_headers
from nimbus_storage.gateway.headers import (
    META_MANIFEST,
    iso8601,
    object_headers_from_request,
)
from nimbus_storage.gateway.object_lock import new_version_lock
from nimbus_storage.gateway.responses import empty_response, xml_response
from nimbus_storage.meta.api import Bucket, ObjectVersion
from nimbus_storage.s3errors import (
    InvalidArgument,
    InvalidRequest,
)
from nimbus_storage.sse.envelope import META_PREFIX as SSE_META_PREFIX

MAX_COPY_SIZE = 5 * 1024**3


def version_headers(bucket: Bucket, version: ObjectVersion) -> dict[str, str]:
    if bucket.versioning in ("Enabled", "Suspended"):
        return {"x-amz-version-id": version.version_id}
    return {}


def request_acl(request: S3Request) -> str:
    """The stored form of the ACL a write asks for (``x-amz-acl`` or ``x-amz-grant-*``, checked
    before the handler by bucket_controls.check_requested_acl); private when none."""
    bucket = request.require_bucket()
    writer = request.principal or bucket.owner
    return requested_acl(request.headers, writer, bucket.owner) or DEFAULT_ACL


def request_tags(request: S3Request) -> dict[str, str]:
    header = request.headers.get("x-amz-tagging")
    return parse_tagging_header(header) if header else {}


async def put_object(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    services = request.services
    size = require_size(request, services.config.max_put_size)
    encryption = await sse_objects.write_encryption(request, bucket.name, request.key)
    lock = await new_version_lock(request, bucket)
    await check_write_preconditions(request, bucket)
    await objects.check_quota(services, bucket, size)
    tags = request_tags(request)
    acl = request_acl(request)
    meta = object_headers_from_request(request.headers)
    payload = verified_payload(request)
    out = sse_objects.Outgoing.of(encryption, aiter(payload), size, payload.trailer)
    stored = await objects.store_blob(
        services,
        bucket,
        request.key,
        out.chunks,
        meta | out.meta,
        expected_size=out.stored_size,
        trailer=out.trailer,
    )
    version = await commit_checked(
        request,
        bucket,
        stored,
        etag=out.etag(stored.info.md5_hex),
        size=size,
        owner=await object_owner(request, acl),
        content_type=meta["content-type"],
        acl=acl,
        tags=tags,
        lock=lock,
    )
    headers = {"ETag": f'"{version.etag}"', **version_headers(bucket, version)}
    headers.update(await expiration_headers(services, bucket, version, tags))
    headers.update(payload.checksum_headers())
    if encryption is not None:
        headers.update(encryption.response_headers())
    return empty_response(headers=headers)


def copied_meta(
    request: S3Request, source_meta: dict[str, str], is_self_copy: bool
) -> dict[str, str]:
    directive = request.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise InvalidArgument(
            "Unknown metadata directive.", ArgumentName="x-amz-metadata-directive"
        )
    if directive == "REPLACE":
        return object_headers_from_request(request.headers)
    if is_self_copy and "x-amz-storage-class" not in request.headers:
        raise InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself"
            " without changing the object's metadata, storage class, website redirect location"
            " or encryption attributes."
        )
    return {
        name: value
        for name, value in source_meta.items()
        if name != META_MANIFEST and not name.startswith(("x-amz-checksum-", SSE_META_PREFIX))
    }


async def copied_tags(
    request: S3Request, source: CopySource, source_version: ObjectVersion
) -> dict[str, str]:
    """The copy's tags, validated before any data is written."""
    directive = request.headers.get("x-amz-tagging-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise InvalidArgument("Unknown tagging directive.", ArgumentName="x-amz-tagging-directive")
    if directive == "REPLACE":
        return request_tags(request)
    index = request.services.catalog.index(source.bucket)
    return await index.get_tags(source.key, source_version.version_id) or {}


async def copy_object(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    services = request.services
    if declared_size(request):
        raise InvalidRequest("A copy request must not have a body")
    source, source_version, body = await open_copy_source(request, "x-amz-copy-source-")
    try:
        await check_write_preconditions(request, bucket)
        if body.size > MAX_COPY_SIZE:
            raise InvalidRequest(
                "The specified copy source is larger than the maximum allowable size for a copy"
                " source: 5368709120"
            )
        sse_reads.unlock_source(request, body, source.bucket, source.key)
        # Copying an older version over the current one is how S3 restores a version; a copy
        # onto itself asking for an encryption changes it.
        is_self_copy = (
            source.bucket == bucket.name
            and source.key == request.key
            and source_version.is_latest
            and not sse_objects.requests_encryption(request.headers)
        )
        meta = copied_meta(request, dict(body.meta), is_self_copy)
        tags = await copied_tags(request, source, source_version)
        lock = await new_version_lock(request, bucket)  # the source's lock is not copied
        acl = request_acl(request)
        await objects.check_quota(services, bucket, body.size)
        out, encryption = await sse_objects.copy_outgoing(
            request, bucket.name, request.key, body, source_version.etag
        )
        stored = await objects.store_blob(
            services,
            bucket,
            request.key,
            out.chunks,
            meta | out.meta,
            expected_size=out.stored_size,
            trailer=out.trailer,
        )
    finally:
        body.close()
    version = await commit_checked(
        request,
        bucket,
        stored,
        etag=out.etag(stored.info.md5_hex),
        size=body.size,
        owner=await object_owner(request, acl),
        content_type=meta.get("content-type", ""),
        acl=acl,
        tags=tags,
        lock=lock,
    )
    headers = version_headers(bucket, version)
    headers.update(await expiration_headers(services, bucket, version, tags))
    if source_version.version_id != "null" or source.version_id:
        headers["x-amz-copy-source-version-id"] = source_version.version_id
    if encryption is not None:
        headers.update(encryption.response_headers())
    return xml_response(
        "CopyObjectResult",
        {"LastModified": iso8601(version.last_modified), "ETag": f'"{version.etag}"'},
        headers=headers,
    )
