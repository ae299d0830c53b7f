"""Kubernetes quantities ("10Gi", "500M", "1e3") and Go durations ("1h30m") as numbers."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from decimal import Decimal

from nimbus_operator.models.errors import SpecError

QUANTITY_PATTERN = (
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?[0-9]+))?$"
)
"""A non-negative quantity, as the API server writes its pattern (whole-number exponents)."""

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
"""A Go duration without sign or microseconds: ``90s``, ``30m``, ``1h30m``, ``1.5h``."""

MAX_QUANTITY = 2**63 - 1
"""The largest quantity Kubernetes can hold (an int64)."""

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_QUANTITY = re.compile(
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_MAX_EXPONENT = 30
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600)}


def parse_quantity(text: str | int, *, field_path: str = "") -> int:
    """The value of a quantity as a whole number, rounded up as Kubernetes does.

    ``parse_quantity("10Gi") == 10 * 2**30``, ``parse_quantity("1e3") == 1000``,
    ``parse_quantity(512) == 512``. Raises `SpecError` (at ``field_path``) for anything
    else, for negative values and for values that do not fit in an int64.
    """
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise SpecError(field_path, f"must be a quantity such as 10Gi or 500M (got {text!r})")
    if isinstance(text, int):
        value = Decimal(text)
    else:
        match = _QUANTITY.fullmatch(text)
        if match is None:
            raise SpecError(
                field_path,
                f"must be a quantity such as 10Gi, 500M or 1e9 (got {text!r})",
            )
        number, suffix = match.group(1), match.group(2) or ""
        if suffix in _SUFFIXES:
            multiplier = _SUFFIXES[suffix]
        elif abs(exponent := int(suffix[1:])) <= _MAX_EXPONENT:
            multiplier = Decimal(1).scaleb(exponent)
        else:
            raise SpecError(field_path, f"has an exponent out of range (got {text!r})")
        value = Decimal(number) * multiplier
    if value < 0:
        raise SpecError(field_path, f"must not be negative (got {text!r})")
    if value > MAX_QUANTITY:
        raise SpecError(field_path, f"is too large: at most {MAX_QUANTITY} (got {text!r})")
    return math.ceil(value)


def parse_duration(text: str, *, field_path: str = "") -> timedelta:
    """A Go-style duration (``1h``, ``30m``, ``90s``, ``1h30m``, ``250ms``) as a timedelta."""
    if not isinstance(text, str) or not re.fullmatch(DURATION_PATTERN, text):
        raise SpecError(field_path, f"must be a duration such as 1h, 30m or 90s (got {text!r})")
    seconds = sum(
        Decimal(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_PART.findall(text)
    )
    if seconds > 10**9:
        raise SpecError(field_path, f"is too long (got {text!r})")
    return timedelta(seconds=float(seconds))


_BINARY_SUFFIXES = (
    ("Ei", 2**60),
    ("Pi", 2**50),
    ("Ti", 2**40),
    ("Gi", 2**30),
    ("Mi", 2**20),
    ("Ki", 2**10),
)


def format_bytes(value: int) -> str:
    """A byte count as the shortest exact Kubernetes quantity: 2147483648 -> ``2Gi``,
    1536Mi stays ``1536Mi``, 1000 -> ``1000``."""
    for suffix, size in _BINARY_SUFFIXES:
        if value and value % size == 0:
            return f"{value // size}{suffix}"
    return str(value)
