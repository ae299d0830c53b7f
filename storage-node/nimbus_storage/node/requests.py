"""The node protocol's headers and the parsing of its requests, free of any HTTP framework."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

from nimbus_storage.blobs.api import normalize_timestamp
from nimbus_storage.blobs.suffixes import is_suffix
from nimbus_storage.protocol.headers import META_HEADER, TIMESTAMP_HEADER

_TIMESTAMP = re.compile(r"^[0-9]{10}\.[0-9]{5}$")
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")


class BadRequest(ValueError):
    """A request the node refuses with 400; the message says why."""


class RangeNotSatisfiable(ValueError):
    """A well-formed byte range that lies wholly beyond the blob (416)."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a ``/objects/...`` path addresses: a partition, or one name in it."""

    device: str
    partition: int
    name: str | None  # None: the partition itself


def parse_target(raw_path: str, prefix: str = "/objects/") -> Target:
    """``/objects/{device}/{partition}[/{quoted name}]`` from the still-encoded path."""
    parts = raw_path.removeprefix(prefix).split("/")
    if not raw_path.startswith(prefix) or len(parts) not in (2, 3):
        raise BadRequest(
            f"expected {prefix}{{device}}/{{partition}}[/{{name}}] with the name"
            " percent-encoded (quote(name, safe=''))"
        )
    device = _unquote(parts[0])
    if not device or device in (".", "..") or "/" in device:
        raise BadRequest(f"bad device name {device!r}")
    if not parts[1].isdigit() or not parts[1].isascii():
        raise BadRequest(f"bad partition {parts[1]!r}")
    name = None
    if len(parts) == 3:
        name = _unquote(parts[2])
        if not name:
            raise BadRequest("empty name")
    return Target(device, int(parts[1]), name)


def parse_suffixes(segment: str) -> list[str]:
    """``abc-0f1`` -> ``["abc", "0f1"]``."""
    found = segment.split("-")
    if not all(is_suffix(s) for s in found):
        raise BadRequest(f"bad suffix list {segment!r}: expected 3 hex digits joined by '-'")
    return found


def parse_timestamp(value: str | None) -> str:
    if value is None:
        raise BadRequest(f"{TIMESTAMP_HEADER} is required")
    if not _TIMESTAMP.match(value) or normalize_timestamp(float(value)) != value:
        raise BadRequest(f"{TIMESTAMP_HEADER} {value!r} is not a normalised timestamp")
    return value


def parse_meta(value: str | None) -> dict[str, str]:
    if value is None:
        raise BadRequest(f"{META_HEADER} is required")
    try:
        doc = json.loads(value)
    except ValueError as exc:
        raise BadRequest(f"{META_HEADER} is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
        raise BadRequest(f"{META_HEADER} must be a JSON object of strings")
    return doc


def encode_meta(meta: dict[str, str]) -> str:
    return json.dumps(meta, ensure_ascii=True, separators=(",", ":"), sort_keys=True)


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """A single ``bytes=a-b|a-|-n`` range as inclusive ``(start, end)``; None: the whole blob.

    Anything else (several ranges, other units, garbage) is ignored, as RFC 9110 allows.
    """
    if value is None:
        return None
    match = _RANGE.match(value.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix range: the last n bytes
        length = int(last)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(value)
        return max(0, size - length), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None  # syntactically invalid: ignore
    if start >= size:
        raise RangeNotSatisfiable(value)
    return start, end


def _unquote(segment: str) -> str:
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"{segment!r} is not percent-encoded UTF-8") from None
