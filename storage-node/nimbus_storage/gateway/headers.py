"""HTTP header facts of S3: dates, stored object headers, user metadata limits."""

from __future__ import annotations

import email.utils
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
# AWS: user-defined metadata is limited to 2 KB (names and values, UTF-8).
MAX_USER_METADATA_BYTES = 2048
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
# Header names used in the blob metadata that are not client headers.
META_ACL = "x-nimbus-acl"
META_MANIFEST = "x-nimbus-manifest"


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


def object_headers_from_request(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers of a PUT that are kept with the object: standard ones and x-amz-meta-*."""
    stored: dict[str, str] = {}
    user_bytes = 0
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(USER_META_PREFIX):
            stored[lowered] = value
            user_bytes += len(lowered) - len(USER_META_PREFIX) + len(value.encode())
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
    return {name: value for name, value in meta.items() if name.startswith(USER_META_PREFIX)}
