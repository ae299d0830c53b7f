"""Object reads: GetObject and HeadObject, with ranges, conditions and response overrides."""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.gateway import objects, sse_reads
from nimbus_storage.gateway.authorize import check_access
from nimbus_storage.gateway.bucket_controls import object_acl_allows
from nimbus_storage.gateway.conditional import ByteRange, check_preconditions, parse_range
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.expiration import expiration_headers
from nimbus_storage.gateway.headers import (
    DEFAULT_CONTENT_TYPE,
    STORED_HEADERS,
    http_date,
    user_metadata,
)
from nimbus_storage.gateway.object_body import ObjectBody, open_body
from nimbus_storage.gateway.object_lock import lock_headers
from nimbus_storage.meta.api import ObjectVersion
from nimbus_storage.s3errors import (
    AccessDenied,
    InvalidPartNumber,
    InvalidRange,
    InvalidRequest,
    MethodNotAllowed,
    NoSuchKey,
    NotModified,
    TooManyParts,
)

# Query parameters that override response headers on a signed GET (AWS: not for anonymous).
_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


async def _resolve_version(request: S3Request) -> ObjectVersion:
    version_id = request.query.get("versionId")
    version = await request.index().get(request.key, version_id)
    if version is None:
        return await objects.find_version(request, request.key, version_id)  # raises
    if version.delete_marker:
        marker_headers = {"x-amz-delete-marker": "true", "x-amz-version-id": version.version_id}
        if version_id is not None:
            error: MethodNotAllowed | NoSuchKey = MethodNotAllowed()
        else:
            error = NoSuchKey(Key=request.key)
        error.headers = marker_headers
        raise error
    return version


MAX_PART_NUMBER = 10_000


def _requested_part(request: S3Request) -> int | None:
    """The ``partNumber`` a GET/HEAD asks for, checked before the object is looked up, as
    AWS: 400 InvalidArgument unless an integer from 1 to 10000; 400 InvalidRequest with a
    Range header too."""
    raw = request.query.get("partNumber")
    if raw is None:
        return None
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 0
    if not 1 <= number <= MAX_PART_NUMBER:
        raise TooManyParts(ArgumentName="partNumber", ArgumentValue=raw)
    if "Range" in request.headers:
        raise InvalidRequest("Cannot specify both Range header and partNumber query parameter")
    return number


def _part_range(body: ObjectBody, part_number: int) -> ByteRange:
    """A part's bytes; an object not uploaded in parts is one part (416 InvalidPartNumber
    past the last part)."""
    parts = body.parts or [("", body.size)]
    if not 1 <= part_number <= len(parts):
        raise InvalidPartNumber(
            PartNumberRequested=str(part_number), ActualPartCount=str(len(parts))
        )
    start = sum(size for _name, size in parts[: part_number - 1])
    return ByteRange(start, start + parts[part_number - 1][1] - 1)


_CONDITIONS = ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")


async def _headers(request: S3Request, version: ObjectVersion, body: ObjectBody) -> dict[str, str]:
    meta = body.meta
    headers = {
        "ETag": f'"{version.etag}"',
        "Last-Modified": http_date(version.last_modified),
        "Accept-Ranges": "bytes",
    }
    for name in STORED_HEADERS:
        if name in meta:
            headers[name.title()] = meta[name]
    headers.setdefault("Content-Type", DEFAULT_CONTENT_TYPE)
    headers.update(user_metadata(meta))
    bucket = request.require_bucket()
    if bucket.versioning:
        headers["x-amz-version-id"] = version.version_id
    tags = await request.index().get_tags(version.key, version.version_id)
    if tags:
        headers["x-amz-tagging-count"] = str(len(tags))
    if body.parts is not None:
        headers["x-amz-mp-parts-count"] = str(len(body.parts))
    headers.update(await lock_headers(request, version))
    headers.update(await expiration_headers(request.services, bucket, version, tags or {}))
    if request.auth is not None:
        for parameter, header in _OVERRIDES.items():
            if parameter in request.query:
                headers[header] = request.query[parameter]
    return headers


def _first_byte(request: S3Request, version: ObjectVersion) -> int | None:
    """Where a GET will start reading the object's single blob, when that is sure enough to
    start the read as the blob is opened: not for a manifest, a part, an empty object, or a
    conditional request (which may end in 304 or 412 without reading)."""
    conditional = any(h in request.headers for h in _CONDITIONS)
    if conditional or "partNumber" in request.query or "-" in version.etag or not version.size:
        return None
    try:
        byte_range = parse_range(request.headers.get("Range"), version.size)
    except InvalidRange:
        return None
    return 0 if byte_range is None else byte_range.start


async def _read(request: S3Request, *, send_body: bool) -> web.StreamResponse:
    part_number = _requested_part(request)
    try:
        version = await _resolve_version(request)
    except (NoSuchKey, MethodNotAllowed) as error:
        if isinstance(error, NoSuchKey):
            # As in S3, only a caller who may list the bucket learns that a key is absent (an
            # anonymous reader of a public-read bucket may: 404); others get AccessDenied.
            await check_access(request, request.require_bucket(), "s3:ListBucket", "")
        elif request.object_acl_required:
            raise AccessDenied() from None  # callers without access learn nothing
        raise
    if request.object_acl_required and not await object_acl_allows(
        request, version, "s3:GetObject"
    ):
        raise AccessDenied()
    body = await open_body(
        request.services,
        request.require_bucket(),
        version,
        read_from=_first_byte(request, version) if send_body else None,
    )
    try:
        encryption_headers = sse_reads.unlock(request, body, need_key=send_body)
        try:
            check_preconditions(request.headers, version.etag, version.last_modified)
        except NotModified as not_modified:
            # A 304 still names what the client has cached is current (RFC 9110 15.4.5).
            not_modified.headers.update(
                {"ETag": f'"{version.etag}"', "Last-Modified": http_date(version.last_modified)}
            )
            raise
        headers = await _headers(request, version, body) | encryption_headers
        byte_range: ByteRange | None
        if part_number is not None:
            byte_range = _part_range(body, part_number)
        else:
            byte_range = parse_range(request.headers.get("Range"), body.size)
        status = 200
        # A part is a range even when it is the whole object (AWS: 206, Content-Range).
        if byte_range is not None and byte_range.length > 0:
            status = 206
            headers["Content-Range"] = byte_range.content_range(body.size)
        if byte_range is None:
            byte_range = ByteRange(0, body.size - 1)
            if request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
                # Only a whole object carries its checksum; a range has none to check against.
                headers.update(
                    {k: v for k, v in body.meta.items() if k.startswith("x-amz-checksum-")}
                )
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = max(byte_range.length, 0)
        await response.prepare(request.http)  # the app's prepare hook adds CORS, request id
        if send_body and byte_range.length > 0:
            sent = 0
            async for chunk in body.stream(byte_range.start, byte_range.end):
                await response.write(chunk)
                sent += len(chunk)
            request.services.metrics.bytes_out.inc(sent)
        await response.write_eof()
        return response
    finally:
        body.close()


async def get_object(request: S3Request) -> web.StreamResponse:
    return await _read(request, send_body=True)


async def head_object(request: S3Request) -> web.StreamResponse:
    return await _read(request, send_body=False)
