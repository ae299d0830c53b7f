"""Object semantics shared by the handlers: write a version, find one, remove one (reading one
back is object_body.py's).

Every write goes to a blob with a name of its own (bucket, key and a write id), and becomes
visible only when the bucket index points at it. A crash or a client disconnect before that
leaves an orphan blob nobody can see, never a half-written object. Multipart objects are a small
manifest blob naming their part blobs, streamed part after part on GET (Swift's SLO).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from nimbus_storage.blobs.api import BlobInfo, normalize_timestamp
from nimbus_storage.blobs.trailer import BodyTrailer
from nimbus_storage.gateway.context import S3Request, Services
from nimbus_storage.gateway.headers import META_MANIFEST
from nimbus_storage.gateway.object_body import read_manifest
from nimbus_storage.meta.api import (
    NO_LOCK,
    NULL_VERSION,
    Bucket,
    ObjectLock,
    ObjectVersion,
    VersionCheck,
)
from nimbus_storage.s3errors import NoSuchKey, NoSuchVersion, QuotaExceeded

STREAM_CHUNK = 1024 * 1024


def new_write_id() -> str:
    """Unique and ordered by time, so version ids sort newest-last as strings."""
    return f"{time.time_ns() // 1000:016x}{os.urandom(6).hex()}"


def blob_name(bucket: str, key: str, write_id: str) -> str:
    return f"/{bucket}/{key}\x00{write_id}"


def version_id_for(bucket: Bucket, write_id: str) -> str:
    return write_id if bucket.versioning == "Enabled" else NULL_VERSION


async def check_quota(services: Services, bucket: Bucket, incoming_bytes: int) -> None:
    if bucket.quota_bytes is None and bucket.quota_objects is None:
        return
    used_bytes, used_objects = await services.catalog.index(bucket.name).usage()
    if bucket.quota_bytes is not None and used_bytes + incoming_bytes > bucket.quota_bytes:
        raise QuotaExceeded(
            f"Bucket quota of {bucket.quota_bytes} bytes exceeded"
            f" ({used_bytes} used, {incoming_bytes} more requested)."
        )
    if bucket.quota_objects is not None and used_objects + 1 > bucket.quota_objects:
        raise QuotaExceeded(f"Bucket quota of {bucket.quota_objects} objects exceeded.")


@dataclass(frozen=True, slots=True)
class StoredBlob:
    info: BlobInfo
    write_id: str


async def store_blob(
    services: Services,
    bucket: Bucket,
    key: str,
    payload: AsyncIterator[bytes],
    meta: Mapping[str, str],
    *,
    expected_size: int | None,
    trailer: BodyTrailer | None = None,
) -> StoredBlob:
    """``payload`` stored under a new blob name with ``meta``, and with ``trailer``'s facts
    (a trailing checksum) once the payload has ended."""
    write_id = new_write_id()
    info = await services.blobs_for(bucket).put(
        blob_name(bucket.name, key, write_id),
        payload,
        meta,
        normalize_timestamp(time.time()),
        expected_size=expected_size,
        trailer=trailer,
    )
    services.metrics.bytes_in.inc(info.size)
    return StoredBlob(info, write_id)


async def commit_version(
    services: Services,
    bucket: Bucket,
    key: str,
    stored: StoredBlob,
    *,
    etag: str,
    size: int,
    owner: str,
    content_type: str,
    acl: str = "private",
    tags: Mapping[str, str] | None = None,
    lock: ObjectLock = NO_LOCK,
) -> ObjectVersion:
    """Make a stored blob the object's newest version (with its ACL, tags and Object Lock, in
    one index transaction); drop the data it replaces."""
    version = ObjectVersion(
        key=key,
        version_id=version_id_for(bucket, stored.write_id),
        last_modified=float(stored.info.timestamp),
        etag=etag,
        size=size,
        blob=stored.info.name,
        content_type=content_type,
        owner=owner,
        acl=acl,
        lock_mode=lock.mode,
        lock_until=lock.retain_until,
        legal_hold=lock.legal_hold,
    )
    index = services.catalog.index(bucket.name)
    # Nothing awaited before the index update but the update itself: CompleteMultipartUpload
    # claims its upload just before calling this and relies on nothing running in between.
    replaced = await index.put_version(version, bucket.versioning, tags=tags)
    for old in replaced:
        await delete_version_data(services, bucket, old)
    return version


async def delete_version_data(services: Services, bucket: Bucket, version: ObjectVersion) -> None:
    """Tombstone the blob(s) of a version of ``bucket`` (in the bucket's policy store)."""
    if not version.blob:
        return
    blobs = services.blobs_for(bucket)
    timestamp = normalize_timestamp(time.time())
    # Only CompleteMultipartUpload writes a manifest (its parts are blobs of their own), and
    # its ETag is the only kind with a "-N" suffix: other blobs are deleted without a look.
    reader = await blobs.open(version.blob) if "-" in version.etag else None
    if reader is not None:
        try:
            if META_MANIFEST in reader.info.meta:
                for part_blob, _size in await read_manifest(reader):
                    await blobs.delete(part_blob, timestamp)
        finally:
            reader.close()
    await blobs.delete(version.blob, timestamp)


async def find_version(request: S3Request, key: str, version_id: str | None) -> ObjectVersion:
    """The version a GET/HEAD/COPY names; NoSuchKey / NoSuchVersion as AWS answers."""
    version = await request.index().get(key, version_id)
    if version is None:
        if version_id is not None:
            raise NoSuchVersion(Key=key, VersionId=version_id)
        raise NoSuchKey(Key=key)
    if version.delete_marker and version_id is None:
        raise NoSuchKey(Key=key)
    return version


@dataclass(frozen=True, slots=True)
class DeleteOutcome:
    version_id: str | None
    delete_marker: bool


async def delete_object(
    services: Services,
    bucket: Bucket,
    key: str,
    version_id: str | None,
    *,
    check: VersionCheck | None = None,
) -> DeleteOutcome:
    """Delete one object (or one version), as S3 does for the bucket's versioning state. A
    version's tags live in its index row, so they go with it. ``check`` sees a version before
    it is removed, and may refuse (gateway/object_lock.py)."""
    index = services.catalog.index(bucket.name)
    if version_id is not None:
        removed = await index.delete_version(key, version_id, check=check)
        if removed is None:
            return DeleteOutcome(version_id, False)
        await delete_version_data(services, bucket, removed)
        return DeleteOutcome(version_id, removed.delete_marker)
    if not bucket.versioning:
        removed = await index.delete_version(key, NULL_VERSION, check=check)
        if removed is not None:
            await delete_version_data(services, bucket, removed)
        return DeleteOutcome(None, False)
    marker_id = new_write_id() if bucket.versioning == "Enabled" else NULL_VERSION
    marker = ObjectVersion(
        key=key,
        version_id=marker_id,
        last_modified=time.time(),
        etag="",
        size=0,
        blob="",
        delete_marker=True,
    )
    for replaced in await index.put_version(marker, bucket.versioning):
        await delete_version_data(services, bucket, replaced)
    return DeleteOutcome(marker_id, True)
