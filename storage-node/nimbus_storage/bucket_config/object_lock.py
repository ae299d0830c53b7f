"""S3 Object Lock: the bucket's ObjectLockConfiguration, a version's Retention and LegalHold
(documents and ``x-amz-object-lock-*`` headers), and what a lock forbids.

A bucket has Object Lock from its creation (``x-amz-bucket-object-lock-enabled``) or from a
PutObjectLockConfiguration on a bucket whose versioning is Enabled; it never loses it, and its
versioning can no longer be suspended. Its configuration may name a default retention (a mode
and a period in days or years) that every new version gets unless its write names its own.

A version's lock is two independent things (``meta.api.ObjectLock``):

* a retention until a date, in GOVERNANCE mode (a caller allowed ``s3:BypassGovernanceRetention``
  who sends ``x-amz-bypass-governance-retention: true`` may delete the version or shorten,
  change or remove the retention) or COMPLIANCE mode (nobody can, until the date: it can only
  be extended);
* a legal hold, ON or OFF, which keeps the version whatever its retention until it is OFF.

While either holds, the version's data cannot be deleted by anyone: not by a DELETE naming it,
not by DeleteObjects, not by lifecycle. A DELETE without a version id only adds a delete marker,
as in any versioned bucket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from nimbus_storage.meta.api import NO_LOCK, RETENTION_MODES, ObjectLock
from nimbus_storage.s3errors import (
    AccessDenied,
    InvalidArgument,
    InvalidRequest,
    InvalidRetentionPeriod,
    MalformedXML,
)
from nimbus_storage.s3xml import parse, render, token

GOVERNANCE = "GOVERNANCE"
COMPLIANCE = "COMPLIANCE"
DAY = 86400.0
YEAR_DAYS = 365
MAX_DAYS = 36500
MAX_YEARS = 100

MODE_HEADER = "x-amz-object-lock-mode"
UNTIL_HEADER = "x-amz-object-lock-retain-until-date"
HOLD_HEADER = "x-amz-object-lock-legal-hold"
BYPASS_HEADER = "x-amz-bypass-governance-retention"
LOCK_HEADERS = (MODE_HEADER, UNTIL_HEADER, HOLD_HEADER)

NOT_LOCKED_BUCKET = "Bucket is missing Object Lock Configuration"
PROTECTED = "Access Denied because object protected by object lock."

HoldStatus = Literal["ON", "OFF"]


@dataclass(frozen=True, slots=True)
class LockConfiguration:
    """A bucket's Object Lock configuration: enabled, with an optional default retention."""

    mode: str = ""  # the default retention's mode; "" without a default rule
    days: int = 0
    years: int = 0

    def default_lock(self, now: float) -> ObjectLock:
        """The lock a new version written at ``now`` gets when its write names none."""
        if not self.mode:
            return NO_LOCK
        period = self.days if self.days else self.years * YEAR_DAYS
        return ObjectLock(self.mode, now + period * DAY)


def format_date(moment: float) -> str:
    """A retain-until date as AWS writes it: ISO 8601, milliseconds, UTC."""
    when = datetime.fromtimestamp(moment, tz=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def parse_date(value: str) -> float | None:
    """An ISO 8601 date and time (``Z`` or an offset; none means UTC); None if it is not one."""
    text = value.strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


# --- the bucket's configuration ---------------------------------------------------------------


def _period(element_text: str | None, limit: int) -> int:
    if element_text is None:
        return 0
    try:
        value = int(element_text)
    except ValueError:
        raise MalformedXML() from None
    if value <= 0 or value > limit:
        raise InvalidRetentionPeriod()
    return value


def parse_configuration(body: bytes) -> LockConfiguration:
    """A PutObjectLockConfiguration body.

    ``ObjectLockEnabled`` must be ``Enabled``; a ``Rule`` holds one ``DefaultRetention`` with a
    ``Mode`` and either ``Days`` or ``Years``. Anything else is MalformedXML; a period that is
    not positive (or over 100 years) is InvalidRetentionPeriod.
    """
    root = parse(body, root="ObjectLockConfiguration")
    if any(child.tag not in ("ObjectLockEnabled", "Rule") for child in root):
        raise MalformedXML()
    if token(root, "ObjectLockEnabled") != "Enabled":
        raise MalformedXML()
    rule = root.find("Rule")
    if rule is None:
        return LockConfiguration()
    retention = rule.find("DefaultRetention")
    if retention is None or len(rule) != 1:
        raise MalformedXML()
    if any(child.tag not in ("Mode", "Days", "Years") for child in retention):
        raise MalformedXML()
    mode = token(retention, "Mode")
    days_text, years_text = token(retention, "Days"), token(retention, "Years")
    if mode not in RETENTION_MODES or (days_text is None) == (years_text is None):
        raise MalformedXML()
    return LockConfiguration(mode, _period(days_text, MAX_DAYS), _period(years_text, MAX_YEARS))


def render_configuration(config: LockConfiguration) -> bytes:
    rule = None
    if config.mode:
        retention: dict[str, str | int] = {"Mode": config.mode}
        if config.days:
            retention["Days"] = config.days
        else:
            retention["Years"] = config.years
        rule = {"DefaultRetention": retention}
    return render("ObjectLockConfiguration", {"ObjectLockEnabled": "Enabled", "Rule": rule})


def to_json(config: LockConfiguration) -> str:
    return json.dumps({"mode": config.mode, "days": config.days, "years": config.years})


def from_json(stored: str) -> LockConfiguration:
    document = json.loads(stored)
    return LockConfiguration(str(document["mode"]), int(document["days"]), int(document["years"]))


# --- a version's retention and legal hold ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Retention:
    """A retention a request asks for; an empty mode removes the version's retention."""

    mode: str = ""
    retain_until: float = 0.0


def parse_retention(body: bytes) -> Retention:
    """A PutObjectRetention body: ``Mode`` and ``RetainUntilDate`` together, or neither (to
    remove a retention)."""
    root = parse(body, root="Retention")
    if any(child.tag not in ("Mode", "RetainUntilDate") for child in root):
        raise MalformedXML()
    mode, until_text = token(root, "Mode"), token(root, "RetainUntilDate")
    if mode is None and until_text is None:
        return Retention()
    if mode not in RETENTION_MODES or until_text is None:
        raise MalformedXML()
    until = parse_date(until_text)
    if until is None:
        raise MalformedXML()
    return Retention(mode, until)


def render_retention(lock: ObjectLock) -> bytes:
    return render(
        "Retention", {"Mode": lock.mode, "RetainUntilDate": format_date(lock.retain_until)}
    )


def parse_legal_hold(body: bytes) -> bool:
    """A PutObjectLegalHold body: ``Status`` ON or OFF, exactly."""
    root = parse(body, root="LegalHold")
    if any(child.tag != "Status" for child in root):
        raise MalformedXML()
    status = token(root, "Status")
    if status not in ("ON", "OFF"):
        raise MalformedXML()
    return status == "ON"


def hold_status(on: bool) -> HoldStatus:
    return "ON" if on else "OFF"


def render_legal_hold(on: bool) -> bytes:
    return render("LegalHold", {"Status": hold_status(on)})


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
