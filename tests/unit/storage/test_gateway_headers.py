"""HTTP dates, ISO 8601 timestamps and the headers stored with an object."""

from __future__ import annotations

import re

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from nimbus_storage.gateway.headers import (
    DEFAULT_CONTENT_TYPE,
    MAX_USER_METADATA_BYTES,
    STORED_HEADERS,
    decode_metadata_value,
    encode_metadata_value,
    http_date,
    iso8601,
    object_headers_from_request,
    parse_http_date,
    user_metadata,
)
from nimbus_storage.s3errors import InvalidStorageClass, MetadataTooLarge

MOMENT = 1_700_000_000  # 2023-11-14 22:13:20 UTC, a Tuesday


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (MOMENT, "Tue, 14 Nov 2023 22:13:20 GMT"),
        (MOMENT + 0.999, "Tue, 14 Nov 2023 22:13:20 GMT"),  # fractions are dropped
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),
    ],
)
def test_http_date(timestamp: float, expected: str) -> None:
    assert http_date(timestamp) == expected


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (MOMENT, "2023-11-14T22:13:20.000Z"),
        (MOMENT + 0.5, "2023-11-14T22:13:20.500Z"),
        (MOMENT + 0.001, "2023-11-14T22:13:20.001Z"),
        (MOMENT + 0.999, "2023-11-14T22:13:20.999Z"),
        (MOMENT + 0.9999, "2023-11-14T22:13:20.999Z"),  # truncated, never rounded up to 21
        (1.0005, "1970-01-01T00:00:01.000Z"),
        (-0.5, "1969-12-31T23:59:59.500Z"),
    ],
)
def test_iso8601_has_milliseconds(timestamp: float, expected: str) -> None:
    assert iso8601(timestamp) == expected


def test_iso8601_shape() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", iso8601(1_234_567_890.123456))


@pytest.mark.parametrize("timestamp", [0, MOMENT, 4_102_444_800])
def test_http_date_round_trips(timestamp: int) -> None:
    assert parse_http_date(http_date(timestamp)) == timestamp


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue, 14 Nov 2023 22:13:20 GMT", MOMENT),
        ("Tue, 14 Nov 2023 23:13:20 +0100", MOMENT),
        ("Tue, 14 Nov 2023 22:13:20", MOMENT),  # no zone: taken as UTC
        ("", None),
        ("garbage", None),
        ("Tue, 99 Nov 2023 22:13:20 GMT", None),
    ],
)
def test_parse_http_date(value: str, expected: float | None) -> None:
    assert parse_http_date(value) == expected


def test_object_headers_keep_stored_headers_and_user_metadata_only() -> None:
    request = {
        "Content-Type": "text/plain",
        "Content-Encoding": "gzip",
        "Content-Disposition": 'attachment; filename="a.txt"',
        "Content-Language": "en",
        "Cache-Control": "no-cache",
        "Expires": "Thu, 01 Jan 2099 00:00:00 GMT",
        "x-amz-website-redirect-location": "/other",
        "X-Amz-Storage-Class": "STANDARD",
        "X-Amz-Meta-Color": "Blue",
        "x-amz-meta-empty": "",
        # Not stored:
        "Content-Length": "5",
        "Content-MD5": "XUFAKrxLKna5cZ2REBfFkg==",
        "Authorization": "AWS4-HMAC-SHA256 ...",
        "Host": "localhost",
        "x-amz-date": "20231114T221320Z",
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        "x-amz-acl": "private",
        "x-amz-tagging": "a=b",
        "x-amz-checksum-crc32": "AAAAAA==",
        "x-amz-metadata-directive": "REPLACE",
        "x-amz-meta": "no dash, not metadata",
        "Range": "bytes=0-1",
    }
    assert object_headers_from_request(request) == {
        "content-type": "text/plain",
        "content-encoding": "gzip",
        "content-disposition": 'attachment; filename="a.txt"',
        "content-language": "en",
        "cache-control": "no-cache",
        "expires": "Thu, 01 Jan 2099 00:00:00 GMT",
        "x-amz-website-redirect-location": "/other",
        "x-amz-meta-color": "Blue",  # name lower-cased, value kept as sent
        "x-amz-meta-empty": "",
    }


@pytest.mark.parametrize(
    "request_headers",
    [{}, {"x-amz-meta-a": "1"}, {"Content-Length": "0"}],
)
def test_default_content_type(request_headers: dict[str, str]) -> None:
    assert object_headers_from_request(request_headers)["content-type"] == DEFAULT_CONTENT_TYPE
    assert DEFAULT_CONTENT_TYPE == "binary/octet-stream"


def test_explicit_content_type_is_not_replaced() -> None:
    stored = object_headers_from_request({"content-type": "application/json"})
    assert stored["content-type"] == "application/json"


def test_works_on_case_insensitive_request_headers() -> None:
    headers = CIMultiDictProxy(CIMultiDict({"X-AMZ-META-Key": "v", "CONTENT-TYPE": "a/b"}))
    assert object_headers_from_request(headers) == {"x-amz-meta-key": "v", "content-type": "a/b"}


def test_every_stored_header_is_kept() -> None:
    stored = object_headers_from_request({name.title(): "v" for name in STORED_HEADERS})
    assert stored == dict.fromkeys(STORED_HEADERS, "v")


# The limit counts the UTF-8 bytes of each name (without x-amz-meta-) and each value.
@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-meta-a": "v" * (MAX_USER_METADATA_BYTES - 1)},
        {"x-amz-meta-" + "n" * 1000: "v" * 1048},
        {"x-amz-meta-a": "v" * 1023, "x-amz-meta-b": "v" * 1023},
        {"x-amz-meta-a": "é" * 1023 + "v"},  # 2047 bytes of value
        {"x-amz-meta-a": "v" * 2047, "content-type": "t" * 5000},  # stored headers don't count
    ],
)
def test_metadata_at_the_limit_is_accepted(headers: dict[str, str]) -> None:
    stored = object_headers_from_request(headers)
    kept = {k: v for k, v in stored.items() if k.startswith("x-amz-meta-")}
    assert kept == {k: v for k, v in headers.items() if k != "content-type"}


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-meta-a": "v" * MAX_USER_METADATA_BYTES},
        {"x-amz-meta-ab": "v" * (MAX_USER_METADATA_BYTES - 1)},
        {"x-amz-meta-a": "v" * 1024, "x-amz-meta-b": "v" * 1023},
        {"x-amz-meta-a": "é" * 1024},  # 1024 characters but 2048 bytes, plus the name
        {f"x-amz-meta-{i:03d}": "v" * 10 for i in range(200)},  # 200 * 13 bytes
    ],
)
def test_metadata_over_the_limit_is_too_large(headers: dict[str, str]) -> None:
    with pytest.raises(MetadataTooLarge) as caught:
        object_headers_from_request(headers)
    assert (caught.value.status, caught.value.code) == (400, "MetadataTooLarge")


def test_user_metadata_filters_stored_meta() -> None:
    meta = {
        "content-type": "a/b",
        "x-amz-meta-one": "1",
        "x-nimbus-acl": "{}",
        "x-amz-meta-two": "2",
        "x-amz-storage-class": "STANDARD",
    }
    assert user_metadata(meta) == {"x-amz-meta-one": "1", "x-amz-meta-two": "2"}


@pytest.mark.parametrize("storage_class", ["GLACIER", "standard", "NOPE"])
def test_storage_classes_other_than_standard_are_refused(storage_class: str) -> None:
    assert "x-amz-storage-class" not in object_headers_from_request(
        {"X-Amz-Storage-Class": "STANDARD"}
    )
    with pytest.raises(InvalidStorageClass) as caught:
        object_headers_from_request({"X-Amz-Storage-Class": storage_class})
    assert (caught.value.status, caught.value.code) == (400, "InvalidStorageClass")


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("plain", "plain"),
        ("=?UTF-8?B?w6k=?=", "é"),
        ("=?utf-8?q?caf=C3=A9_au_lait?=", "café au lait"),
        ("=?UTF-8?B?w6k=?= =?UTF-8?Q?caf=C3=A9?=", "écafé"),  # RFC 2047 6.2: space dropped
        ("a =?UTF-8?Q?=C3=A9?= b", "a é b"),
        ("=?ISO-8859-1?Q?=E9t=E9?=", "été"),
        ("=?UTF-8*fr?B?w6k=?=", "é"),  # RFC 2231 language
        ("=?UTF-8?B?!!!?=", "=?UTF-8?B?!!!?="),  # not base64: kept as sent
        ("=?no-such-charset?B?w6k=?=", "=?no-such-charset?B?w6k=?="),
        ("=?UTF-8?B?/w==?=", "=?UTF-8?B?/w==?="),  # not UTF-8 once decoded
        ("a =? b ?= c", "a =? b ?= c"),
        ("é raw", "é raw"),
    ],
)
def test_encoded_words_are_decoded_when_stored(sent: str, stored: str) -> None:
    assert decode_metadata_value(sent) == stored
    assert object_headers_from_request({"x-amz-meta-k": sent})["x-amz-meta-k"] == stored


def test_non_ascii_metadata_is_answered_as_one_encoded_word() -> None:
    answered = user_metadata({"x-amz-meta-k": "café", "x-amz-meta-a": "ascii", "other": "x"})
    assert answered == {"x-amz-meta-k": "=?UTF-8?B?Y2Fmw6k=?=", "x-amz-meta-a": "ascii"}
    assert encode_metadata_value("=?UTF-8?B?x?=") == "=?UTF-8?B?x?="  # ASCII: as it is
    assert decode_metadata_value(encode_metadata_value("日本語 ✓")) == "日本語 ✓"


def test_the_limit_counts_decoded_values() -> None:
    # 1000 "é" are 2000 bytes stored, 2730 bytes as an encoded word: accepted.
    word = encode_metadata_value("é" * 1000)
    assert len(word) > MAX_USER_METADATA_BYTES
    assert object_headers_from_request({"x-amz-meta-a": word})["x-amz-meta-a"] == "é" * 1000
    with pytest.raises(MetadataTooLarge):
        object_headers_from_request({"x-amz-meta-a": encode_metadata_value("é" * 1024)})
