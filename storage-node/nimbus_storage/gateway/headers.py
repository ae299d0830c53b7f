"""HTTP header facts of S3: dates, stored object headers, user metadata limits."""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from nimbus_storage.s3errors import InvalidStorageClass, MetadataTooLarge

# Request headers that are stored with an object and returned on GET/HEAD unchanged.
STORED_HEADERS = (
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "x-amz-website-redirect-location",
)
# Nimbus keeps every object in one class; other classes are refused rather than ignored.
STORAGE_CLASSES = ("STANDARD",)
USER_META_PREFIX = "x-amz-meta-"
# AWS: user-defined metadata is limited to 2 KB: the UTF-8 bytes of the names (less the
# x-amz-meta- prefix) and of the values, as stored (RFC 2047 encoded words decoded).
MAX_USER_METADATA_BYTES = 2048
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
# Header names used in the blob metadata that are not client headers.
META_ACL = "x-nimbus-acl"
META_MANIFEST = "x-nimbus-manifest"
META_INITIATOR = "x-nimbus-initiator"  # a multipart upload's meta: who created it


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


def iso8601(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_http_date(value: str) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")


def _decode_word(charset: str, encoding: str, text: str) -> str:
    if encoding in "Bb":
        raw = base64.b64decode(text, validate=True)
    else:
        raw = _Q_ESCAPE.sub(
            lambda m: bytes([int(m.group(1), 16)]), text.replace("_", " ").encode("ascii")
        )
    return raw.decode(charset.partition("*")[0])  # RFC 2231 adds *language to the charset


def decode_metadata_value(value: str) -> str:
    """An ``x-amz-meta-*`` value as AWS stores it: RFC 2047 encoded words (``=?UTF-8?B?...?=``,
    ``=?UTF-8?Q?...?=``, any charset Python knows) decoded, the white space between two
    adjacent words dropped (RFC 2047 section 6.2). A value with a word that does not decode
    is kept as it was sent."""
    if "=?" not in value:
        return value
    decoded: list[str] = []
    position = 0
    for word in _ENCODED_WORD.finditer(value):
        between = value[position : word.start()]
        if position == 0 or between.strip():
            decoded.append(between)
        try:
            decoded.append(_decode_word(*word.groups()))
        except (ValueError, LookupError, binascii.Error):
            return value
        position = word.end()
    decoded.append(value[position:])
    return "".join(decoded)


def encode_metadata_value(value: str) -> str:
    """An ``x-amz-meta-*`` value as AWS returns it on GET and HEAD: as it is when US-ASCII,
    else one RFC 2047 encoded word of its UTF-8 bytes (``=?UTF-8?B?...?=``)."""
    if value.isascii():
        return value
    raw = value.encode("utf-8", "surrogateescape")
    return f"=?UTF-8?B?{base64.b64encode(raw).decode('ascii')}?="


def object_headers_from_request(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of a PUT that are kept with the object: standard ones and x-amz-meta-*."""
    stored: dict[str, str] = {}
    user_bytes = 0
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(USER_META_PREFIX):
            stored[lowered] = decode_metadata_value(value)
            name_bytes = len(lowered.encode()) - len(USER_META_PREFIX)
            user_bytes += name_bytes + len(stored[lowered].encode("utf-8", "surrogateescape"))
        elif lowered == "content-encoding":
            # aws-chunked names how this request's body was framed, not the object's encoding.
            codings = [c.strip() for c in value.split(",") if c.strip().lower() != "aws-chunked"]
            if codings:
                stored[lowered] = ", ".join(codings)
        elif lowered in STORED_HEADERS:
            stored[lowered] = value
        elif lowered == "x-amz-storage-class" and value not in STORAGE_CLASSES:
            raise InvalidStorageClass(
                "The storage class you specified is not valid: Nimbus stores objects as"
                f" {', '.join(STORAGE_CLASSES)}",
                StorageClassRequested=value,
            )
    if user_bytes > MAX_USER_METADATA_BYTES:
        raise MetadataTooLarge(
            f"Your metadata headers exceed the maximum allowed metadata size"
            f" ({user_bytes} > {MAX_USER_METADATA_BYTES} bytes)."
        )
    stored.setdefault("content-type", DEFAULT_CONTENT_TYPE)
    return stored


def user_metadata(meta: Mapping[str, str]) -> dict[str, str]:
    """The stored ``x-amz-meta-*`` of an object as GET and HEAD answer them (RFC 2047 encoded
    when not US-ASCII)."""
    return {
        name: encode_metadata_value(value)
        for name, value in meta.items()
        if name.startswith(USER_META_PREFIX)
    }
