"""Multipart uploads: create, upload part (and part copy), list, complete, abort.

Parts are blobs of their own; completing an upload writes a manifest naming them (no data is
copied), so completing a 10 GiB upload costs the same as a 10 MiB one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.blobs.api import normalize_timestamp
from nimbus_storage.gateway import objects, uploads
from nimbus_storage.gateway.body import read_small_body, require_size, verified_payload
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.handlers.listing import key_encoder
from nimbus_storage.gateway.handlers.objects_write import (
    open_copy_source,
    request_acl,
    request_tags,
    version_headers,
)
from nimbus_storage.gateway.headers import (
    META_ACL,
    META_MANIFEST,
    iso8601,
    object_headers_from_request,
)
from nimbus_storage.gateway.responses import empty_response, xml_response
from nimbus_storage.meta.api import Part, Upload
from nimbus_storage.meta.errors import NoUpload
from nimbus_storage.s3errors import (
    EntityTooSmall,
    InvalidArgument,
    InvalidPart,
    InvalidPartOrder,
    InvalidRange,
    MalformedXML,
    NoSuchUpload,
    OperationAborted,
    TooManyParts,
)

MAX_PARTS = 10_000
# Complete rebuilds its manifest when a part is re-uploaded meanwhile; this often, then 409.
MAX_COMPLETE_ATTEMPTS = 3
MAX_PART_SIZE = 5 * 1024**3
TAGS_META = "x-nimbus-tags"


def _part_number(request: S3Request) -> int:
    raw = request.query.get("partNumber", "")
    try:
        number = int(raw)
    except ValueError:
        raise TooManyParts(ArgumentName="partNumber", ArgumentValue=raw) from None
    if not 1 <= number <= MAX_PARTS:
        raise TooManyParts(ArgumentName="partNumber", ArgumentValue=raw)
    return number


async def _upload(request: S3Request) -> Upload:
    upload_id = request.query.get("uploadId", "")
    upload = await request.index().get_upload(upload_id)
    if upload is None or upload.key != request.key:
        raise NoSuchUpload(UploadId=upload_id)
    return upload


async def create_multipart_upload(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    meta = object_headers_from_request(request.headers)
    meta[META_ACL] = request_acl(request)
    tags = request_tags(request)
    if tags:
        meta[TAGS_META] = json.dumps(tags)
    upload_id = objects.new_write_id() + objects.new_write_id()[-8:]
    await request.index().create_upload(upload_id, request.key, time.time(), meta)
    return xml_response(
        "InitiateMultipartUploadResult",
        {"Bucket": bucket.name, "Key": request.key, "UploadId": upload_id},
    )


def _now() -> str:
    return normalize_timestamp(time.time())


async def _store_part(
    request: S3Request, upload: Upload, number: int, stored: objects.StoredBlob
) -> None:
    try:
        previous = await request.index().put_part(
            upload.upload_id,
            number,
            stored.info.md5_hex,
            stored.info.size,
            stored.info.name,
            float(stored.info.timestamp),
        )
    except NoUpload:
        # Completed or aborted while this part streamed in: nobody will ever name its blob.
        await request.blobs().delete(stored.info.name, _now())
        raise
    if previous is not None:
        # Not the new part's own timestamp: it was taken when its upload *started*, so it can be
        # older than the part it replaces, whose blob would then outlive the tombstone.
        await request.blobs().delete(previous.blob, _now())


async def upload_part(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    number = _part_number(request)
    upload = await _upload(request)
    size = require_size(request, MAX_PART_SIZE)
    await objects.check_quota(request.services, bucket, size)
    payload = verified_payload(request)
    stored = await objects.store_blob(
        request.services,
        bucket,
        f"{request.key}\x00{upload.upload_id}\x00{number}",
        aiter(payload),
        {},
        expected_size=size,
    )
    await _store_part(request, upload, number, stored)
    headers = {"ETag": f'"{stored.info.md5_hex}"', **payload.checksum_headers()}
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
    upload = await _upload(request)
    _source, _version, body = await open_copy_source(request, "x-amz-copy-source-")
    try:
        start, end = _copy_range(request.headers.get("x-amz-copy-source-range"), body.size)
        length = end - start + 1
        if length > MAX_PART_SIZE:
            raise InvalidArgument("A copied part may be at most 5 GiB")
        await objects.check_quota(request.services, bucket, length)
        stored = await objects.store_blob(
            request.services,
            bucket,
            f"{request.key}\x00{upload.upload_id}\x00{number}",
            body.stream(start, end),
            {},
            expected_size=length,
        )
    finally:
        body.close()
    await _store_part(request, upload, number, stored)
    return xml_response(
        "CopyPartResult",
        {"LastModified": iso8601(float(stored.info.timestamp)), "ETag": f'"{stored.info.md5_hex}"'},
    )


def _parse_completion(body: bytes) -> list[tuple[int, str]]:
    document = s3xml.parse(body, root="CompleteMultipartUpload")
    listed: list[tuple[int, str]] = []
    for element in document.findall("Part"):
        number_text = s3xml.required_token(element, "PartNumber")
        etag = s3xml.required_token(element, "ETag").strip('"')
        try:
            listed.append((int(number_text), etag))
        except ValueError:
            raise MalformedXML(f"PartNumber {number_text!r} is not a number") from None
    if not listed:
        raise MalformedXML("The XML you provided did not list any parts")
    return listed


async def _build_manifest(
    request: S3Request, upload: Upload, listed: list[tuple[int, str]]
) -> tuple[list[tuple[str, int]], str]:
    """The manifest (part blobs and sizes) and multipart ETag of the parts ``listed``.

    NoSuchUpload when the upload went away meanwhile (aborted or completed elsewhere: its
    parts are gone too, which is not the client's InvalidPart)."""
    index = request.index()
    stored_parts = await index.get_parts(upload.upload_id)
    if await index.get_upload(upload.upload_id) is None:
        raise NoSuchUpload(UploadId=upload.upload_id)
    min_size = request.services.config.multipart_min_part_size
    manifest: list[tuple[str, int]] = []
    digest = hashlib.md5(usedforsecurity=False)
    for position, (number, etag) in enumerate(listed):
        part = stored_parts.get(number)
        if part is None or part.etag != etag:
            raise InvalidPart(PartNumber=str(number), ETag=etag)
        if part.size < min_size and position < len(listed) - 1:
            raise EntityTooSmall(
                ProposedSize=str(part.size), MinSizeAllowed=str(min_size), PartNumber=str(number)
            )
        manifest.append((part.blob, part.size))
        digest.update(bytes.fromhex(part.etag))
    return manifest, f"{digest.hexdigest()}-{len(listed)}"


async def _claim_upload(
    request: S3Request,
    upload: Upload,
    listed: list[tuple[int, str]],
    manifest: list[tuple[str, int]],
) -> list[Part] | None:
    """Forget the upload if its parts are still the ones in ``manifest``; its parts, or None.

    The index checks and deletes in one step (on each replica, and a quorum of replicas must
    agree), so of an Abort, a Complete or an UploadPart of this upload racing this one through
    any gateway, only one wins.
    """
    expected = {
        number: blob for (number, _etag), (blob, _size) in zip(listed, manifest, strict=True)
    }
    return await request.index().claim_upload(upload.upload_id, expected)


async def complete_multipart_upload(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    upload = await _upload(request)
    listed = _parse_completion(await read_small_body(request, 10 * 1024 * 1024))
    numbers = [number for number, _etag in listed]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise InvalidPartOrder()
    meta = dict(upload.meta)
    tags = json.loads(meta.pop(TAGS_META, "{}"))
    acl = meta.pop(META_ACL, "private")
    meta[META_MANIFEST] = "1"
    for _attempt in range(MAX_COMPLETE_ATTEMPTS):
        # Writing the manifest awaits; the upload may change meanwhile, so it is checked again
        # (and claimed) once the manifest is stored, and rebuilt if a part was replaced.
        manifest, etag = await _build_manifest(request, upload, listed)
        # Parts do not count toward usage until the object exists: check the whole object now.
        await objects.check_quota(request.services, bucket, sum(size for _blob, size in manifest))
        body = objects.manifest_body(manifest)
        stored = await objects.store_blob(
            request.services,
            bucket,
            request.key,
            _single_chunk(body),
            meta,
            expected_size=len(body),
        )
        try:
            claimed = await _claim_upload(request, upload, listed, manifest)
        except NoUpload:
            await request.blobs().delete(stored.info.name, _now())
            raise
        if claimed is not None:
            break
        await request.blobs().delete(stored.info.name, _now())
    else:
        raise OperationAborted(
            "Parts of this upload kept changing while it was being completed; try again."
        )
    version = await objects.commit_version(
        request.services,
        bucket,
        request.key,
        stored,
        etag=etag,
        size=sum(size for _blob, size in manifest),
        owner=request.principal or bucket.owner,
        content_type=meta.get("content-type", ""),
        acl=acl,
        tags=tags,
    )
    used = {blob for blob, _size in manifest}
    for part in claimed:
        if part.blob not in used:
            await request.blobs().delete(part.blob, _now())
    return xml_response(
        "CompleteMultipartUploadResult",
        {
            "Location": f"/{bucket.name}/{request.key}",
            "Bucket": bucket.name,
            "Key": request.key,
            "ETag": f'"{etag}"',
        },
        headers=version_headers(bucket, version),
    )


async def _single_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def abort_multipart_upload(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    upload = await _upload(request)
    await uploads.abort_upload(request.services, bucket, upload.upload_id)
    return empty_response(204)


async def list_parts(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    upload = await _upload(request)
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
