"""Scalar schema nodes: strings, times, durations, enums, numbers, booleans, quantities."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from nimbus_operator.models.errors import SpecError
from nimbus_operator.models.nodebase import JsonDict, Node, describe
from nimbus_operator.models.quantity import (
    DURATION_PATTERN,
    QUANTITY_PATTERN,
    parse_duration,
    parse_quantity,
)


@dataclass(frozen=True, kw_only=True)
class String(Node):
    """A string. ``max_length`` is required: it bounds the cost of CEL rules on it."""

    max_length: int
    min_length: int | None = None
    pattern: str | None = None
    pattern_message: str | None = None
    """What to tell a person whose value does not match ``pattern`` (starts with "must").
    Patterns are anchored (``^...$``) and matched against the whole value."""
    format: str | None = None

    def _openapi(self) -> JsonDict:
        rendered: JsonDict = {"type": "string"}
        if self.format is not None:
            rendered["format"] = self.format
        if self.min_length is not None:
            rendered["minLength"] = self.min_length
        rendered["maxLength"] = self.max_length
        if self.pattern is not None:
            rendered["pattern"] = self.pattern
        return rendered

    def _parse(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise SpecError(path, f"must be a string (got {describe(value)})")
        if self.min_length == 1 and not value:
            raise SpecError(path, "must not be empty")
        if self.min_length is not None and len(value) < self.min_length:
            raise SpecError(
                path, f"must be at least {self.min_length} characters long (got {describe(value)})"
            )
        if len(value) > self.max_length:
            raise SpecError(
                path, f"must be at most {self.max_length} characters long (got {len(value)})"
            )
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            hint = self.pattern_message or f"must match the pattern {self.pattern}"
            raise SpecError(path, f"{hint} (got {describe(value)})")
        return value


@dataclass(frozen=True, kw_only=True)
class DateTime(String):
    """An RFC 3339 timestamp such as ``2024-05-01T12:00:00Z``, kept as the string."""

    max_length: int = 64
    format: str | None = "date-time"

    def _parse(self, value: Any, path: str) -> Any:
        text = super()._parse(value, path)
        try:
            datetime.fromisoformat(text)
        except ValueError as error:
            raise SpecError(
                path, f"must be an RFC 3339 time such as 2024-05-01T12:00:00Z (got {text!r})"
            ) from error
        return text


@dataclass(frozen=True, kw_only=True)
class Duration(String):
    """A duration such as ``1h``, ``30m``, ``90s`` or ``1h30m``, kept as the string."""

    max_length: int = 32
    pattern: str | None = DURATION_PATTERN

    def _parse(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise SpecError(path, f"must be a duration such as 1h, 30m or 90s (got {value!r})")
        parse_duration(value, field_path=path)
        return super()._parse(value, path)


@dataclass(frozen=True, kw_only=True)
class Choice(Node):
    """One of the values of a string enum; the model holds the enum member."""

    enum: type[StrEnum]

    def _openapi(self) -> JsonDict:
        return {"type": "string", "enum": [member.value for member in self.enum]}

    def _parse(self, value: Any, path: str) -> Any:
        allowed = [member.value for member in self.enum]
        if value not in allowed or not isinstance(value, str):
            raise SpecError(path, f"must be one of {', '.join(allowed)} (got {describe(value)})")
        return self.enum(value)

    def dump(self, value: Any) -> Any:
        return str(value.value) if isinstance(value, StrEnum) else value


@dataclass(frozen=True, kw_only=True)
class Integer(Node):
    """A whole number between optional bounds."""

    minimum: int | None = None
    maximum: int | None = None
    format: str | None = None

    def _openapi(self) -> JsonDict:
        rendered: JsonDict = {"type": "integer"}
        if self.format is not None:
            rendered["format"] = self.format
        if self.minimum is not None:
            rendered["minimum"] = self.minimum
        if self.maximum is not None:
            rendered["maximum"] = self.maximum
        return rendered

    def _parse(self, value: Any, path: str) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(path, f"must be a whole number (got {describe(value)})")
        if self.minimum is not None and value < self.minimum:
            raise SpecError(path, f"must be at least {self.minimum} (got {value})")
        if self.maximum is not None and value > self.maximum:
            raise SpecError(path, f"must be at most {self.maximum} (got {value})")
        return value


@dataclass(frozen=True, kw_only=True)
class Boolean(Node):
    """true or false."""

    def _openapi(self) -> JsonDict:
        return {"type": "boolean"}

    def _parse(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise SpecError(path, f"must be true or false (got {describe(value)})")
        return value


@dataclass(frozen=True, kw_only=True)
class Quantity(Node):
    """A Kubernetes quantity (``10Gi``, ``500M``, ``1e9`` or a plain number of bytes).

    The model keeps the text (a number becomes its decimal string); `parse_quantity` gives
    the bytes. ``min_bytes`` is checked by the operator: the API server cannot compare
    quantities in a schema.
    """

    min_bytes: int = 0

    def _openapi(self) -> JsonDict:
        return {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }

    def _parse(self, value: Any, path: str) -> Any:
        size = parse_quantity(value, field_path=path)
        if size < self.min_bytes:
            least = "more than 0" if self.min_bytes == 1 else f"at least {self.min_bytes}"
            raise SpecError(path, f"must be {least} bytes (got {value!r})")
        return str(value)
