"""Range requests and conditional requests (RFC 9110 as S3 applies them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nimbus_storage.gateway.headers import parse_http_date
from nimbus_storage.meta.api import ObjectVersion
from nimbus_storage.s3errors import (
    InvalidArgument,
    InvalidRange,
    NoSuchKey,
    NoSuchVersion,
    NotModified,
    PreconditionFailed,
)

# The conditions a write (PutObject, CopyObject, CompleteMultipartUpload) or a DeleteObject
# may carry; a request without any of its operation's takes no guard (write_guard.py).
WRITE_CONDITIONS = ("if-match", "if-none-match")
DELETE_CONDITIONS = ("if-match", "x-amz-if-match-last-modified-time", "x-amz-if-match-size")


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def _number(text: str) -> int:
    """A byte position: ASCII digits only (``int`` alone also takes ``+5``, ``1_0`` and ``٣``)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(text)
    return int(text)


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range a GET asks for; None for the whole object.

    S3 ignores a syntactically invalid Range header (serves the whole object) and answers a
    valid but unsatisfiable one with 416 InvalidRange. Multiple ranges are not supported by S3
    either: it serves the whole object.
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first:
            suffix = _number(last)
            if suffix == 0 or size == 0:
                raise InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
            return ByteRange(max(0, size - suffix), size - 1)
        start = _number(first)
        end = _number(last) if last.strip() else None
    except ValueError:
        return None
    if end is not None and end < start:
        return None
    if start >= size:  # also ``bytes=N-`` with N the size: 416, not the whole object
        raise InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
    return ByteRange(start, size - 1 if end is None else min(end, size - 1))


def _etag_matches(header: str, etag: str, *, weak: bool = False) -> bool:
    """If-Match compares strongly (``W/"x"`` never matches); If-None-Match weakly (RFC 9110)."""
    quoted = f'"{etag}"'
    for member in header.split(","):
        candidate = member.strip()
        if weak and candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate in ("*", quoted, etag):
            return True
    return False


def check_preconditions(
    headers: Mapping[str, str], etag: str, last_modified: float, *, prefix: str = ""
) -> None:
    """Raise PreconditionFailed (412) or NotModified (304) as S3 does.

    ``prefix`` is ``x-amz-copy-source-`` for CopyObject, whose conditions all fail with 412.
    If-Match takes precedence over If-Unmodified-Since, and If-None-Match over
    If-Modified-Since, exactly as RFC 9110 section 13.2.2 orders them.
    """
    seconds = int(last_modified)
    if_match = headers.get(prefix + "if-match")
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            raise PreconditionFailed(Condition="If-Match")
    else:
        unmodified_since = headers.get(prefix + "if-unmodified-since")
        when = parse_http_date(unmodified_since) if unmodified_since else None
        if when is not None and seconds > when:
            raise PreconditionFailed(Condition="If-Unmodified-Since")
    not_modified = PreconditionFailed if prefix else NotModified
    if_none_match = headers.get(prefix + "if-none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag, weak=True):
            raise not_modified(Condition="If-None-Match")
    else:
        modified_since = headers.get(prefix + "if-modified-since")
        when = parse_http_date(modified_since) if modified_since else None
        if when is not None and seconds <= when:
            raise not_modified(Condition="If-Modified-Since")


def has_any(headers: Mapping[str, str], names: tuple[str, ...]) -> bool:
    return any(name in headers for name in names)


def check_write_conditions(
    headers: Mapping[str, str], key: str, current: ObjectVersion | None
) -> None:
    """A conditional write against the key's ``current`` version (None: no version), as AWS:
    ``If-None-Match: *`` 412 when an object exists (a delete marker is none); ``If-Match`` 412
    when its ETag differs, 404 NoSuchKey when there is no object."""
    if_none_match = headers.get("if-none-match")
    if_match = headers.get("if-match")
    exists = current is not None and not current.delete_marker
    if if_none_match is not None:
        if if_none_match.strip() != "*":
            raise InvalidArgument("If-None-Match on a write accepts only '*'")
        if exists:
            raise PreconditionFailed(Condition="If-None-Match")
    if if_match is not None:
        if current is None or not exists:
            raise NoSuchKey(Key=key)
        if not _etag_matches(if_match, current.etag):
            raise PreconditionFailed(Condition="If-Match")


def header_time(headers: Mapping[str, str], name: str) -> int | None:
    """An ``x-amz-if-match-*-time`` header in whole seconds (S3 timestamps in headers are HTTP
    dates); 400 InvalidArgument when it is not a date."""
    value = headers.get(name)
    if value is None:
        return None
    when = parse_http_date(value)
    if when is None:
        raise InvalidArgument(
            f"{name} must be an HTTP date", ArgumentName=name, ArgumentValue=value
        )
    return int(when)


def _header_size(headers: Mapping[str, str]) -> int | None:
    value = headers.get("x-amz-if-match-size")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise InvalidArgument(
            "x-amz-if-match-size must be a number of bytes",
            ArgumentName="x-amz-if-match-size",
            ArgumentValue=value,
        )
    return int(value)


def check_delete_conditions(
    headers: Mapping[str, str], key: str, version_id: str | None, target: ObjectVersion | None
) -> None:
    """A conditional DeleteObject against ``target``: the current version (or the one
    ``version_id`` names). ``If-Match`` (an ETag or ``*``), ``x-amz-if-match-last-modified-time``
    and ``x-amz-if-match-size`` may be combined: 412 when one does not hold; 404 NoSuchKey when
    the key has no current object (none, or a delete marker), NoSuchVersion for an unknown
    version id."""
    if_match = headers.get("if-match")
    modified = header_time(headers, "x-amz-if-match-last-modified-time")
    size = _header_size(headers)
    if if_match is None and modified is None and size is None:
        return
    if target is None and version_id is not None:
        raise NoSuchVersion(Key=key, VersionId=version_id)
    if target is None or (target.delete_marker and version_id is None):
        raise NoSuchKey(Key=key)
    if if_match is not None and (target.delete_marker or not _etag_matches(if_match, target.etag)):
        raise PreconditionFailed(Condition="If-Match")
    if modified is not None and int(target.last_modified) != modified:
        raise PreconditionFailed(Condition="x-amz-if-match-last-modified-time")
    if size is not None and (target.delete_marker or target.size != size):
        raise PreconditionFailed(Condition="x-amz-if-match-size")
