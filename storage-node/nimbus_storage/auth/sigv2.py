"""AWS Signature Version 2 for S3: ``Authorization: AWS key:signature`` and presigned queries.

Legacy clients still sign this way, and boto3's ``generate_presigned_url`` does by default.
The signature is the base64 HMAC-SHA1, under the secret key, of::

    VERB \\n Content-MD5 \\n Content-Type \\n Date \\n CanonicalizedAmzHeaders CanonicalizedResource

For presigned URLs (``AWSAccessKeyId``, ``Signature``, ``Expires``) the Date line holds the
``Expires`` value. The resource is the path exactly as sent (still percent-encoded), prefixed
with ``/bucket`` for virtual-hosted requests, plus the sub-resources found in the query.

Where clients legitimately differ, a few canonical forms are tried, each still needing a
valid signature:

* a bucket-level resource is ``/bucket`` or ``/bucket/`` (botocore sends the former and
  signs the latter);
* with ``x-amz-date`` present, the Date line is empty (AWS) or the ``Date`` header (botocore);
* a sub-resource without a value is ``acl`` or ``acl=``; ``+`` in a value is literal (botocore)
  or a space;
* on a presigned URL, a Content-Type or Content-MD5 the signer did not sign may be sent.

No request body is ever signed here: the context says ``UNSIGNED-PAYLOAD`` and a SigV2
request is never decoded as ``aws-chunked``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from itertools import product
from urllib.parse import unquote

from nimbus_storage.auth import canonical
from nimbus_storage.auth.sigv4 import AMZ_DATE_FORMAT, MAX_SKEW, UNSIGNED_PAYLOAD, AuthContext
from nimbus_storage.s3errors import (
    AccessDenied,
    ExpiredToken,
    InvalidAccessKeyId,
    InvalidArgument,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)

HEADER_PREFIX = "AWS "
QUERY_PARAMS = ("AWSAccessKeyId", "Signature", "Expires")
REGION = "us-east-1"

# Query parameters that are part of the signed resource: the list AWS documents, plus the
# ones botocore's HmacV1Auth also signs (so that every request botocore signs verifies).
SUBRESOURCES = frozenset(
    {
        # AWS
        "acl",
        "cors",
        "delete",
        "lifecycle",
        "location",
        "logging",
        "notification",
        "partNumber",
        "policy",
        "requestPayment",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        # botocore, in addition
        "accelerate",
        "analytics",
        "defaultObjectAcl",
        "inventory",
        "metrics",
        "object-lock",
        "replication",
        "restore",
        "select",
        "select-type",
        "storageClass",
    }
)

_ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"
_BAD_DATE = "AWS authentication requires a valid Date or x-amz-date header"


@dataclass(frozen=True)
class V2Request:
    """What SigV2 covers. ``headers`` has lower-case names; ``virtual_host_bucket`` is the
    bucket named by the Host header when the request was virtual-hosted, else ``None``."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, Sequence[str]]
    virtual_host_bucket: str | None = None


def authenticate_header(
    request: V2Request,
    authorization: str,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
) -> AuthContext:
    """Verify ``Authorization: AWS <access key>:<signature>``."""
    access_key, sep, signature = authorization[len(HEADER_PREFIX) :].strip().partition(":")
    if not sep or not access_key or not signature:
        raise InvalidArgument(
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature"
        )
    amz_date = _first(request.headers, "x-amz-date")
    http_date = _first(request.headers, "date")
    raw_time = amz_date if amz_date is not None else http_date
    signed_at = _parse_request_time(raw_time)
    secret = _secret_for(access_key, lookup_secret)
    if abs(now - signed_at) > MAX_SKEW:
        raise RequestTimeTooSkewed(
            RequestTime=raw_time or "",
            ServerTime=now.strftime(_ISO_SECONDS),
            MaxAllowedSkewMilliseconds=str(int(MAX_SKEW.total_seconds() * 1000)),
        )
    # AWS leaves the Date line empty when x-amz-date is sent; botocore still signs Date.
    dates = [http_date or ""] if amz_date is None else _unique(["", http_date or ""])
    _check_signature(
        request,
        access_key=access_key,
        secret=secret,
        signature=signature,
        dates=dates,
        amz_headers=amz_headers(request.headers),
        content_md5s=[_first(request.headers, "content-md5") or ""],
        content_types=[_first(request.headers, "content-type") or ""],
    )
    return _context(access_key, signed_at, presigned=False)


def authenticate_query(
    request: V2Request,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
) -> AuthContext:
    """Verify a presigned URL: ``?AWSAccessKeyId=...&Signature=...&Expires=<epoch seconds>``."""
    # base64 has no spaces: a '+' in the query is always a literal '+'.
    params = canonical.parse_query(request.raw_query, plus_is_space=False)
    first = _first_values(params)
    access_key, signature, expires = (first.get(name, "") for name in QUERY_PARAMS)
    if not (access_key and signature and expires):
        raise AccessDenied(
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId"
            " parameters"
        )
    expires_at = _parse_expires(expires)
    secret = _secret_for(access_key, lookup_secret)
    if now > expires_at:
        raise ExpiredToken(
            Expires=expires_at.strftime(_ISO_SECONDS), ServerTime=now.strftime(_ISO_SECONDS)
        )
    # botocore moves x-amz-*, Content-MD5 and Content-Type into the query when presigning.
    lowered = [(name.lower(), value) for name, value in params]
    from_query = _first_values(lowered)
    _check_signature(
        request,
        access_key=access_key,
        secret=secret,
        signature=signature,
        dates=[expires],
        amz_headers=amz_headers(request.headers, lowered),
        content_md5s=_presigned_content_header(request.headers, from_query, "content-md5"),
        content_types=_presigned_content_header(request.headers, from_query, "content-type"),
    )
    return _context(access_key, expires_at, presigned=True)


def string_to_sign(
    method: str,
    *,
    content_md5: str,
    content_type: str,
    date: str,
    amz_headers: str,
    resource: str,
) -> str:
    return f"{method}\n{content_md5}\n{content_type}\n{date}\n{amz_headers}{resource}"


def sign(secret: str, text: str) -> str:
    """Base64 HMAC-SHA1 of ``text`` under ``secret``."""
    digest = hmac.new(
        secret.encode("utf-8"), text.encode("utf-8", "surrogateescape"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def amz_headers(headers: Mapping[str, Sequence[str]], query: Sequence[tuple[str, str]] = ()) -> str:
    """CanonicalizedAmzHeaders: ``name:value\\n`` per ``x-amz-*`` name, sorted, values trimmed
    and a repeated header's values joined by commas.

    ``query`` adds presigned-URL parameters (lower-case names); a value already sent as a
    header is not repeated, so sending a signed parameter as a header too stays valid, while
    any other header value breaks the signature.
    """
    grouped: dict[str, list[str]] = {}
    for name, values in headers.items():
        if name.startswith("x-amz-"):
            grouped.setdefault(name, []).extend(value.strip() for value in values)
    for name, value in query:
        if name.startswith("x-amz-") and value.strip() not in grouped.get(name, ()):
            grouped.setdefault(name, []).append(value.strip())
    return "".join(f"{name}:{','.join(grouped[name])}\n" for name in sorted(grouped))


def resource_candidates(raw_path: str, raw_query: str, bucket: str | None = None) -> list[str]:
    """CanonicalizedResource forms to try, most likely first, without duplicates."""
    path = raw_path.partition("?")[0] or "/"
    if bucket:
        path = f"/{bucket}{path}"
    paths = [path]
    inner = path[1:]
    if inner and "/" not in inner:
        paths.append(path + "/")  # /bucket as sent, /bucket/ as botocore signs it
    elif inner.endswith("/") and "/" not in inner[:-1]:
        paths.append(path[:-1])
    plus_forms = (False, True) if "+" in raw_query else (False,)
    suffixes = _unique(
        [
            _subresources(raw_query, plus_is_space=plus, bare_empty=bare)
            for plus in plus_forms
            for bare in (False, True)
        ]
    )
    return [prefix + suffix for prefix in paths for suffix in suffixes]


def _subresources(raw_query: str, *, plus_is_space: bool, bare_empty: bool) -> str:
    """``?name[=value]&...`` for the sub-resources in the query: sorted by name (stably),
    values percent-decoded; a parameter sent without ``=`` stays bare."""
    entries: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        raw_name, sep, raw_value = part.partition("=")
        name = unquote(raw_name)
        if name not in SUBRESOURCES:
            continue
        value = unquote(raw_value.replace("+", " ") if plus_is_space else raw_value)
        bare = not sep or (bare_empty and not value)
        entries.append((name, name if bare else f"{name}={value}"))
    entries.sort(key=lambda entry: entry[0])
    return "?" + "&".join(text for _, text in entries) if entries else ""


def _presigned_content_header(
    headers: Mapping[str, Sequence[str]], query: Mapping[str, str], name: str
) -> list[str]:
    """Values to try for Content-MD5 / Content-Type on a presigned request.

    The header as sent, else the value the signer put in the query. A header the signer left
    out altogether (empty, and absent from the query) is unsigned, as it is in a SigV4
    presigned URL: HTTP clients add a Content-Type of their own to a presigned PUT.
    """
    sent = _first(headers, name)
    if sent is None:
        return [query.get(name, "")]
    return [sent] if name in query else _unique([sent, ""])


def _check_signature(
    request: V2Request,
    *,
    access_key: str,
    secret: str,
    signature: str,
    dates: Sequence[str],
    amz_headers: str,
    content_md5s: Sequence[str],
    content_types: Sequence[str],
) -> None:
    given = signature.encode("ascii", "replace")
    resources = resource_candidates(
        request.raw_path, request.raw_query, request.virtual_host_bucket
    )
    for md5, content_type, date, resource in product(content_md5s, content_types, dates, resources):
        text = string_to_sign(
            request.method,
            content_md5=md5,
            content_type=content_type,
            date=date,
            amz_headers=amz_headers,
            resource=resource,
        )
        if hmac.compare_digest(sign(secret, text).encode("ascii"), given):
            return
    raise SignatureDoesNotMatch(AWSAccessKeyId=access_key)


def _context(access_key: str, moment: datetime, *, presigned: bool) -> AuthContext:
    return AuthContext(
        access_key=access_key,
        signing_key=b"",
        region=REGION,
        service="s3",
        amz_date=moment.strftime(AMZ_DATE_FORMAT),
        scope="",
        seed_signature="",
        payload_hash=UNSIGNED_PAYLOAD,
        presigned=presigned,
        signature_version=2,
    )


def _parse_request_time(raw: str | None) -> datetime:
    """``x-amz-date`` or ``Date``: RFC 7231 (as SigV2 clients send it) or ISO 8601 basic."""
    if raw:
        try:
            return _as_utc(parsedate_to_datetime(raw))
        except (TypeError, ValueError):
            pass
        try:
            return datetime.strptime(raw, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            pass
    raise AccessDenied(_BAD_DATE)


def _parse_expires(value: str) -> datetime:
    if value.isascii() and value.isdigit():
        try:
            return datetime.fromtimestamp(int(value), UTC)
        except (OverflowError, OSError, ValueError):
            pass
    raise AccessDenied(f"Invalid date (should be seconds since epoch): {value}")


def _secret_for(access_key: str, lookup_secret: Callable[[str], str | None]) -> str:
    secret = lookup_secret(access_key)
    if secret is None:
        raise InvalidAccessKeyId(AWSAccessKeyId=access_key)
    return secret


def _first(headers: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0].strip() if values else None


def _first_values(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    first: dict[str, str] = {}
    for name, value in pairs:
        first.setdefault(name, value)
    return first


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
