"""Object Lock operations: a bucket's ObjectLockConfiguration, a version's retention and legal
hold (bucket_config/object_lock.py says what they mean; gateway/object_lock.py applies them)."""

from __future__ import annotations

import time

from aiohttp import web

from nimbus_storage.bucket_config import object_lock, version_lock
from nimbus_storage.bucket_config.object_lock import LockConfiguration
from nimbus_storage.gateway import objects
from nimbus_storage.gateway.body import read_small_body
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.object_lock import (
    OBJECT_LOCK_CONFIG,
    bucket_lock,
    may_bypass_governance,
)
from nimbus_storage.gateway.responses import empty_response
from nimbus_storage.meta.api import LockDecision, ObjectLock, ObjectVersion
from nimbus_storage.s3errors import (
    InvalidBucketState,
    InvalidRequest,
    MethodNotAllowed,
    NoSuchKey,
    NoSuchObjectLockConfiguration,
    NoSuchVersion,
    ObjectLockConfigurationNotFoundError,
)

MAX_LOCK_BODY = 64 * 1024
VERSIONING_NEEDED = (
    "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
)


def _xml(body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, content_type="application/xml", headers=headers)


# --- the bucket's configuration ---------------------------------------------------------------


async def get_object_lock_configuration(request: S3Request) -> web.StreamResponse:
    config = await bucket_lock(request.services, request.require_bucket())
    if config is None:
        raise ObjectLockConfigurationNotFoundError()
    return _xml(object_lock.render_configuration(config))


async def put_object_lock_configuration(request: S3Request) -> web.StreamResponse:
    """Set the default retention, or enable Object Lock on a bucket whose versioning is
    Enabled (for good: it cannot be turned off)."""
    bucket = request.require_bucket()
    config = object_lock.parse_configuration(await read_small_body(request, MAX_LOCK_BODY))
    if bucket.versioning != "Enabled":
        raise InvalidBucketState(VERSIONING_NEEDED)
    await request.services.catalog.set_config(
        bucket.name, OBJECT_LOCK_CONFIG, object_lock.to_json(config)
    )
    return empty_response()


async def enable_on_new_bucket(request: S3Request, name: str) -> None:
    """CreateBucket with ``x-amz-bucket-object-lock-enabled: true``: versioning Enabled and
    Object Lock without a default retention."""
    catalog = request.services.catalog
    await catalog.set_versioning(name, "Enabled")
    await catalog.set_config(name, OBJECT_LOCK_CONFIG, object_lock.to_json(LockConfiguration()))


async def refuse_versioning_change(request: S3Request, status: str) -> None:
    """PutBucketVersioning may not suspend versioning of a bucket with Object Lock."""
    bucket = request.require_bucket()
    if status != "Enabled" and await bucket_lock(request.services, bucket) is not None:
        raise InvalidBucketState(
            "An Object Lock configuration is present on this bucket, so the versioning state"
            " cannot be changed."
        )


# --- a version's retention and legal hold -----------------------------------------------------


async def _require_object_lock(request: S3Request) -> None:
    """Retention and legal holds are for buckets with Object Lock (else InvalidRequest)."""
    if await bucket_lock(request.services, request.require_bucket()) is None:
        raise InvalidRequest(object_lock.NOT_LOCKED_BUCKET)


async def _locked_version(request: S3Request) -> ObjectVersion:
    """The version a retention or legal-hold request names, in a bucket with Object Lock."""
    await _require_object_lock(request)
    version = await objects.find_version(request, request.key, request.query.get("versionId"))
    if version.delete_marker:
        raise MethodNotAllowed()
    return version


def _version_header(version: ObjectVersion) -> dict[str, str]:
    return {"x-amz-version-id": version.version_id}


async def _change_lock(request: S3Request, decide: LockDecision) -> ObjectVersion:
    """Apply ``decide`` to the named version's lock, in the index's own read-check-write."""
    version_id = request.query.get("versionId")

    def decide_live(version: ObjectVersion) -> ObjectLock:
        if version.delete_marker:
            if version_id is None:
                raise NoSuchKey(Key=request.key)
            raise MethodNotAllowed()
        return decide(version)

    changed = await request.index().set_lock(request.key, version_id, decide_live)
    if changed is None:
        if version_id is not None:
            raise NoSuchVersion(Key=request.key, VersionId=version_id)
        raise NoSuchKey(Key=request.key)
    return changed


async def get_object_retention(request: S3Request) -> web.StreamResponse:
    version = await _locked_version(request)
    if not version.lock.mode:
        raise NoSuchObjectLockConfiguration()
    return _xml(object_lock.render_retention(version.lock), _version_header(version))


async def put_object_retention(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    await _require_object_lock(request)
    wanted = object_lock.parse_retention(await read_small_body(request, MAX_LOCK_BODY))
    bypass = await may_bypass_governance(request, bucket, request.key)

    def decide(version: ObjectVersion) -> ObjectLock:
        return version_lock.changed_retention(
            version.lock, wanted, time.time(), bypass_governance=bypass
        )

    changed = await _change_lock(request, decide)
    return empty_response(headers=_version_header(changed))


async def get_object_legal_hold(request: S3Request) -> web.StreamResponse:
    version = await _locked_version(request)
    return _xml(object_lock.render_legal_hold(version.lock.legal_hold), _version_header(version))


async def put_object_legal_hold(request: S3Request) -> web.StreamResponse:
    await _require_object_lock(request)
    on = object_lock.parse_legal_hold(await read_small_body(request, MAX_LOCK_BODY))

    def decide(version: ObjectVersion) -> ObjectLock:
        lock = version.lock
        return ObjectLock(lock.mode, lock.retain_until, on)

    changed = await _change_lock(request, decide)
    return empty_response(headers=_version_header(changed))
