"""Lifecycle configuration: parsing, rendering, storage, and the expiration decisions."""

from __future__ import annotations

import calendar

import pytest
from nimbus_storage.bucket_config.lifecycle import (
    Expiration,
    LifecycleConfiguration,
    LifecycleFilter,
    LifecycleRule,
    NoncurrentVersionExpiration,
    current_expired,
    delete_marker_expired,
    expiration_header,
    expiry_time,
    from_json,
    noncurrent_expired,
    parse_lifecycle,
    render_lifecycle,
    to_json,
    upload_abandoned,
)
from nimbus_storage.s3errors import InvalidArgument, InvalidRequest, MalformedXML, S3Error
from nimbus_storage.s3errors import NotImplementedError_ as NotImplementedS3

DAY = 86400.0


def at(text: str) -> float:
    """Epoch seconds of a UTC time written 'YYYY-MM-DD HH:MM:SS'."""
    date, time = text.split()
    year, month, day = (int(part) for part in date.split("-"))
    hour, minute, second = (int(part) for part in time.split(":"))
    return float(calendar.timegm((year, month, day, hour, minute, second)))


def lifecycle(*rules: str) -> bytes:
    inner = "".join(f"<Rule>{rule}</Rule>" for rule in rules)
    ns = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    return f"<LifecycleConfiguration {ns}>{inner}</LifecycleConfiguration>".encode()


def rule(
    body: str = "<Expiration><Days>30</Days></Expiration>",
    *,
    rule_id: str | None = "r1",
    status: str = "Enabled",
    filter_xml: str = "<Filter><Prefix>logs/</Prefix></Filter>",
) -> str:
    id_xml = f"<ID>{rule_id}</ID>" if rule_id is not None else ""
    return f"{id_xml}{filter_xml}<Status>{status}</Status>{body}"


def one_rule(**kwargs: str) -> LifecycleRule:
    body = kwargs.pop("body", "<Expiration><Days>30</Days></Expiration>")
    (parsed,) = parse_lifecycle(lifecycle(rule(body, **kwargs))).rules
    return parsed


def error(body: bytes, kind: type[S3Error]) -> str:
    with pytest.raises(kind) as caught:
        parse_lifecycle(body)
    assert isinstance(caught.value, S3Error)
    return caught.value.message


# --- parsing ---------------------------------------------------------------------------------


def test_parse_days_rule() -> None:
    assert one_rule() == LifecycleRule(
        id="r1",
        enabled=True,
        filter=LifecycleFilter(prefix="logs/"),
        expiration=Expiration(days=30),
    )


def test_parse_every_action() -> None:
    body = (
        "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>"
        "<NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays>"
        "<NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload>"
    )
    parsed = one_rule(body=body, status="Disabled")
    assert not parsed.enabled
    assert parsed.expiration == Expiration(date=at("2030-01-01 00:00:00"))
    assert parsed.noncurrent_version_expiration == NoncurrentVersionExpiration(7, 3)
    assert parsed.abort_incomplete_upload_days == 2


@pytest.mark.parametrize(
    "date",
    ["2030-01-01T00:00:00Z", "2030-01-01", "2030-01-01T00:00:00", "2030-01-01T01:00:00+01:00"],
)
def test_date_forms_at_midnight_utc(date: str) -> None:
    parsed = one_rule(body=f"<Expiration><Date>{date}</Date></Expiration>")
    assert parsed.expiration == Expiration(date=at("2030-01-01 00:00:00"))


def test_expired_object_delete_marker() -> None:
    body = "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
    assert one_rule(body=body).expiration == Expiration(expired_object_delete_marker=True)


@pytest.mark.parametrize(
    ("filter_xml", "expected"),
    [
        ("<Filter></Filter>", LifecycleFilter()),
        ("<Filter><Prefix></Prefix></Filter>", LifecycleFilter()),
        (
            "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>",
            LifecycleFilter(tags=(("k", "v"),)),
        ),
        (
            "<Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter>",
            LifecycleFilter(size_greater_than=10),
        ),
        (
            "<Filter><ObjectSizeLessThan>10</ObjectSizeLessThan></Filter>",
            LifecycleFilter(size_less_than=10),
        ),
        ("<Prefix>old/</Prefix>", LifecycleFilter(prefix="old/", legacy_prefix=True)),
        ("<Prefix/>", LifecycleFilter(legacy_prefix=True)),
        (
            "<Filter><And><Prefix>p/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag>"
            "<Tag><Key>b</Key><Value>2</Value></Tag><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan>"
            "<ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>",
            LifecycleFilter("p/", (("a", "1"), ("b", "2")), 1, 9),
        ),
    ],
)
def test_filters(filter_xml: str, expected: LifecycleFilter) -> None:
    assert one_rule(filter_xml=filter_xml).filter == expected


def test_missing_id_gets_a_stable_generated_one() -> None:
    document = lifecycle(rule(rule_id=None), rule(rule_id=None))
    first, second = parse_lifecycle(document).rules
    assert first.id != second.id
    assert len(first.id) == 48
    assert parse_lifecycle(document).rules[0].id == first.id


def test_rule_limit() -> None:
    many = [rule(rule_id=f"r{i}") for i in range(1000)]
    assert len(parse_lifecycle(lifecycle(*many)).rules) == 1000
    message = error(lifecycle(*many, rule(rule_id="extra")), InvalidRequest)
    assert message == "The number of lifecycle rules should not exceed 1000"


@pytest.mark.parametrize(
    "document",
    [
        lifecycle(),
        b"<LifecycleConfiguration><Other/></LifecycleConfiguration>",
        b"<BucketLifecycleConfiguration/>",
        b"",
        lifecycle(rule(status="enabled")),
        lifecycle(rule(status="")),
        lifecycle("<ID>x</ID><Filter/><Expiration><Days>1</Days></Expiration>"),  # no Status
        lifecycle(rule(filter_xml="")),  # neither Filter nor Prefix
        lifecycle(rule(filter_xml="<Filter/><Prefix>a</Prefix>")),
        lifecycle(rule(filter_xml="<Filter/><Filter/>")),
        lifecycle(rule(filter_xml="<Filter><Prefix>a</Prefix><Prefix>b</Prefix></Filter>")),
        lifecycle(
            rule(
                filter_xml="<Filter><Prefix>a</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter>"
            )
        ),
        lifecycle(rule(filter_xml="<Filter><Color>red</Color></Filter>")),
        lifecycle(rule(filter_xml="<Filter><And><Color>red</Color></And></Filter>")),
        lifecycle(rule(filter_xml="<Filter><Tag><Key>k</Key></Tag></Filter>")),
        lifecycle(rule(filter_xml="<Filter><Tag><Value>v</Value></Tag></Filter>")),
        lifecycle(rule(filter_xml="<Filter><ObjectSizeLessThan>big</ObjectSizeLessThan></Filter>")),
        lifecycle(rule("<Expiration><Days>30</Days></Expiration><Colour/>")),
        lifecycle(rule("<Expiration><Days>ten</Days></Expiration>")),
        lifecycle(rule("<Expiration><Days>1.5</Days></Expiration>")),
        lifecycle(rule("<Expiration></Expiration>")),
        lifecycle(rule("<Expiration><Days>1</Days><Date>2030-01-01</Date></Expiration>")),
        lifecycle(
            rule(
                "<Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>"
            )
        ),
        lifecycle(
            rule(
                "<Expiration><ExpiredObjectDeleteMarker>yes</ExpiredObjectDeleteMarker></Expiration>"
            )
        ),
        lifecycle(rule("<Expiration><Date>next week</Date></Expiration>")),
        lifecycle(rule("<NoncurrentVersionExpiration></NoncurrentVersionExpiration>")),
        lifecycle(rule("<AbortIncompleteMultipartUpload></AbortIncompleteMultipartUpload>")),
        lifecycle(rule() + "<Status>Enabled</Status>"),
    ],
)
def test_malformed_xml(document: bytes) -> None:
    error(document, MalformedXML)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "<Expiration><Days>0</Days></Expiration>",
            "'Days' for Expiration action must be a positive integer",
        ),
        (
            "<Expiration><Days>-3</Days></Expiration>",
            "'Days' for Expiration action must be a positive integer",
        ),
        (
            "<Expiration><Date>2030-01-01T12:00:00Z</Date></Expiration>",
            "'Date' must be at midnight GMT",
        ),
        (
            "<Expiration><Date>2030-01-01T00:00:00+01:00</Date></Expiration>",
            "'Date' must be at midnight GMT",
        ),
        (
            "<NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>",
            "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
        ),
        (
            "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
            "<NewerNoncurrentVersions>0</NewerNoncurrentVersions></NoncurrentVersionExpiration>",
            "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive"
            " integer no greater than 100",
        ),
        (
            "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>"
            "<NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>",
            "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive"
            " integer no greater than 100",
        ),
        (
            "<AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation>"
            "</AbortIncompleteMultipartUpload>",
            "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a"
            " positive integer",
        ),
    ],
)
def test_invalid_argument_values(body: str, message: str) -> None:
    assert error(lifecycle(rule(body)), InvalidArgument) == message


def test_rule_id_length() -> None:
    assert one_rule(rule_id="i" * 255).id == "i" * 255
    message = error(lifecycle(rule(rule_id="i" * 256)), InvalidArgument)
    assert message == "ID length should not exceed allowed limit of 255"


def test_duplicate_ids() -> None:
    message = error(lifecycle(rule(), rule()), InvalidArgument)
    assert message == "Rule ID must be unique. Found same ID for more than one rule"


TAG_FILTER = "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (lifecycle(rule("")), "At least one action needs to be specified in a rule"),
        (
            lifecycle(
                rule(
                    "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
                    filter_xml=TAG_FILTER,
                )
            ),
            "ExpiredObjectDeleteMarker cannot be specified with object tag filter",
        ),
        (
            lifecycle(
                rule(
                    "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
                    filter_xml=TAG_FILTER,
                )
            ),
            "AbortIncompleteMultipartUpload cannot be specified with Tags.",
        ),
        (
            lifecycle(
                rule(
                    filter_xml="<Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>"
                )
            ),
            "Duplicate Tag Keys are not allowed.",
        ),
        (
            lifecycle(
                rule(
                    filter_xml="<Filter><And><ObjectSizeGreaterThan>9</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>"
                )
            ),
            "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
        ),
        (
            lifecycle(
                rule(
                    filter_xml="<Filter><ObjectSizeGreaterThan>-1</ObjectSizeGreaterThan></Filter>"
                )
            ),
            "Object size filters must be non-negative integers",
        ),
        (
            lifecycle(
                rule(filter_xml="<Filter><ObjectSizeLessThan>0</ObjectSizeLessThan></Filter>")
            ),
            "Object size filters must be non-negative integers",
        ),
    ],
)
def test_invalid_requests(document: bytes, message: str) -> None:
    assert error(document, InvalidRequest) == message


@pytest.mark.parametrize("action", ["Transition", "NoncurrentVersionTransition"])
def test_transitions_are_not_implemented(action: str) -> None:
    body = f"<{action}><Days>30</Days><StorageClass>GLACIER</StorageClass></{action}>"
    with pytest.raises(NotImplementedS3):
        parse_lifecycle(lifecycle(rule(body)))


# --- rendering and storage -------------------------------------------------------------------

FULL = lifecycle(
    rule(
        "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>"
        "<NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays>"
        "<NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload>",
        rule_id="full",
    ),
    rule(rule_id="legacy", filter_xml="<Prefix>tmp/</Prefix>"),
    rule(rule_id="all", filter_xml="<Filter/>"),
    rule(rule_id="tag", filter_xml=TAG_FILTER),
    rule(
        "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>",
        rule_id="and",
        filter_xml="<Filter><And><Prefix>p/</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan>"
        "</And></Filter>",
        status="Disabled",
    ),
)


def test_render_round_trips() -> None:
    cfg = parse_lifecycle(FULL)
    document = render_lifecycle(cfg)
    assert parse_lifecycle(document) == cfg
    assert b"<Date>2030-01-01T00:00:00.000Z</Date>" in document
    assert b"<Rule><ID>legacy</ID><Prefix>tmp/</Prefix><Status>Enabled</Status>" in document
    assert b"<Filter><Prefix></Prefix></Filter>" in document
    assert b"<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>" in document
    assert b"<And><Prefix>p/</Prefix><ObjectSizeLessThan>5</ObjectSizeLessThan></And>" in document
    assert b"<ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker>" in document


def test_json_round_trips() -> None:
    cfg = parse_lifecycle(FULL)
    assert from_json(to_json(cfg)) == cfg


def test_from_json_rejects_garbage() -> None:
    with pytest.raises(KeyError):
        from_json('{"rules": [{"id": "x"}]}')


# --- decisions -------------------------------------------------------------------------------

CREATED = at("2024-03-10 15:30:00")


def config(*rules: LifecycleRule) -> LifecycleConfiguration:
    return LifecycleConfiguration(rules)


def days_rule(
    days: int,
    rule_id: str = "r",
    *,
    prefix: str = "",
    tags: tuple[tuple[str, str], ...] = (),
    size_greater_than: int | None = None,
    size_less_than: int | None = None,
) -> LifecycleRule:
    return LifecycleRule(
        id=rule_id,
        enabled=True,
        filter=LifecycleFilter(prefix, tags, size_greater_than, size_less_than),
        expiration=Expiration(days=days),
    )


def test_expiry_rounds_up_to_the_next_midnight() -> None:
    assert expiry_time(days_rule(1), CREATED) == at("2024-03-12 00:00:00")
    assert expiry_time(days_rule(1), at("2024-03-10 00:00:00")) == at("2024-03-11 00:00:00")


def test_current_expired_by_days() -> None:
    cfg = config(days_rule(30, prefix="logs/"))
    due = at("2024-04-10 00:00:00")
    assert not current_expired(cfg, "logs/a", 1, {}, CREATED, due - 1)
    assert current_expired(cfg, "logs/a", 1, {}, CREATED, due)
    assert not current_expired(cfg, "data/a", 1, {}, CREATED, due + 100 * DAY)


def test_current_expired_by_date_ignores_age() -> None:
    date_rule = LifecycleRule(
        "d", True, LifecycleFilter(), Expiration(date=at("2025-01-01 00:00:00"))
    )
    cfg = config(date_rule)
    assert not current_expired(
        cfg, "k", 1, {}, at("2024-12-31 23:00:00"), at("2024-12-31 23:59:59")
    )
    assert current_expired(cfg, "k", 1, {}, at("2024-12-31 23:00:00"), at("2025-01-01 00:00:00"))


def test_disabled_rules_never_act() -> None:
    disabled = LifecycleRule("off", False, LifecycleFilter(), Expiration(days=1))
    later = CREATED + 365 * DAY
    assert not current_expired(config(disabled), "k", 1, {}, CREATED, later)
    assert expiration_header(config(disabled), "k", 1, {}, CREATED) is None


def test_tag_and_size_filters() -> None:
    cfg = config(days_rule(1, tags=(("env", "tmp"),), size_greater_than=10, size_less_than=100))
    later = CREATED + 10 * DAY
    assert current_expired(cfg, "k", 50, {"env": "tmp", "x": "y"}, CREATED, later)
    assert not current_expired(cfg, "k", 50, {"env": "prod"}, CREATED, later)
    assert not current_expired(cfg, "k", 50, {}, CREATED, later)
    assert not current_expired(cfg, "k", 10, {"env": "tmp"}, CREATED, later)  # strictly greater
    assert not current_expired(cfg, "k", 100, {"env": "tmp"}, CREATED, later)  # strictly less


def test_rules_without_expiration_do_not_expire_current_versions() -> None:
    only_abort = LifecycleRule("a", True, LifecycleFilter(), abort_incomplete_upload_days=1)
    assert not current_expired(config(only_abort), "k", 1, {}, CREATED, CREATED + 99 * DAY)
    marker = LifecycleRule(
        "m", True, LifecycleFilter(), Expiration(expired_object_delete_marker=True)
    )
    assert expiry_time(marker, CREATED) is None


def noncurrent_rule(days: int, keep: int | None = None) -> LifecycleRule:
    action = NoncurrentVersionExpiration(noncurrent_days=days, newer_noncurrent_versions=keep)
    return LifecycleRule(
        "n", True, LifecycleFilter(prefix="v/"), noncurrent_version_expiration=action
    )


def test_noncurrent_expired_by_days() -> None:
    cfg = config(noncurrent_rule(7))
    due = at("2024-03-18 00:00:00")
    assert not noncurrent_expired(cfg, "v/k", 1, {}, CREATED, 0, due - 1)
    assert noncurrent_expired(cfg, "v/k", 1, {}, CREATED, 0, due)
    assert not noncurrent_expired(cfg, "other", 1, {}, CREATED, 0, due)


def test_newer_noncurrent_versions_are_retained() -> None:
    cfg = config(noncurrent_rule(1, keep=2))
    later = CREATED + 30 * DAY
    assert not noncurrent_expired(cfg, "v/k", 1, {}, CREATED, 0, later)
    assert not noncurrent_expired(cfg, "v/k", 1, {}, CREATED, 1, later)
    assert noncurrent_expired(cfg, "v/k", 1, {}, CREATED, 2, later)
    assert not noncurrent_expired(cfg, "v/k", 1, {}, CREATED, 5, CREATED)  # too young


def test_current_rules_do_not_expire_noncurrent_versions() -> None:
    assert not noncurrent_expired(config(days_rule(1)), "k", 1, {}, CREATED, 9, CREATED + 9 * DAY)


def test_upload_abandoned() -> None:
    abort = LifecycleRule("a", True, LifecycleFilter(prefix="up/"), abort_incomplete_upload_days=2)
    cfg = config(abort)
    due = at("2024-03-13 00:00:00")
    assert not upload_abandoned(cfg, "up/k", CREATED, due - 1)
    assert upload_abandoned(cfg, "up/k", CREATED, due)
    assert not upload_abandoned(cfg, "down/k", CREATED, due)
    disabled = LifecycleRule("a", False, LifecycleFilter(), abort_incomplete_upload_days=2)
    assert not upload_abandoned(config(disabled), "up/k", CREATED, due)
    assert not upload_abandoned(config(days_rule(1)), "up/k", CREATED, due)


def test_delete_marker_expired() -> None:
    marker = Expiration(expired_object_delete_marker=True)
    cfg = config(LifecycleRule("m", True, LifecycleFilter(prefix="p/"), marker))
    assert delete_marker_expired(cfg, "p/k", 0)
    assert not delete_marker_expired(cfg, "p/k", 1)
    assert not delete_marker_expired(cfg, "q/k", 0)
    off = Expiration(expired_object_delete_marker=False)
    assert not delete_marker_expired(
        config(LifecycleRule("m", True, LifecycleFilter(), off)), "k", 0
    )
    assert not delete_marker_expired(config(days_rule(1)), "k", 0)


def test_expiration_header_format() -> None:
    cfg = config(days_rule(1, rule_id="picture deletion/rule"))
    header = expiration_header(cfg, "k", 1, {}, at("2012-12-21 10:00:00"))
    assert (
        header == 'expiry-date="Sun, 23 Dec 2012 00:00:00 GMT", rule-id="picture%20deletion%2Frule"'
    )


def test_expiration_header_picks_the_earliest_rule() -> None:
    cfg = config(
        days_rule(30, "slow"), days_rule(2, "fast", prefix="k"), days_rule(1, "other", prefix="z")
    )
    header = expiration_header(cfg, "key", 1, {}, CREATED)
    assert header == 'expiry-date="Wed, 13 Mar 2024 00:00:00 GMT", rule-id="fast"'


def test_expiration_header_absent_without_a_covering_rule() -> None:
    assert expiration_header(config(days_rule(1, prefix="x/")), "y/k", 1, {}, CREATED) is None
    assert expiration_header(config(noncurrent_rule(1)), "v/k", 1, {}, CREATED) is None
