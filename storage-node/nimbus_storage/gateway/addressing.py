"""Where a request points: bucket and key from path-style or virtual-hosted-style addressing.

The key is taken from the raw request path, percent-decoded exactly once and never normalized:
S3 keys may contain ``..``, ``//`` and trailing slashes, and they must come back byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_to_bytes

from nimbus_storage.s3errors import InvalidRequest, InvalidURI, KeyTooLongError

MAX_KEY_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Target:
    bucket: str
    key: str
    virtual_host: bool


def split_raw_path(raw_path: str) -> tuple[str, str]:
    """``/b/k?x=1`` -> (``/b/k``, ``x=1``), both still percent-encoded."""
    path, _, query = raw_path.partition("?")
    return path, query


def parse_query(raw_query: str) -> dict[str, str]:
    """Query parameters, decoded; a parameter without ``=`` (``?uploads``) maps to ``""``.

    Bytes that are not UTF-8 make the URI invalid, as in the path: decoding them as U+FFFD
    would make ``prefix=%FF`` another prefix (and aiohttp hands raw ones over as surrogates).
    """
    try:
        pairs = parse_qsl(raw_query, keep_blank_values=True, errors="strict")
        for name, value in pairs:
            name.encode("utf-8")
            value.encode("utf-8")
    except UnicodeError:
        raise InvalidURI() from None
    return dict(pairs)


def bucket_from_host(host: str, domains: tuple[str, ...]) -> str | None:
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    hostname = hostname.lower()
    for domain in domains:
        suffix = "." + domain
        if hostname.endswith(suffix) and len(hostname) > len(suffix):
            return hostname[: -len(suffix)]
    return None


def _decode(component: str) -> str:
    """Percent-decode once; bytes (raw or %-encoded) that are not UTF-8 make the URI invalid.

    aiohttp hands over raw non-UTF-8 bytes as lone surrogates, which cannot be encoded back.
    """
    try:
        return unquote_to_bytes(component).decode("utf-8")
    except UnicodeError:
        raise InvalidURI() from None


def resolve_target(raw_path: str, host: str, domains: tuple[str, ...]) -> Target:
    if not raw_path.startswith("/"):
        raise InvalidRequest("The request path must be absolute")
    virtual_bucket = bucket_from_host(host, domains)
    if virtual_bucket is not None:
        key = _decode(raw_path[1:])
        target = Target(virtual_bucket, key, virtual_host=True)
    else:
        bucket_part, _, key_part = raw_path[1:].partition("/")
        target = Target(_decode(bucket_part), _decode(key_part), virtual_host=False)
    if len(target.key.encode("utf-8")) > MAX_KEY_BYTES:
        raise KeyTooLongError()
    return target
