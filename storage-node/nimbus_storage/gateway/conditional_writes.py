"""Conditional writes (PutObject, CopyObject, CompleteMultipartUpload: ``If-None-Match: *``,
``If-Match``) and conditional deletes (DeleteObject: ``If-Match``,
``x-amz-if-match-last-modified-time``, ``x-amz-if-match-size``), as AWS answers them.

A write checks its condition before storing anything (``check_write_preconditions``), then
again under the key's guard as it commits (``commit_checked``; write_guard.py says what that
guarantees).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager

from nimbus_storage.blobs.api import normalize_timestamp
from nimbus_storage.gateway import objects
from nimbus_storage.gateway.conditional import (
    DELETE_CONDITIONS,
    WRITE_CONDITIONS,
    check_delete_conditions,
    check_write_conditions,
    has_any,
)
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.write_guard import key_guard
from nimbus_storage.meta.api import NO_LOCK, Bucket, ObjectLock, ObjectVersion, VersionCheck

__all__ = [
    "check_write_preconditions",
    "commit_checked",
    "conditional_delete",
    "write_guard",
]


def write_guard(request: S3Request, bucket: Bucket) -> AbstractAsyncContextManager[None]:
    """The key's guard when the write is conditional; nothing otherwise."""
    needed = has_any(request.headers, WRITE_CONDITIONS)
    return key_guard(bucket.name, request.key, needed=needed)


async def check_write_preconditions(request: S3Request, bucket: Bucket) -> None:
    """412 / 404 when the write's condition does not hold against the key's current version."""
    if not has_any(request.headers, WRITE_CONDITIONS):
        return
    current = await request.services.catalog.index(bucket.name).get(request.key)
    check_write_conditions(request.headers, request.key, current)


async def commit_checked(
    request: S3Request,
    bucket: Bucket,
    stored: objects.StoredBlob,
    *,
    etag: str,
    size: int,
    owner: str,
    content_type: str,
    acl: str,
    tags: Mapping[str, str],
    lock: ObjectLock = NO_LOCK,
) -> ObjectVersion:
    """``objects.commit_version``, with the write's condition checked again under the key's
    guard just before; a failed condition deletes the stored blob (nothing names it)."""
    async with write_guard(request, bucket):
        try:
            await check_write_preconditions(request, bucket)
        except BaseException:
            blobs = request.services.blobs_for(bucket)
            await blobs.delete(stored.info.name, normalize_timestamp(time.time()))
            raise
        return await objects.commit_version(
            request.services,
            bucket,
            request.key,
            stored,
            etag=etag,
            size=size,
            owner=owner,
            content_type=content_type,
            acl=acl,
            tags=tags,
            lock=lock,
        )


async def conditional_delete(
    request: S3Request,
    bucket: Bucket,
    key: str,
    version_id: str | None,
    conditions: Mapping[str, str],
    *,
    check: VersionCheck | None = None,
) -> objects.DeleteOutcome:
    """Delete ``key`` (DeleteObject, or one key of DeleteObjects), with its ``conditions`` (the
    headers of DeleteObject, lower-case names) checked against the current version (or the one
    ``version_id`` names) under the key's guard; ``check`` as ``objects.delete_object``'s."""
    services = request.services
    if not has_any(conditions, DELETE_CONDITIONS):
        return await objects.delete_object(services, bucket, key, version_id, check=check)
    async with key_guard(bucket.name, key):
        target = await services.catalog.index(bucket.name).get(key, version_id)
        check_delete_conditions(conditions, key, version_id, target)
        return await objects.delete_object(services, bucket, key, version_id, check=check)
