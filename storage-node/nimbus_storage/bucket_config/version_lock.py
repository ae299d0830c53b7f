"""A version's Object Lock in use: the lock a write's ``x-amz-object-lock-*`` headers (or its
bucket's default retention) give a new version, and what a lock forbids (bucket_config/
object_lock.py says what Object Lock is)."""

from __future__ import annotations

from collections.abc import Mapping

from nimbus_storage.bucket_config.object_lock import (
    COMPLIANCE,
    HOLD_HEADER,
    LOCK_HEADERS,
    MODE_HEADER,
    NOT_LOCKED_BUCKET,
    PROTECTED,
    UNTIL_HEADER,
    LockConfiguration,
    Retention,
    parse_date,
)
from nimbus_storage.meta.api import NO_LOCK, RETENTION_MODES, ObjectLock
from nimbus_storage.s3errors import AccessDenied, InvalidArgument, InvalidRequest


def requests_lock(headers: Mapping[str, str]) -> bool:
    """Whether a write's headers name a retention or a legal hold."""
    return any(name in headers for name in LOCK_HEADERS)


def lock_from_headers(
    headers: Mapping[str, str], config: LockConfiguration | None, now: float
) -> ObjectLock:
    """The lock a new version gets: what its write's ``x-amz-object-lock-*`` headers name, the
    bucket's default retention where they name no retention; NO_LOCK in a bucket without
    Object Lock (``config`` None), where naming one is InvalidRequest."""
    mode, until_text, hold = (headers.get(name) for name in LOCK_HEADERS)
    if mode is None and until_text is None and hold is None:
        return NO_LOCK if config is None else config.default_lock(now)
    if config is None:
        raise InvalidRequest(NOT_LOCKED_BUCKET)
    if (mode is None) != (until_text is None):
        raise InvalidArgument(
            f"{UNTIL_HEADER} and {MODE_HEADER} must both be supplied",
            ArgumentName=MODE_HEADER if mode is None else UNTIL_HEADER,
        )
    if hold is not None and hold not in ("ON", "OFF"):
        raise InvalidArgument(
            "Legal Hold must be either of 'ON' or 'OFF'", ArgumentName=HOLD_HEADER
        )
    legal_hold = hold == "ON"
    if mode is None or until_text is None:
        return ObjectLock(*_default_retention(config, now), legal_hold=legal_hold)
    if mode not in RETENTION_MODES:
        raise InvalidArgument(
            "Unknown wormMode directive.", ArgumentName=MODE_HEADER, ArgumentValue=mode
        )
    until = parse_date(until_text)
    if until is None:
        raise InvalidArgument(
            "The retain until date must be provided in ISO 8601 format",
            ArgumentName=UNTIL_HEADER,
            ArgumentValue=until_text,
        )
    if until <= now:
        raise InvalidArgument(
            "The retain until date must be in the future!", ArgumentName=UNTIL_HEADER
        )
    return ObjectLock(mode, until, legal_hold)


def _default_retention(config: LockConfiguration, now: float) -> tuple[str, float]:
    default = config.default_lock(now)
    return default.mode, default.retain_until


# --- what a lock forbids ----------------------------------------------------------------------


def retention_holds(lock: ObjectLock, now: float) -> bool:
    return bool(lock.mode) and lock.retain_until > now


def deletion_refused(lock: ObjectLock, now: float, *, bypass_governance: bool) -> bool:
    """Whether a version with ``lock`` must be kept: a legal hold, a COMPLIANCE retention, or a
    GOVERNANCE retention the request may not bypass."""
    if lock.legal_hold:
        return True
    if not retention_holds(lock, now):
        return False
    return lock.mode == COMPLIANCE or not bypass_governance


def changed_retention(
    current: ObjectLock, wanted: Retention, now: float, *, bypass_governance: bool
) -> ObjectLock:
    """The lock after a PutObjectRetention asking for ``wanted`` on a version with ``current``.

    A retention still in force may be extended in its mode; shortening it, changing its mode or
    removing it is AccessDenied, unless it is GOVERNANCE and the request may bypass it.
    """
    if wanted.mode and wanted.retain_until <= now:
        raise InvalidArgument("The retain until date must be in the future!")
    if retention_holds(current, now):
        extends = wanted.mode == current.mode and wanted.retain_until >= current.retain_until
        if not extends and (current.mode == COMPLIANCE or not bypass_governance):
            raise AccessDenied(PROTECTED)
    return ObjectLock(wanted.mode, wanted.retain_until if wanted.mode else 0.0, current.legal_hold)
