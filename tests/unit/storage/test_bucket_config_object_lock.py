"""Object Lock's documents, headers and rules (bucket_config/object_lock.py, version_lock.py), at
fixed times."""

from __future__ import annotations

import pytest
from nimbus_storage.bucket_config import object_lock as ol
from nimbus_storage.bucket_config import version_lock
from nimbus_storage.meta.api import NO_LOCK, ObjectLock
from nimbus_storage.s3errors import (
    AccessDenied,
    InvalidArgument,
    InvalidRequest,
    InvalidRetentionPeriod,
    MalformedXML,
    S3Error,
)

NOW = 1_800_000_000.0
DAY = 86400.0
GOV = ObjectLock("GOVERNANCE", NOW + DAY)
COMP = ObjectLock("COMPLIANCE", NOW + DAY)


def config_body(rule: str = "") -> bytes:
    return (
        "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
        f"{rule}</ObjectLockConfiguration>"
    ).encode()


def test_configuration_round_trip() -> None:
    assert ol.parse_configuration(config_body()) == ol.LockConfiguration()
    body = config_body(
        "<Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>2</Years></DefaultRetention></Rule>"
    )
    config = ol.parse_configuration(body)
    assert config == ol.LockConfiguration("COMPLIANCE", 0, 2)
    assert ol.parse_configuration(ol.render_configuration(config)) == config
    assert ol.from_json(ol.to_json(config)) == config
    assert config.default_lock(NOW) == ObjectLock("COMPLIANCE", NOW + 730 * DAY)
    assert ol.LockConfiguration().default_lock(NOW) == NO_LOCK


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ("<Rule/>", MalformedXML),
        ("<Rule><DefaultRetention><Mode>GOVERNANCE</Mode></DefaultRetention></Rule>", MalformedXML),
        (
            "<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>"
            "</DefaultRetention></Rule>",
            MalformedXML,
        ),
        (
            "<Rule><DefaultRetention><Mode>X</Mode><Days>1</Days></DefaultRetention></Rule>",
            MalformedXML,
        ),
        (
            "<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>x</Days></DefaultRetention></Rule>",
            MalformedXML,
        ),
        (
            "<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule>",
            InvalidRetentionPeriod,
        ),
        (
            "<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>36501</Days></DefaultRetention></Rule>",
            InvalidRetentionPeriod,
        ),
        (
            "<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Years>101</Years></DefaultRetention></Rule>",
            InvalidRetentionPeriod,
        ),
        ("<Other/>", MalformedXML),
    ],
)
def test_bad_configurations(rule: str, error: type[S3Error]) -> None:
    with pytest.raises(error):
        ol.parse_configuration(config_body(rule))


def test_a_configuration_must_say_enabled() -> None:
    with pytest.raises(MalformedXML):
        ol.parse_configuration(b"<ObjectLockConfiguration/>")


def test_retention_and_legal_hold_documents() -> None:
    body = (
        b"<Retention><Mode>GOVERNANCE</Mode>"
        b"<RetainUntilDate>2027-01-02T03:04:05.678Z</RetainUntilDate></Retention>"
    )
    wanted = ol.parse_retention(body)
    assert wanted.mode == "GOVERNANCE"
    assert ol.format_date(wanted.retain_until) == "2027-01-02T03:04:05.678Z"
    assert ol.parse_retention(b"<Retention/>") == ol.Retention()
    assert ol.parse_retention(ol.render_retention(GOV)).retain_until == GOV.retain_until
    for bad in (
        b"<Retention><Mode>GOVERNANCE</Mode></Retention>",
        b"<Retention><RetainUntilDate>2027-01-01T00:00:00Z</RetainUntilDate></Retention>",
        b"<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>soon</RetainUntilDate></Retention>",
    ):
        with pytest.raises(MalformedXML):
            ol.parse_retention(bad)
    assert ol.parse_legal_hold(ol.render_legal_hold(True)) is True
    assert ol.parse_legal_hold(ol.render_legal_hold(False)) is False
    with pytest.raises(MalformedXML):
        ol.parse_legal_hold(b"<LegalHold><Status>On</Status></LegalHold>")


def test_lock_from_headers() -> None:
    config = ol.LockConfiguration("GOVERNANCE", 3, 0)
    assert version_lock.lock_from_headers({}, None, NOW) == NO_LOCK
    assert version_lock.lock_from_headers({}, config, NOW) == ObjectLock(
        "GOVERNANCE", NOW + 3 * DAY
    )
    held = version_lock.lock_from_headers({ol.HOLD_HEADER: "ON"}, config, NOW)
    assert held == ObjectLock("GOVERNANCE", NOW + 3 * DAY, legal_hold=True)
    named = {ol.MODE_HEADER: "COMPLIANCE", ol.UNTIL_HEADER: "2030-01-01T00:00:00Z"}
    assert version_lock.lock_from_headers(named, config, NOW).mode == "COMPLIANCE"
    with pytest.raises(InvalidRequest):
        version_lock.lock_from_headers({ol.HOLD_HEADER: "OFF"}, None, NOW)
    for bad in (
        {ol.MODE_HEADER: "GOVERNANCE"},
        {ol.UNTIL_HEADER: "2030-01-01T00:00:00Z"},
        {ol.MODE_HEADER: "governance", ol.UNTIL_HEADER: "2030-01-01T00:00:00Z"},
        {ol.MODE_HEADER: "GOVERNANCE", ol.UNTIL_HEADER: "2020-01-01T00:00:00Z"},
        {ol.MODE_HEADER: "GOVERNANCE", ol.UNTIL_HEADER: "Jan 1 2030"},
        {ol.HOLD_HEADER: "yes"},
    ):
        with pytest.raises(InvalidArgument):
            version_lock.lock_from_headers(bad, config, NOW)


@pytest.mark.parametrize(
    ("lock", "at", "bypass", "refused"),
    [
        (NO_LOCK, NOW, False, False),
        (GOV, NOW, False, True),
        (GOV, NOW, True, False),
        (GOV, NOW + 2 * DAY, False, False),  # expired
        (COMP, NOW, True, True),
        (COMP, NOW + 2 * DAY, False, False),
        (ObjectLock(legal_hold=True), NOW + 999 * DAY, True, True),
    ],
)
def test_what_a_lock_refuses(lock: ObjectLock, at: float, bypass: bool, refused: bool) -> None:
    assert version_lock.deletion_refused(lock, at, bypass_governance=bypass) is refused


def test_retention_changes() -> None:
    longer = ol.Retention("GOVERNANCE", NOW + 2 * DAY)
    shorter = ol.Retention("GOVERNANCE", NOW + DAY / 2)
    assert (
        version_lock.changed_retention(GOV, longer, NOW, bypass_governance=False).retain_until
        == longer.retain_until
    )
    with pytest.raises(AccessDenied):
        version_lock.changed_retention(GOV, shorter, NOW, bypass_governance=False)
    assert (
        version_lock.changed_retention(GOV, shorter, NOW, bypass_governance=True).retain_until
        == shorter.retain_until
    )
    assert (
        version_lock.changed_retention(GOV, ol.Retention(), NOW, bypass_governance=True) == NO_LOCK
    )
    with pytest.raises(AccessDenied):
        version_lock.changed_retention(
            COMP, ol.Retention("COMPLIANCE", NOW + DAY / 2), NOW, bypass_governance=True
        )
    with pytest.raises(AccessDenied):
        version_lock.changed_retention(
            COMP, ol.Retention("GOVERNANCE", NOW + 9 * DAY), NOW, bypass_governance=True
        )
    # Once a retention has passed, anything goes; a legal hold is kept as it was.
    held = ObjectLock("COMPLIANCE", NOW + DAY, legal_hold=True)
    relaxed = ol.Retention("GOVERNANCE", NOW + 3 * DAY)
    after = version_lock.changed_retention(held, relaxed, NOW + DAY + 1, bypass_governance=False)
    assert after == ObjectLock("GOVERNANCE", NOW + 3 * DAY, legal_hold=True)
    with pytest.raises(InvalidArgument):
        version_lock.changed_retention(
            NO_LOCK, ol.Retention("GOVERNANCE", NOW - 1), NOW, bypass_governance=False
        )
