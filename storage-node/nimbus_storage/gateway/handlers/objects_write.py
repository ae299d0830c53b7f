"""Object writes: PutObject and CopyObject."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from aiohttp import web

from nimbus_storage.bucket_config.acl import parse_canned_acl
from nimbus_storage.bucket_config.tagging import parse_tagging_header
from nimbus_storage.gateway import objects
from nimbus_storage.gateway.authorize import check_access
from nimbus_storage.gateway.body import declared_size, require_size, verified_payload
from nimbus_storage.gateway.bucket_owner import SOURCE_EXPECTED_OWNER, check_expected_owner
from nimbus_storage.gateway.conditional import check_preconditions
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.headers import (
    META_MANIFEST,
    iso8601,
    object_headers_from_request,
)
from nimbus_storage.gateway.responses import empty_response, xml_response
from nimbus_storage.meta.api import Bucket, ObjectVersion
from nimbus_storage.s3errors import (
    InvalidArgument,
    InvalidRequest,
    NoSuchBucket,
    NoSuchKey,
    NoSuchVersion,
    PreconditionFailed,
)

MAX_COPY_SIZE = 5 * 1024**3


def version_headers(bucket: Bucket, version: ObjectVersion) -> dict[str, str]:
    if bucket.versioning in ("Enabled", "Suspended"):
        return {"x-amz-version-id": version.version_id}
    return {}


async def check_write_preconditions(request: S3Request, bucket: Bucket) -> None:
    """Conditional writes: If-None-Match: * refuses to overwrite; If-Match needs the ETag."""
    if_none_match = request.headers.get("If-None-Match")
    if_match = request.headers.get("If-Match")
    if if_none_match is None and if_match is None:
        return
    current = await request.services.catalog.index(bucket.name).get(request.key)
    exists = current is not None and not current.delete_marker
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise InvalidArgument("If-None-Match on a write accepts only '*'")
        if exists:
            raise PreconditionFailed(Condition="If-None-Match")
    if if_match is not None:
        if current is None or not exists:
            raise NoSuchKey(Key=request.key)
        check_preconditions({"if-match": if_match}, current.etag, current.last_modified)


def request_acl(request: S3Request) -> str:
    """The canned ACL a write asks for (``x-amz-acl``); private when none."""
    return parse_canned_acl(request.headers.get("x-amz-acl", "private"))


def request_tags(request: S3Request) -> dict[str, str]:
    header = request.headers.get("x-amz-tagging")
    return parse_tagging_header(header) if header else {}


async def put_object(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    services = request.services
    size = require_size(request, services.config.max_put_size)
    await check_write_preconditions(request, bucket)
    await objects.check_quota(services, bucket, size)
    tags = request_tags(request)
    acl = request_acl(request)
    meta = object_headers_from_request(request.headers)
    payload = verified_payload(request)
    stored = await objects.store_blob(
        services,
        bucket,
        request.key,
        aiter(payload),
        meta,
        expected_size=size,
        trailer=payload.trailer,
    )
    version = await objects.commit_version(
        services,
        bucket,
        request.key,
        stored,
        etag=stored.info.md5_hex,
        size=stored.info.size,
        owner=request.principal or bucket.owner,
        content_type=meta["content-type"],
        acl=acl,
        tags=tags,
    )
    headers = {"ETag": f'"{version.etag}"', **version_headers(bucket, version)}
    headers.update(payload.checksum_headers())
    return empty_response(headers=headers)


@dataclass(frozen=True, slots=True)
class CopySource:
    bucket: str
    key: str
    version_id: str | None


def _decode_copy_source(component: str, header: str) -> str:
    """Percent-decoded exactly (unquote() would turn bytes that are not UTF-8 into U+FFFD, and
    so name another key)."""
    try:
        return unquote_to_bytes(component).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(
            "Invalid copy source encoding.", ArgumentName="x-amz-copy-source", ArgumentValue=header
        ) from None


def parse_copy_source(header: str) -> CopySource:
    path, _, query = header.partition("?")
    path = _decode_copy_source(path, header).lstrip("/")
    bucket, slash, key = path.partition("/")
    if not slash or not bucket or not key:
        raise InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=header,
        )
    version_id = None
    if query:
        name, _, value = query.partition("=")
        if name != "versionId" or not value:
            raise InvalidArgument("Unsupported copy source parameter", ArgumentValue=header)
        version_id = _decode_copy_source(value, header)
    return CopySource(bucket, key, version_id)


async def open_copy_source(
    request: S3Request, header_prefix: str
) -> tuple[CopySource, ObjectVersion, objects.ObjectBody]:
    """Resolve, authorize and open ``x-amz-copy-source``; check its x-amz-copy-source-if-*."""
    source = parse_copy_source(request.headers["x-amz-copy-source"])
    catalog = request.services.catalog
    source_bucket = await catalog.get_bucket(source.bucket)
    if source_bucket is None:
        raise NoSuchBucket(BucketName=source.bucket)
    action = request.operation.required_handler_action(source.version_id)
    await check_access(request, source_bucket, action, source.key)
    check_expected_owner(request.headers, source_bucket, SOURCE_EXPECTED_OWNER)
    version = await catalog.index(source_bucket.name).get(source.key, source.version_id)
    if version is None or version.delete_marker:
        if source.version_id is not None and version is not None:
            raise InvalidRequest(
                "The source of a copy request may not specifically refer to a"
                " delete marker by version id."
            )
        if source.version_id is not None:
            raise NoSuchVersion(Key=source.key, VersionId=source.version_id)
        raise NoSuchKey(Key=source.key)
    check_preconditions(request.headers, version.etag, version.last_modified, prefix=header_prefix)
    return source, version, await objects.open_body(request.services, source_bucket, version)


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
        if name != META_MANIFEST and not name.startswith("x-amz-checksum-")
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
        if body.size > MAX_COPY_SIZE:
            raise InvalidRequest(
                "The specified copy source is larger than the maximum allowable size for a copy"
                " source: 5368709120"
            )
        # Copying an older version over the current one is how S3 restores a version.
        is_self_copy = (
            source.bucket == bucket.name and source.key == request.key and source_version.is_latest
        )
        meta = copied_meta(request, dict(body.meta), is_self_copy)
        tags = await copied_tags(request, source, source_version)
        acl = request_acl(request)
        await objects.check_quota(services, bucket, body.size)
        stored = await objects.store_blob(
            services,
            bucket,
            request.key,
            body.stream(0, body.size - 1) if body.size else _empty(),
            meta,
            expected_size=body.size,
        )
    finally:
        body.close()
    version = await objects.commit_version(
        services,
        bucket,
        request.key,
        stored,
        etag=stored.info.md5_hex,
        size=stored.info.size,
        owner=request.principal or bucket.owner,
        content_type=meta.get("content-type", ""),
        acl=acl,
        tags=tags,
    )
    headers = version_headers(bucket, version)
    if source_version.version_id != "null" or source.version_id:
        headers["x-amz-copy-source-version-id"] = source_version.version_id
    return xml_response(
        "CopyObjectResult",
        {"LastModified": iso8601(version.last_modified), "ETag": f'"{version.etag}"'},
        headers=headers,
    )


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""
