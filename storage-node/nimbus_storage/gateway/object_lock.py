"""Object Lock in the gateway: a bucket's configuration as stored in the catalog, the lock a new
version gets, the response headers that show a version's lock, and the check every removal of
a version passes (what a lock means is bucket_config/object_lock.py's).

The configuration is the bucket document ``objectLock`` (``CatalogService.get_config``), JSON
of the default retention; a bucket has Object Lock exactly when it has the document. A version's
lock lives in its index row, so the check runs where the index removes the row: in the row's
transaction (standalone) or on the rows a quorum of replicas answered (cluster).
"""

from __future__ import annotations

import time

from nimbus_storage.bucket_config import object_lock, version_lock
from nimbus_storage.bucket_config.object_lock import LockConfiguration
from nimbus_storage.gateway.authorize import check_access
from nimbus_storage.gateway.context import S3Request, Services
from nimbus_storage.meta.api import NO_LOCK, Bucket, ObjectLock, ObjectVersion, VersionCheck
from nimbus_storage.s3errors import AccessDenied

OBJECT_LOCK_CONFIG = "objectLock"
BYPASS_ACTION = "s3:BypassGovernanceRetention"
UPLOAD_LOCK_META = "x-nimbus-object-lock"  # a multipart upload's meta: the lock it named


async def bucket_lock(services: Services, bucket: Bucket) -> LockConfiguration | None:
    """The bucket's Object Lock configuration; None for a bucket without Object Lock."""
    if bucket.versioning != "Enabled":
        return None  # Object Lock needs versioning Enabled, and keeps it so
    stored = await services.catalog.get_config(bucket.name, OBJECT_LOCK_CONFIG)
    return None if stored is None else object_lock.from_json(stored)


async def default_version_lock(services: Services, bucket: Bucket) -> ObjectLock:
    """The lock of a new version whose write names none (a browser upload, a delivered access
    log, a multipart upload created without one): the bucket's default retention."""
    config = await bucket_lock(services, bucket)
    return NO_LOCK if config is None else config.default_lock(time.time())


async def new_version_lock(request: S3Request, bucket: Bucket) -> ObjectLock:
    """The lock of the version a write (PutObject, CopyObject, CreateMultipartUpload) creates:
    its ``x-amz-object-lock-*`` headers, else the bucket's default retention. Naming a
    retention needs ``s3:PutObjectRetention``, a legal hold ``s3:PutObjectLegalHold``."""
    asked = version_lock.requests_lock(request.headers)
    if not asked and bucket.versioning != "Enabled":
        return NO_LOCK
    config = await bucket_lock(request.services, bucket)
    lock = version_lock.lock_from_headers(request.headers, config, time.time())
    if object_lock.MODE_HEADER in request.headers:
        await check_access(request, bucket, "s3:PutObjectRetention", request.key)
    if object_lock.HOLD_HEADER in request.headers:
        await check_access(request, bucket, "s3:PutObjectLegalHold", request.key)
    return lock


async def upload_lock_meta(request: S3Request, bucket: Bucket) -> dict[str, str]:
    """CreateMultipartUpload: the lock its headers name, checked now and kept in the upload's
    meta for its completion; none when they name none (the bucket's default retention is the
    object's, as of its completion)."""
    if not version_lock.requests_lock(request.headers):
        return {}
    return {UPLOAD_LOCK_META: (await new_version_lock(request, bucket)).document()}


async def completed_upload_lock(
    services: Services, bucket: Bucket, meta: dict[str, str]
) -> ObjectLock:
    """CompleteMultipartUpload: the object's lock (taken out of the upload's ``meta``)."""
    stored = meta.pop(UPLOAD_LOCK_META, None)
    if stored is None:
        return await default_version_lock(services, bucket)
    return ObjectLock.of_document(stored)


async def lock_headers(request: S3Request, version: ObjectVersion) -> dict[str, str]:
    """The ``x-amz-object-lock-*`` headers of GetObject and HeadObject for ``version``: as on
    AWS, the retention only for a caller allowed ``s3:GetObjectRetention``, the legal hold for
    one allowed ``s3:GetObjectLegalHold``."""
    lock = version.lock
    headers: dict[str, str] = {}
    bucket = request.require_bucket()
    if lock.mode and await _allowed(request, bucket, "s3:GetObjectRetention", request.key):
        headers[object_lock.MODE_HEADER] = lock.mode
        headers[object_lock.UNTIL_HEADER] = object_lock.format_date(lock.retain_until)
    if lock.legal_hold and await _allowed(request, bucket, "s3:GetObjectLegalHold", request.key):
        headers[object_lock.HOLD_HEADER] = "ON"
    return headers


async def _allowed(request: S3Request, bucket: Bucket, action: str, key: str) -> bool:
    try:
        await check_access(request, bucket, action, key)
    except AccessDenied:
        return False
    return True


async def may_bypass_governance(request: S3Request, bucket: Bucket, key: str) -> bool:
    """Whether the request asks to bypass GOVERNANCE retention and is allowed to."""
    asked = request.headers.get(object_lock.BYPASS_HEADER, "").strip().lower() == "true"
    return asked and await _allowed(request, bucket, BYPASS_ACTION, key)


def keep_locked(*, bypass_governance: bool, now: float | None = None) -> VersionCheck:
    """A check refusing (AccessDenied) to remove a version its lock protects, at ``now`` (the
    time of the check when None)."""

    def check(version: ObjectVersion) -> None:
        moment = time.time() if now is None else now
        if version_lock.deletion_refused(version.lock, moment, bypass_governance=bypass_governance):
            raise AccessDenied(object_lock.PROTECTED)

    return check


async def deletion_check(
    request: S3Request, bucket: Bucket, key: str, version_id: str | None, *, locked: bool
) -> VersionCheck | None:
    """The check a DELETE of ``key`` (one key of DeleteObjects) passes in a bucket that has
    Object Lock (``locked``: see ``bucket_lock``): only a removal of a named version has one (a
    DELETE without a version id adds a delete marker and removes nothing)."""
    if version_id is None or not locked:
        return None
    return keep_locked(bypass_governance=await may_bypass_governance(request, bucket, key))
