"""Range requests and RFC 9110 preconditions."""

from __future__ import annotations

import pytest
from nimbus_storage.gateway.conditional import ByteRange, check_preconditions, parse_range
from nimbus_storage.gateway.headers import http_date
from nimbus_storage.s3errors import InvalidRange, NotModified, PreconditionFailed

SIZE = 100


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", (0, 0)),
        ("bytes=0-99", (0, 99)),
        ("bytes=10-19", (10, 19)),
        ("bytes=99-99", (99, 99)),
        ("bytes=0-", (0, 99)),
        ("bytes=42-", (42, 99)),
        ("bytes=99-", (99, 99)),
        ("bytes=50-1000", (50, 99)),  # the end is clamped to the last byte
        ("bytes=-1", (99, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-100", (0, 99)),
        ("bytes=-1000", (0, 99)),  # a suffix longer than the object is the whole object
        ("Bytes=1-2", (1, 2)),
        ("BYTES=1-2", (1, 2)),
        (" bytes=1-2 ", (1, 2)),
        ("bytes = 1-2", (1, 2)),
        ("bytes=1 - 2", (1, 2)),
        ("bytes=007-008", (7, 8)),
    ],
)
def test_satisfiable_range(header: str, expected: tuple[int, int]) -> None:
    byte_range = parse_range(header, SIZE)
    assert byte_range == ByteRange(*expected)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=5",
        "bytes=a-b",
        "bytes=1-b",
        "bytes=a-",
        "bytes=-b",
        "bytes=5-2",  # last before first
        "bytes=--5",
        "bytes=-5-",
        "bytes=1-2-3",
        "bytes=0-1,5-6",  # multiple ranges: the whole object, as S3 does
        "bytes=0-1, 5-6",
        "bytes=-1,0-",
        "items=0-1",
        "=0-1",
        "0-1",
        "bytes:0-1",
        "bytes=+1-2",  # int() alone would take these
        "bytes=1-+2",
        "bytes=-+5",
        "bytes=1_0-20",
        "bytes=\u0661-\u0662",  # Arabic-Indic digits
        "bytes=0x1-0x2",
        "bytes=1.5-2",
        "bytes=1e2-",
        "bytes=" + "9" * 5000 + "-",  # beyond int()'s digit limit
    ],
)
def test_invalid_range_is_ignored(header: str | None) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=100-", 100),
        ("bytes=100-200", 100),
        ("bytes=1000-1001", 100),
        ("bytes=-0", 100),
        ("bytes=0-", 0),
        ("bytes=0-0", 0),
        ("bytes=-1", 0),
        ("bytes=-0", 0),
        ("bytes=5-10", 0),
        ("bytes=1-", 1),
    ],
)
def test_unsatisfiable_range_is_416(header: str, size: int) -> None:
    with pytest.raises(InvalidRange) as caught:
        parse_range(header, size)
    assert caught.value.status == 416
    assert caught.value.extra == {"ActualObjectSize": str(size), "RangeRequested": header}


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=0-", 1), ("bytes=-5", 1), ("bytes=0-10", 1)],
)
def test_one_byte_object(header: str, size: int) -> None:
    assert parse_range(header, size) == ByteRange(0, 0)


def test_byte_range_length_and_content_range() -> None:
    byte_range = ByteRange(10, 19)
    assert byte_range.length == 10
    assert byte_range.content_range(SIZE) == "bytes 10-19/100"
    assert ByteRange(0, 0).length == 1


# Preconditions: an object with this ETag, last modified at MODIFIED (fractions ignored).
ETAG = "9b2cf535f27731c974343645a3985328"
MODIFIED = 1_700_000_000.75
BEFORE = http_date(MODIFIED - 3600)
SAME = http_date(MODIFIED)  # whole seconds: equal to the truncated modification time
AFTER = http_date(MODIFIED + 3600)
OTHER = '"0123456789abcdef0123456789abcdef"'


def outcome(headers: dict[str, str], prefix: str = "") -> str:
    """``"ok"``, or the status code and the condition that failed: ``"412 If-Match"``."""
    try:
        check_preconditions(headers, ETAG, MODIFIED, prefix=prefix)
    except (NotModified, PreconditionFailed) as error:
        return f"{error.status} {error.extra['Condition']}"
    return "ok"


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        (f'"{ETAG}"', True),
        (ETAG, True),  # unquoted, as some clients send it
        ("*", True),
        (f'{OTHER}, "{ETAG}"', True),
        (f'{OTHER},"{ETAG}"', True),
        (f' {OTHER} ,  "{ETAG}" ', True),
        (f"{OTHER}, *", True),
        (OTHER, False),
        (f'{OTHER}, "nope"', False),
        (f'W/"{ETAG}"', False),  # If-Match compares strongly
        (f'"{ETAG.upper()}"', False),
        (f'"{ETAG}-1"', False),
        (f"'{ETAG}'", False),
        ("", False),
        ('""', False),
    ],
)
def test_if_match(value: str, matches: bool) -> None:
    assert outcome({"if-match": value}) == ("ok" if matches else "412 If-Match")


@pytest.mark.parametrize(
    ("value", "matches"),
    [
        (f'"{ETAG}"', True),
        (ETAG, True),
        ("*", True),
        (f'{OTHER}, "{ETAG}"', True),
        (f'W/"{ETAG}"', True),  # If-None-Match compares weakly
        (f'{OTHER}, W/"{ETAG}"', True),
        (OTHER, False),
        (f"W/{OTHER}", False),
        (f'"{ETAG[:-1]}"', False),
        ("", False),
    ],
)
def test_if_none_match(value: str, matches: bool) -> None:
    assert outcome({"if-none-match": value}) == ("304 If-None-Match" if matches else "ok")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (BEFORE, "ok"),  # modified since then
        (SAME, "304 If-Modified-Since"),
        (AFTER, "304 If-Modified-Since"),
        ("not a date", "ok"),  # an invalid date is ignored
        ("", "ok"),
    ],
)
def test_if_modified_since(value: str, expected: str) -> None:
    assert outcome({"if-modified-since": value}) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (BEFORE, "412 If-Unmodified-Since"),
        (SAME, "ok"),
        (AFTER, "ok"),
        ("yesterday", "ok"),
        ("", "ok"),
    ],
)
def test_if_unmodified_since(value: str, expected: str) -> None:
    assert outcome({"if-unmodified-since": value}) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Tue, 14 Nov 2023 22:13:20 GMT",  # IMF-fixdate, the preferred form
        "Tuesday, 14-Nov-23 22:13:20 GMT",  # obsolete RFC 850 form
        "Tue Nov 14 22:13:20 2023",  # obsolete asctime form
    ],
)
def test_all_http_date_forms_are_understood(value: str) -> None:
    assert int(MODIFIED) == 1_700_000_000  # 2023-11-14 22:13:20 UTC
    assert outcome({"if-modified-since": value}) == "304 If-Modified-Since"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # If-Match decides; If-Unmodified-Since is not even evaluated.
        ({"if-match": f'"{ETAG}"', "if-unmodified-since": BEFORE}, "ok"),
        ({"if-match": OTHER, "if-unmodified-since": AFTER}, "412 If-Match"),
        # If-None-Match decides; If-Modified-Since is not evaluated.
        ({"if-none-match": OTHER, "if-modified-since": AFTER}, "ok"),
        ({"if-none-match": f'"{ETAG}"', "if-modified-since": BEFORE}, "304 If-None-Match"),
        # 412 conditions are evaluated before 304 ones.
        ({"if-match": OTHER, "if-none-match": f'"{ETAG}"'}, "412 If-Match"),
        ({"if-unmodified-since": BEFORE, "if-modified-since": AFTER}, "412 If-Unmodified-Since"),
        ({"if-unmodified-since": BEFORE, "if-none-match": "*"}, "412 If-Unmodified-Since"),
        ({"if-match": f'"{ETAG}"', "if-none-match": f'"{ETAG}"'}, "304 If-None-Match"),
        ({"if-match": "*", "if-modified-since": AFTER}, "304 If-Modified-Since"),
        ({"if-match": f'"{ETAG}"', "if-none-match": OTHER}, "ok"),
        (
            {
                "if-match": f'"{ETAG}"',
                "if-unmodified-since": BEFORE,
                "if-none-match": OTHER,
                "if-modified-since": AFTER,
            },
            "ok",
        ),
        ({}, "ok"),
    ],
)
def test_precedence(headers: dict[str, str], expected: str) -> None:
    assert outcome(headers) == expected


PREFIX = "x-amz-copy-source-"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"if-match": f'"{ETAG}"'}, "ok"),
        ({"if-match": OTHER}, "412 If-Match"),
        ({"if-none-match": f'"{ETAG}"'}, "412 If-None-Match"),  # 304 becomes 412 for a copy
        ({"if-none-match": OTHER}, "ok"),
        ({"if-modified-since": AFTER}, "412 If-Modified-Since"),
        ({"if-modified-since": BEFORE}, "ok"),
        ({"if-unmodified-since": BEFORE}, "412 If-Unmodified-Since"),
        ({"if-match": f'"{ETAG}"', "if-unmodified-since": BEFORE}, "ok"),
        ({"if-none-match": OTHER, "if-modified-since": AFTER}, "ok"),
    ],
)
def test_copy_source_conditions(headers: dict[str, str], expected: str) -> None:
    prefixed = {PREFIX + name: value for name, value in headers.items()}
    assert outcome(prefixed, prefix=PREFIX) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("if-match", OTHER),
        ("if-none-match", "*"),
        ("if-modified-since", AFTER),
        ("if-unmodified-since", BEFORE),
    ],
)
def test_copy_source_prefix_ignores_plain_conditions(name: str, value: str) -> None:
    # A CopyObject's own If-* headers are not the copy source's conditions.
    assert outcome({name: value}) != "ok"
    assert outcome({name: value}, prefix=PREFIX) == "ok"
