"""S3 Object Lock: the bucket's ObjectLockConfiguration and a version's Retention and LegalHold
documents (bucket_config/version_lock.py: the lock a write's headers give, what a lock
forbids).

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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from nimbus_storage.meta.api import NO_LOCK, RETENTION_MODES, ObjectLock
from nimbus_storage.s3errors import (
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
