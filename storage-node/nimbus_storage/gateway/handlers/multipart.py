"""Multipart uploads: create, upload part (and part copy), list, complete, abort.

Parts are blobs of their own; completing an upload writes a manifest naming them (no data is
copied), so completing a 10 GiB upload costs the same as a 10 MiB one.
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from nimbus_storage.gateway import objects, sse_objects, sse_reads, uploads
from nimbus_storage.gateway.body import require_size, verified_payload
from nimbus_storage.gateway.conditional import header_time
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.handlers.listing import key_encoder
from nimbus_storage.gateway.handlers.multipart_complete import (
    TAGS_META,
    complete_multipart_upload,
    find_upload,
    now_timestamp,
)
from nimbus_storage.gateway.handlers.objects_write import (
    open_copy_source,
    request_acl,
    request_tags,
)
from nimbus_storage.gateway.headers import META_ACL, iso8601, object_headers_from_request
from nimbus_storage.gateway.responses import empty_response, xml_response
from nimbus_storage.meta.api import Upload
from nimbus_storage.meta.errors import NoUpload
from nimbus_storage.s3errors import (
    InvalidArgument,
    InvalidRange,
    PreconditionFailed,
    TooManyParts,
)

__all__ = [
    "abort_multipart_upload",
    "complete_multipart_upload",
    "create_multipart_upload",
    "list_multipart_uploads",
    "list_parts",
    "upload_part",
    "upload_part_copy",
]

MAX_PARTS = 10_000
MAX_PART_SIZE = 5 * 1024**3


def _part_number(request: S3Request) -> int:
    raw = request.query.get("partNumber", "")
    try:
        number = int(raw)
    except ValueError:
        raise TooManyParts(ArgumentName="partNumber", ArgumentValue=raw) from None
    if not 1 <= number <= MAX_PARTS:
        raise TooManyParts(ArgumentName="partNumber", ArgumentValue=raw)
    return number


async def create_multipart_upload(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    encryption = await sse_objects.write_encryption(request, bucket.name, request.key)
    meta = object_headers_from_request(request.headers)
    if encryption is not None:  # one data key for every part: the seal is kept with the upload
        meta.update(encryption.seal.to_meta())
    meta[META_ACL] = request_acl(request)
    tags = request_tags(request)
    if tags:
        meta[TAGS_META] = json.dumps(tags)
    upload_id = objects.new_write_id() + objects.new_write_id()[-8:]
    await request.index().create_upload(upload_id, request.key, time.time(), meta)
    return xml_response(
        "InitiateMultipartUploadResult",
        {"Bucket": bucket.name, "Key": request.key, "UploadId": upload_id},
        headers=encryption.response_headers() if encryption is not None else None,
    )


async def _store_part(
    request: S3Request,
    upload: Upload,
    number: int,
    stored: objects.StoredBlob,
    *,
    out: sse_objects.Outgoing,
    size: int,
) -> str:
    """Record the part (``size``: its plaintext's); its ETag."""
    etag = out.etag(stored.info.md5_hex)
    try:
        previous = await request.index().put_part(
            upload.upload_id,
            number,
            etag,
            size,
            stored.info.name,
            float(stored.info.timestamp),
        )
    except NoUpload:
        # Completed or aborted while this part streamed in: nobody will ever name its blob.
        await request.blobs().delete(stored.info.name, now_timestamp())
        raise
    if previous is not None:
        # Not the new part's own timestamp: it was taken when its upload *started*, so it can be
        # older than the part it replaces, whose blob would then outlive the tombstone.
        await request.blobs().delete(previous.blob, now_timestamp())
    return etag


async def upload_part(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    number = _part_number(request)
    upload = await find_upload(request)
    encryption = sse_reads.upload_encryption(request, upload)
    size = require_size(request, MAX_PART_SIZE)
    await objects.check_quota(request.services, bucket, size)
    payload = verified_payload(request)
    out = sse_objects.Outgoing.of(encryption, aiter(payload), size)
    stored = await objects.store_blob(
        request.services,
        bucket,
        f"{request.key}\x00{upload.upload_id}\x00{number}",
        out.chunks,
        {},
        expected_size=out.stored_size,
        trailer=out.trailer,
    )
    etag = await _store_part(request, upload, number, stored, out=out, size=size)
    headers = {"ETag": f'"{etag}"', **payload.checksum_headers()}
    if encryption is not None:
        headers.update(encryption.response_headers(include_context=False))
    return empty_response(headers=headers)


def _copy_range(header: str | None, size: int) -> tuple[int, int]:
    if header is None:
        return 0, size - 1
    unit, _, spec = header.partition("=")
    first, dash, last = spec.partition("-")
    try:
        start, end = int(first), int(last)
    except ValueError:
        raise InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last"
            " where first and last are the zero-based offsets of the first and last bytes"
            " to copy",
            ArgumentName="x-amz-copy-source-range",
            ArgumentValue=header,
        ) from None
    if unit != "bytes" or not dash or start > end:
        raise InvalidArgument("Invalid x-amz-copy-source-range", ArgumentValue=header)
    if end >= size:
        raise InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
    return start, end


async def upload_part_copy(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    number = _part_number(request)
    upload = await find_upload(request)
    encryption = sse_reads.upload_encryption(request, upload)
    source, _version, body = await open_copy_source(request, "x-amz-copy-source-")
    try:
        sse_reads.unlock_source(request, body, source.bucket, source.key)
        start, end = _copy_range(request.headers.get("x-amz-copy-source-range"), body.size)
        length = end - start + 1
        if length > MAX_PART_SIZE:
            raise InvalidArgument("A copied part may be at most 5 GiB")
        await objects.check_quota(request.services, bucket, length)
        # Always decrypted and sealed again: the part is a stream of the upload's data key.
        out = sse_objects.Outgoing.of(encryption, body.stream(start, end), length)
        stored = await objects.store_blob(
            request.services,
            bucket,
            f"{request.key}\x00{upload.upload_id}\x00{number}",
            out.chunks,
            {},
            expected_size=out.stored_size,
            trailer=out.trailer,
        )
    finally:
        body.close()
    etag = await _store_part(request, upload, number, stored, out=out, size=length)
    return xml_response(
        "CopyPartResult",
        {"LastModified": iso8601(float(stored.info.timestamp)), "ETag": f'"{etag}"'},
        headers=encryption.response_headers(include_context=False) if encryption else None,
    )


async def abort_multipart_upload(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    initiated = header_time(request.headers, "x-amz-if-match-initiated-time")
    upload = await find_upload(request)
    if initiated is not None and int(upload.initiated) != initiated:
        # AWS: only an upload initiated at that time (to the second, as HTTP dates are).
        raise PreconditionFailed(Condition="x-amz-if-match-initiated-time")
    await uploads.abort_upload(request.services, bucket, upload.upload_id)
    return empty_response(204)


async def list_parts(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    upload = await find_upload(request)
    try:
        marker = int(request.query.get("part-number-marker", "0") or 0)
        max_parts = min(int(request.query.get("max-parts", "1000")), 1000)
    except ValueError:
        raise InvalidArgument("part-number-marker and max-parts must be integers") from None
    parts, truncated, next_marker = await request.index().list_parts(
        upload.upload_id, marker, max_parts
    )
    owner = {"ID": bucket.owner, "DisplayName": bucket.owner}
    return xml_response(
        "ListPartsResult",
        {
            "Bucket": bucket.name,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "Initiator": owner,
            "Owner": owner,
            "StorageClass": "STANDARD",
            "PartNumberMarker": marker,
            "NextPartNumberMarker": next_marker,
            "MaxParts": max_parts,
            "IsTruncated": truncated,
            "Part": [
                {
                    "PartNumber": part.part_number,
                    "LastModified": iso8601(part.last_modified),
                    "ETag": f'"{part.etag}"',
                    "Size": part.size,
                }
                for part in parts
            ],
        },
    )


async def list_multipart_uploads(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    query = request.query
    encode, encoding = key_encoder(request)
    try:
        max_uploads = min(int(query.get("max-uploads", "1000")), 1000)
    except ValueError:
        raise InvalidArgument("max-uploads must be an integer") from None
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    key_marker, upload_marker = query.get("key-marker", ""), query.get("upload-id-marker", "")
    page = await request.index().list_uploads(
        prefix, delimiter, key_marker, upload_marker, max_uploads
    )
    owner = {"ID": bucket.owner, "DisplayName": bucket.owner}
    return xml_response(
        "ListMultipartUploadsResult",
        {
            "Bucket": bucket.name,
            "KeyMarker": encode(key_marker),
            "UploadIdMarker": upload_marker,
            "NextKeyMarker": (
                encode(page.next_key_marker) if page.next_key_marker is not None else None
            ),
            "NextUploadIdMarker": page.next_upload_id_marker,
            "Prefix": encode(prefix),
            "Delimiter": encode(delimiter) if delimiter else None,
            "MaxUploads": max_uploads,
            "EncodingType": encoding,
            "IsTruncated": page.is_truncated,
            "Upload": [
                {
                    "Key": encode(upload.key),
                    "UploadId": upload.upload_id,
                    "Initiator": owner,
                    "Owner": owner,
                    "StorageClass": "STANDARD",
                    "Initiated": iso8601(upload.initiated),
                }
                for upload in page.uploads
            ],
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.common_prefixes],
        },
    )
