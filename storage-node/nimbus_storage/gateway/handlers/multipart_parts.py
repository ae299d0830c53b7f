"""UploadPart and UploadPartCopy: a part of a multipart upload, stored as a blob of its own.

A part of an upload created with a checksum algorithm gets its checksum, verified when the
request carries one, computed otherwise, and recorded with the part (gateway/upload_checksums).
"""

from __future__ import annotations

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.auth.checksums import Checksum
from nimbus_storage.gateway import objects, sse_objects, sse_reads, upload_checksums
from nimbus_storage.gateway.body import require_size, verified_payload
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.copy_source import open_copy_source
from nimbus_storage.gateway.headers import iso8601
from nimbus_storage.gateway.responses import empty_response, xml_response
from nimbus_storage.gateway.uploads import find_upload, now_timestamp
from nimbus_storage.meta.api import Upload
from nimbus_storage.meta.errors import NoUpload
from nimbus_storage.s3errors import InvalidArgument, InvalidRange, TooManyParts

__all__ = ["upload_part", "upload_part_copy"]

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


async def _store_part_blob(
    request: S3Request, upload: Upload, number: int, out: sse_objects.Outgoing
) -> objects.StoredBlob:
    """The part's data, in a blob of its own (named by its upload and number)."""
    return await objects.store_blob(
        request.services,
        request.require_bucket(),
        f"{request.key}\x00{upload.upload_id}\x00{number}",
        out.chunks,
        {},
        expected_size=out.stored_size,
        trailer=out.trailer,
    )


async def _store_part(
    request: S3Request,
    upload: Upload,
    number: int,
    stored: objects.StoredBlob,
    *,
    out: sse_objects.Outgoing,
    size: int,
    checksum_b64: str | None,
) -> str:
    """Record the part (``size``: its plaintext's; ``checksum_b64``: its checksum, when its
    upload has an algorithm); its ETag."""
    etag = out.etag(stored.info.md5_hex)
    try:
        previous = await request.index().put_part(
            upload.upload_id,
            number,
            etag,
            size,
            stored.info.name,
            float(stored.info.timestamp),
            checksum_b64 or "",
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
    checksum = upload_checksums.upload_checksum(upload)
    computed = upload_checksums.part_checksum_to_compute(checksum, request.headers)
    size = require_size(request, MAX_PART_SIZE)
    await objects.check_quota(request.services, bucket, size)
    payload = verified_payload(request)
    chunks = aiter(payload)
    if computed is not None:  # a full-object upload's part sent without its checksum
        chunks = upload_checksums.hashing(chunks, computed)
    out = sse_objects.Outgoing.of(encryption, chunks, size)
    stored = await _store_part_blob(request, upload, number, out)
    sent = payload.checksum_headers()  # the request's own, verified
    part_checksum: str | None = None
    if checksum is not None:
        part_checksum = computed.b64digest() if computed is not None else sent.get(checksum.header)
        if part_checksum is None:  # announced in an x-amz-trailer of a body that has none
            await request.blobs().delete(stored.info.name, now_timestamp())
            raise upload_checksums.type_mismatch(checksum.algorithm, None)
        sent = {checksum.header: part_checksum}
    etag = await _store_part(
        request, upload, number, stored, out=out, size=size, checksum_b64=part_checksum
    )
    headers = {"ETag": f'"{etag}"', **sent}
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
    checksum = upload_checksums.upload_checksum(upload)
    # The copied bytes are the part's: its checksum is computed, whatever the upload's type.
    computed: Checksum | None = (
        None if checksum is None else upload_checksums.new_part_checksum(checksum)
    )
    source, _version, body = await open_copy_source(request, "x-amz-copy-source-")
    try:
        sse_reads.unlock_source(request, body, source.bucket, source.key)
        start, end = _copy_range(request.headers.get("x-amz-copy-source-range"), body.size)
        length = end - start + 1
        if length > MAX_PART_SIZE:
            raise InvalidArgument("A copied part may be at most 5 GiB")
        await objects.check_quota(request.services, bucket, length)
        chunks = body.stream(start, end)
        if computed is not None:
            chunks = upload_checksums.hashing(chunks, computed)
        # Always decrypted and sealed again: the part is a stream of the upload's data key.
        out = sse_objects.Outgoing.of(encryption, chunks, length)
        stored = await _store_part_blob(request, upload, number, out)
    finally:
        body.close()
    part_checksum = computed.b64digest() if computed is not None else None
    etag = await _store_part(
        request, upload, number, stored, out=out, size=length, checksum_b64=part_checksum
    )
    result: dict[str, s3xml.XmlValue] = {
        "LastModified": iso8601(float(stored.info.timestamp)),
        "ETag": f'"{etag}"',
    }
    if checksum is not None and part_checksum is not None:
        result[checksum.element] = part_checksum
    return xml_response(
        "CopyPartResult",
        result,
        headers=encryption.response_headers(include_context=False) if encryption else None,
    )
