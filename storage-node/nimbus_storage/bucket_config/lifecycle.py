"""Bucket lifecycle: parse/render/store (re-exported here) and the pure expiration decisions.

Day counts follow AWS: an object created at time T under ``Days: N`` expires at the first midnight
UTC at or after T + N days; ``Date`` rules expire every covered object from that midnight on. The
background expirer asks these functions; the gateway uses ``expiration_header`` on GET/HEAD/PUT.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from email.utils import formatdate
from urllib.parse import quote

from nimbus_storage.bucket_config.lifecycle_model import (
    Expiration,
    LifecycleConfiguration,
    LifecycleFilter,
    LifecycleRule,
    NoncurrentVersionExpiration,
    from_json,
    to_json,
)
from nimbus_storage.bucket_config.lifecycle_xml import parse_lifecycle, render_lifecycle

__all__ = [
    "Expiration",
    "LifecycleConfiguration",
    "LifecycleFilter",
    "LifecycleRule",
    "NoncurrentVersionExpiration",
    "current_expired",
    "delete_marker_expired",
    "expiration_header",
    "expiry_time",
    "from_json",
    "noncurrent_expired",
    "parse_lifecycle",
    "render_lifecycle",
    "to_json",
    "upload_abandoned",
]

DAY_SECONDS = 86400


def _midnight_on_or_after(timestamp: float) -> float:
    return float(math.ceil(timestamp / DAY_SECONDS) * DAY_SECONDS)


def _after_days(start: float, days: int) -> float:
    return _midnight_on_or_after(start + days * DAY_SECONDS)


def _rules_for(
    cfg: LifecycleConfiguration, key: str, size: int, tags: Mapping[str, str]
) -> Iterator[LifecycleRule]:
    return (rule for rule in cfg.rules if rule.enabled and rule.filter.matches(key, size, tags))


def expiry_time(rule: LifecycleRule, last_modified: float) -> float | None:
    """When ``rule`` expires a current version last modified at ``last_modified``, if it does."""
    expiration = rule.expiration
    if expiration is None:
        return None
    if expiration.date is not None:
        return expiration.date
    if expiration.days is not None:
        return _after_days(last_modified, expiration.days)
    return None


def current_expired(  # noqa: PLR0917 - the positional signature the gateway was promised
    cfg: LifecycleConfiguration,
    key: str,
    size: int,
    tags: Mapping[str, str],
    last_modified: float,
    now: float,
) -> bool:
    """Whether the current version of ``key`` is due for expiration at ``now``."""
    for rule in _rules_for(cfg, key, size, tags):
        due = expiry_time(rule, last_modified)
        if due is not None and now >= due:
            return True
    return False


def noncurrent_expired(  # noqa: PLR0917 - the positional signature the gateway was promised
    cfg: LifecycleConfiguration,
    key: str,
    size: int,
    tags: Mapping[str, str],
    became_noncurrent: float,
    newer_noncurrent_count: int,
    now: float,
) -> bool:
    """Whether a noncurrent version is due: old enough, and (with NewerNoncurrentVersions) not
    among the newest N noncurrent versions, i.e. ``newer_noncurrent_count >= N``."""
    for rule in _rules_for(cfg, key, size, tags):
        action = rule.noncurrent_version_expiration
        if action is None or now < _after_days(became_noncurrent, action.noncurrent_days):
            continue
        keep = action.newer_noncurrent_versions
        if keep is None or newer_noncurrent_count >= keep:
            return True
    return False


def upload_abandoned(cfg: LifecycleConfiguration, key: str, initiated: float, now: float) -> bool:
    """Whether an incomplete multipart upload of ``key`` is due for abortion."""
    for rule in cfg.rules:
        days = rule.abort_incomplete_upload_days
        if not rule.enabled or days is None or not rule.filter.matches_key(key):
            continue
        if now >= _after_days(initiated, days):
            return True
    return False


def delete_marker_expired(cfg: LifecycleConfiguration, key: str, other_versions: int) -> bool:
    """Whether a current delete marker with ``other_versions`` remaining versions is removable.

    Only a marker with no other versions left qualifies, under ExpiredObjectDeleteMarker.
    """
    if other_versions > 0:
        return False
    return any(
        rule.enabled
        and rule.expiration is not None
        and rule.expiration.expired_object_delete_marker
        and rule.filter.matches_key(key)
        for rule in cfg.rules
    )


def expiration_header(
    cfg: LifecycleConfiguration,
    key: str,
    size: int,
    tags: Mapping[str, str],
    last_modified: float,
) -> str | None:
    """The x-amz-expiration value for a current version: the earliest expiry and its rule."""
    best: tuple[float, str] | None = None
    for rule in _rules_for(cfg, key, size, tags):
        due = expiry_time(rule, last_modified)
        if due is not None and (best is None or due < best[0]):
            best = (due, rule.id)
    if best is None:
        return None
    due, rule_id = best
    return f'expiry-date="{formatdate(due, usegmt=True)}", rule-id="{quote(rule_id, safe="")}"'
