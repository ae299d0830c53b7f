"""Kubernetes quantities and Go durations."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from nimbus_operator.models.common import SpecError, parse_duration, parse_quantity
from nimbus_operator.models.quantity import DURATION_PATTERN, MAX_QUANTITY, QUANTITY_PATTERN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10Gi", 10 * 2**30),
        ("1.5Gi", 3 * 2**29),
        ("500M", 500_000_000),
        ("1e3", 1000),
        ("1E3", 1000),
        ("1e+3", 1000),
        ("2k", 2000),
        ("1Ki", 1024),
        ("1E", 10**18),
        ("1Ei", 2**60),
        ("7Ei", 7 * 2**60),
        ("0", 0),
        ("+5", 5),
        (".5", 1),
        ("5.", 5),
        ("500m", 1),
        ("1e-3", 1),
        ("1500m", 2),
        (4096, 4096),
        ("9223372036854775807", MAX_QUANTITY),
    ],
)
def test_quantities(text: str | int, expected: int) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10GB", "must be a quantity such as 10Gi, 500M or 1e9 (got '10GB')"),
        ("", "must be a quantity"),
        (" 1Gi", "must be a quantity"),
        ("1 Gi", "must be a quantity"),
        ("Gi", "must be a quantity"),
        ("1e", "must be a quantity"),
        ("1.5e1.5", "must be a quantity"),
        ("0x10", "must be a quantity"),
        ("-1", "must not be negative (got '-1')"),
        (-1, "must not be negative (got -1)"),
        ("8Ei", "is too large"),
        ("1e30", "is too large"),
        ("1e400", "has an exponent out of range"),
        (True, "must be a quantity such as 10Gi or 500M (got True)"),
        (1.5, "must be a quantity such as 10Gi or 500M (got 1.5)"),
        (None, "must be a quantity"),
    ],
)
def test_bad_quantities(text: object, message: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_quantity(text, field_path="quota.maxSize")  # type: ignore[arg-type]
    assert str(raised.value).startswith(f"spec.quota.maxSize: {message}")


@pytest.mark.parametrize(
    "text", ["10Gi", "1.5Gi", "500M", "1e3", "1E", "+5", ".5", "5.", "500m", "1e-3", "0"]
)
def test_the_crd_pattern_accepts_what_the_parser_accepts(text: str) -> None:
    assert re.search(QUANTITY_PATTERN, text)


@pytest.mark.parametrize("text", ["10GB", "-1", " 1", "1 Gi", "Gi", "1e", "0x10", "1.5e1.5"])
def test_the_crd_pattern_refuses_what_the_parser_refuses(text: str) -> None:
    assert re.search(QUANTITY_PATTERN, text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("90s", timedelta(seconds=90)),
        ("2h45m30s", timedelta(hours=2, minutes=45, seconds=30)),
        ("100ms", timedelta(milliseconds=100)),
        ("0.5s", timedelta(milliseconds=500)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert re.search(DURATION_PATTERN, text)
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "1d", "h", "-1h", "1h 30m", "1H", "1.h"])
def test_bad_durations(text: str) -> None:
    assert re.search(DURATION_PATTERN, text) is None
    with pytest.raises(SpecError, match="must be a duration such as 1h, 30m or 90s"):
        parse_duration(text, field_path="rotation.gracePeriod")
