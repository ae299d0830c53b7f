"""CompleteMultipartUpload: the manifest of the listed parts becomes the object's current
version, with its condition (``If-None-Match: *``, ``If-Match``) checked as it commits.

Also what every multipart handler shares: the upload a request names, the tags kept with it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.blobs.api import normalize_timestamp
from nimbus_storage.gateway import objects, sse_reads
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.bucket_controls import object_owner
from nimbus_storage.gateway.conditional_writes import (
    check_write_preconditions,
    write_guard,
)
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.expiration import expiration_headers
from nimbus_storage.gateway.handlers.objects_write import version_headers
from nimbus_storage.gateway.headers import META_ACL, META_MANIFEST
from nimbus_storage.gateway.responses import xml_response
from nimbus_storage.meta.api import ObjectVersion, Part, Upload
from nimbus_storage.s3errors import (
    EntityTooSmall,
    InvalidPart,
    InvalidPartOrder,
    MalformedXML,
    NoSuchUpload,
    OperationAborted,
)

__all__ = ["TAGS_META", "complete_multipart_upload", "find_upload", "now_timestamp"]

# Complete rebuilds its manifest when a part is re-uploaded meanwhile; this often, then 409.
MAX_COMPLETE_ATTEMPTS = 3
TAGS_META = "x-nimbus-tags"


async def find_upload(request: S3Request) -> Upload:
    upload_id = request.query.get("uploadId", "")
    upload = await request.index().get_upload(upload_id)
    if upload is None or upload.key != request.key:
        raise NoSuchUpload(UploadId=upload_id)
    return upload


def now_timestamp() -> str:
    return normalize_timestamp(time.time())


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


@dataclass(frozen=True, slots=True)
class _Completed:
    version: ObjectVersion
    manifest: list[tuple[str, int]]
    etag: str
    claimed: list[Part]


async def _commit(
    request: S3Request,
    upload: Upload,
    listed: list[tuple[int, str]],
    meta: dict[str, str],
    *,
    owner: str,
    acl: str,
    tags: dict[str, str],
) -> _Completed:
    """Store the manifest of the ``listed`` parts, claim the upload and make the manifest the
    key's current version; the write's condition is checked again, under the key's guard,
    just before the claim (a 412 then leaves the upload as it was)."""
    bucket = request.require_bucket()
    for _attempt in range(MAX_COMPLETE_ATTEMPTS):
        # Writing the manifest awaits; the upload may change meanwhile, so it is checked again
        # (and claimed) once the manifest is stored, and rebuilt if a part was replaced.
        manifest, etag = await _build_manifest(request, upload, listed)
        size = sum(part_size for _blob, part_size in manifest)
        # Parts do not count toward usage until the object exists: check the whole object now.
        await objects.check_quota(request.services, bucket, size)
        body = objects.manifest_body(manifest)
        stored = await objects.store_blob(
            request.services,
            bucket,
            request.key,
            _single_chunk(body),
            meta,
            expected_size=len(body),
        )
        async with write_guard(request, bucket):
            try:
                await check_write_preconditions(request, bucket)
                claimed = await _claim_upload(request, upload, listed, manifest)
            except BaseException:
                await request.blobs().delete(stored.info.name, now_timestamp())
                raise
            if claimed is not None:
                version = await objects.commit_version(
                    request.services,
                    bucket,
                    request.key,
                    stored,
                    etag=etag,
                    size=size,
                    owner=owner,
                    content_type=meta.get("content-type", ""),
                    acl=acl,
                    tags=tags,
                )
                return _Completed(version, manifest, etag, claimed)
        await request.blobs().delete(stored.info.name, now_timestamp())
    raise OperationAborted(
        "Parts of this upload kept changing while it was being completed; try again."
    )


async def complete_multipart_upload(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    upload = await find_upload(request)
    sse_reads.check_completion(request, upload)
    listed = _parse_completion(await read_small_body(request, 10 * 1024 * 1024))
    numbers = [number for number, _etag in listed]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise InvalidPartOrder()
    meta = dict(upload.meta)
    tags = json.loads(meta.pop(TAGS_META, "{}"))
    acl = meta.pop(META_ACL, "private")
    owner = await object_owner(request, acl)  # before the claim: see commit_version
    meta[META_MANIFEST] = "1"
    await check_write_preconditions(request, bucket)  # 412 before anything is stored
    completed = await _commit(request, upload, listed, meta, owner=owner, acl=acl, tags=tags)
    used = {blob for blob, _size in completed.manifest}
    for part in completed.claimed:
        if part.blob not in used:
            await request.blobs().delete(part.blob, now_timestamp())
    return xml_response(
        "CompleteMultipartUploadResult",
        {
            "Location": f"/{bucket.name}/{request.key}",
            "Bucket": bucket.name,
            "Key": request.key,
            "ETag": f'"{completed.etag}"',
        },
        headers=version_headers(bucket, completed.version)
        | sse_reads.completion_headers(upload)
        | await expiration_headers(request.services, bucket, completed.version, tags),
    )


async def _single_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body
