"""Which access keys a BucketAccess should have now (pure: status, request and clock in).

The wanted key is derived from the object's uid and its rotation request (spec.rotation.
requestedAt and the rotate annotation), so a resync wants the same key and a new request a new
one. When the wanted key differs from status.accessKeyId, the current key becomes the previous
one, valid for spec.rotation.gracePeriod; a previous key whose time is up is revoked. Only one
previous key is kept: rotating again within the grace period revokes the older one at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from nimbus_operator.models.common import format_time


def rotation_request(requested_at: str | None, annotation: str | None) -> str:
    """What identifies one rotation request: both triggers, as written."""
    return f"{requested_at or ''}|{annotation or ''}"


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class KeyPlan:
    access_key: str
    issued_at: str
    """lastRotationTime: when ``access_key`` was issued."""
    previous_key: str | None
    previous_expires_at: str | None
    revoke: tuple[str, ...]
    """Keys to revoke now."""
    replaced: str | None = None
    """The key this reconcile replaces by ``access_key`` (None: no rotation now)."""


def plan_keys(status: Mapping[str, Any], wanted: str, grace: timedelta, now: datetime) -> KeyPlan:
    current = status.get("accessKeyId")
    previous = status.get("previousAccessKeyId")
    expires = _parse_time(status.get("previousKeyExpiresAt"))
    moment = format_time(now)
    if current is None or current == wanted:
        issued = status.get("lastRotationTime") or moment
        if previous and previous != wanted and (expires is None or expires <= now):
            return KeyPlan(wanted, issued, None, None, (previous,))
        if previous == wanted:
            return KeyPlan(wanted, issued, None, None, ())
        return KeyPlan(wanted, issued, previous, status.get("previousKeyExpiresAt"), ())
    older = (previous,) if previous and previous != wanted else ()
    if grace <= timedelta(0):
        return KeyPlan(wanted, moment, None, None, (*older, current), replaced=current)
    return KeyPlan(wanted, moment, current, format_time(now + grace), older, replaced=current)
