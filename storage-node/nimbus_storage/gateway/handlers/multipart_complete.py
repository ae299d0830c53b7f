"""CompleteMultipartUpload: the manifest of the listed parts becomes the object's current
version, with its condition (``If-None-Match: *``, ``If-Match``) checked as it commits, and its
checksum when the upload has an algorithm (gateway/upload_checksums.py): computed from the parts'
checksums, checked against the one an ``x-amz-checksum-*`` header states.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from nimbus_storage.gateway import object_checksums, objects, sse_reads, upload_checksums
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.bucket_controls import object_owner
from nimbus_storage.gateway.completion_manifest import (
    build_manifest,
    multipart_etag,
    parse_completion,
)
from nimbus_storage.gateway.conditional_writes import (
    check_write_preconditions,
    write_guard,
)
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.expiration import expiration_headers
from nimbus_storage.gateway.handlers.objects_write import version_headers
from nimbus_storage.gateway.headers import META_ACL, META_INITIATOR, META_MANIFEST
from nimbus_storage.gateway.object_body import open_body
from nimbus_storage.gateway.object_checksums import ListedPart, ObjectClaim
from nimbus_storage.gateway.object_lock import completed_upload_lock
from nimbus_storage.gateway.responses import xml_response
from nimbus_storage.gateway.upload_checksums import UploadChecksum
from nimbus_storage.gateway.uploads import TAGS_META, find_upload, now_timestamp
from nimbus_storage.meta.api import ObjectLock, ObjectVersion, Part, Upload
from nimbus_storage.s3errors import (
    InvalidPartOrder,
    NoSuchUpload,
    OperationAborted,
    S3Error,
)

__all__ = ["complete_multipart_upload"]

# Complete rebuilds its manifest when a part is re-uploaded meanwhile; this often, then 409.
MAX_COMPLETE_ATTEMPTS = 3
MAX_COMPLETION_BODY = 10 * 1024 * 1024


async def _claim_upload(
    request: S3Request,
    upload: Upload,
    listed: list[ListedPart],
    manifest: list[tuple[str, int]],
) -> list[Part] | None:
    """Forget the upload if its parts are still the ones in ``manifest``; its parts, or None.

    The index checks and deletes in one step (on each replica, and a quorum of replicas must
    agree), so of an Abort, a Complete or an UploadPart of this upload racing this one through
    any gateway, only one wins.
    """
    expected = {entry.number: blob for entry, (blob, _size) in zip(listed, manifest, strict=True)}
    return await request.index().claim_upload(upload.upload_id, expected)


@dataclass(frozen=True, slots=True)
class _Completed:
    version: ObjectVersion
    manifest: list[tuple[str, int]]
    etag: str
    claimed: list[Part]
    checksum: str | None


async def _commit(
    request: S3Request,
    upload: Upload,
    listed: list[ListedPart],
    meta: dict[str, str],
    *,
    owner: str,
    acl: str,
    tags: dict[str, str],
    lock: ObjectLock,
    checksum: tuple[UploadChecksum, ObjectClaim | None] | None,
) -> _Completed:
    """Store the manifest of the ``listed`` parts, claim the upload and make the manifest the
    key's current version; the write's condition is checked again, under the key's guard,
    just before the claim (a 412 then leaves the upload as it was)."""
    bucket = request.require_bucket()
    for _attempt in range(MAX_COMPLETE_ATTEMPTS):
        # Writing the manifest awaits; the upload may change meanwhile, so it is checked again
        # (and claimed) once the manifest is stored, and rebuilt if a part was replaced.
        built = await build_manifest(request, upload, listed, checksum)
        manifest, etag = built.parts, built.etag
        size = sum(part_size for _blob, part_size in manifest)
        # Parts do not count toward usage until the object exists: check the whole object now.
        await objects.check_quota(request.services, bucket, size)
        body = object_checksums.manifest_body(manifest, built.part_checksums)
        stored_meta = dict(meta)
        if checksum is not None and built.checksum is not None:
            stored_meta.update(object_checksums.object_meta(checksum[0], built.checksum))
        stored = await objects.store_blob(
            request.services,
            bucket,
            request.key,
            _single_chunk(body),
            stored_meta,
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
                    lock=lock,
                )
                return _Completed(version, manifest, etag, claimed, built.checksum)
        await request.blobs().delete(stored.info.name, now_timestamp())
    raise OperationAborted(
        "Parts of this upload kept changing while it was being completed; try again."
    )


async def _repeated_completion(request: S3Request) -> web.StreamResponse:
    """A CompleteMultipartUpload of an upload that is no more: answered as the first time when
    it made the key's current version (a client retrying after its answer was lost, as AWS
    allows), NoSuchUpload otherwise."""
    bucket = request.require_bucket()
    upload_id = request.query["uploadId"]
    gone = NoSuchUpload(UploadId=upload_id)
    try:
        listed = parse_completion(await read_small_body(request, MAX_COMPLETION_BODY))
    except S3Error:
        raise gone from None
    version = await request.index().get(request.key)
    etag = multipart_etag([entry.etag for entry in listed])
    if version is None or version.delete_marker or version.etag != etag:
        raise gone
    body = await open_body(request.services, bucket, version)
    try:
        if body.meta.get(META_MANIFEST) != upload_id:
            raise gone
    finally:
        body.close()
    answer = {"Location": f"/{bucket.name}/{request.key}", "Bucket": bucket.name}
    answer |= {"Key": request.key, "ETag": f'"{version.etag}"'}
    return xml_response(
        "CompleteMultipartUploadResult", answer, headers=version_headers(bucket, version)
    )


async def complete_multipart_upload(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    try:
        upload = await find_upload(request)
    except NoSuchUpload:
        return await _repeated_completion(request)
    sse_reads.check_completion(request, upload)
    # An x-amz-checksum-* header states the object's checksum, not the XML body's.
    body = await read_small_body(request, MAX_COMPLETION_BODY, checksum_of_body=False)
    listed = parse_completion(body)
    numbers = [entry.number for entry in listed]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise InvalidPartOrder()
    upload_checksum = upload_checksums.upload_checksum(upload)
    claim = object_checksums.check_completion_request(upload_checksum, request.headers, listed)
    checksum = (upload_checksum, claim) if upload_checksum is not None else None
    meta = upload_checksums.without_checksum_meta(upload.meta)
    tags = json.loads(meta.pop(TAGS_META, "{}"))
    acl = meta.pop(META_ACL, "private")
    meta.pop(META_INITIATOR, None)
    lock = await completed_upload_lock(request.services, bucket, meta)
    owner = await object_owner(request, acl)  # before the claim: see commit_version
    meta[META_MANIFEST] = upload.upload_id  # names the upload, for a repeated completion
    await check_write_preconditions(request, bucket)  # 412 before anything is stored
    completed = await _commit(
        request,
        upload,
        listed,
        meta,
        owner=owner,
        acl=acl,
        tags=tags,
        lock=lock,
        checksum=checksum,
    )
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
            **(
                object_checksums.object_xml(upload_checksum, completed.checksum)
                if upload_checksum is not None and completed.checksum is not None
                else {}
            ),
        },
        headers=version_headers(bucket, completed.version)
        | sse_reads.completion_headers(upload)
        | await expiration_headers(request.services, bucket, completed.version, tags),
    )


async def _single_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body
