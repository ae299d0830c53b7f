"""AWS Signature Version 4 for S3: the ``Authorization`` header and presigned query strings.

:func:`authenticate` turns a request's method, raw path, raw query and headers into an
:class:`AuthContext` (or ``None`` when anonymous) and raises the exact S3 error otherwise.
The context carries what the body decoders need afterwards: the payload hash the client
declared and, for ``aws-chunked`` uploads, the seed signature every chunk signature chains
from (see :mod:`nimbus_storage.auth.chunked`).

The gateway is region-agnostic: any region in the credential scope is accepted (the
signature covers it), but the service must be ``s3``.

Legacy Signature Version 2 requests (``Authorization: AWS key:signature`` and
``?AWSAccessKeyId=&Signature=&Expires=`` URLs) are verified by
:mod:`nimbus_storage.auth.sigv2` through the same :func:`authenticate` entry point.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache

from nimbus_storage.auth import canonical
from nimbus_storage.auth.credentials import (
    ALGORITHM,
    SignedRequest,
    parse_authorization_header,
    parse_presigned_query,
)
from nimbus_storage.s3errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    ExpiredToken,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidRequest,
    RequestTimeTooSkewed,
    SignatureDoesNotMatch,
)

UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_PAYLOADS = frozenset(
    {STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER}
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"
MAX_SKEW = timedelta(minutes=15)
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_SIGNING_KEY_CACHE_SIZE = 512

_UNSUPPORTED_MECHANISM = (
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
)
_BAD_CONTENT_SHA256 = (
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER,"
    " STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    " or a valid sha256 value."
)


@dataclass(frozen=True)
class AuthContext:
    """Who signed a request, and what the body decoders need to keep verifying it."""

    access_key: str
    # HMAC key derived from the secret for (date, region, service); the secret itself is not
    # kept. Chunk and trailer signatures are computed with it.
    signing_key: bytes = field(repr=False)
    region: str
    service: str
    amz_date: str  # yyyymmddTHHMMSSZ, exactly as signed
    scope: str  # date/region/s3/aws4_request
    seed_signature: str  # the request's own signature (hex); chunk signatures chain from it
    payload_hash: str  # x-amz-content-sha256 as signed; UNSIGNED-PAYLOAD for most presigns
    presigned: bool
    signed_headers: tuple[str, ...] = ()
    # 2 for legacy SigV2 requests: no signing key, scope or seed signature, and the payload
    # is always UNSIGNED-PAYLOAD (never aws-chunked).
    signature_version: int = 4

    @property
    def request_time(self) -> datetime:
        return datetime.strptime(self.amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)


def authenticate(  # noqa: PLR0917 - the gateway's agreed entry point
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime | None = None,
    *,
    virtual_host_bucket: str | None = None,
) -> AuthContext | None:
    """Verify a request's SigV4 (or SigV2) signature; ``None`` if it carries none at all.

    ``raw_path`` and ``raw_query`` are exactly as the client sent them (still
    percent-encoded); ``headers`` may be any mapping, names in any case. ``now`` defaults to
    the current UTC time (naive datetimes are taken as UTC).

    ``virtual_host_bucket`` must be the bucket named by the Host header when the request was
    virtual-hosted (``raw_path`` then lacks it): SigV2 signs ``/bucket`` + path either way.
    SigV4 ignores it.
    """
    from nimbus_storage.auth import sigv2  # sigv2 builds on this module's AuthContext

    request = _Request(method.upper(), raw_path, raw_query, canonical.lower_case_headers(headers))
    now = _as_utc(now or datetime.now(UTC))
    query = dict(canonical.parse_query(raw_query))
    authorization = (_first(request.headers, "authorization") or "").strip()
    v4_query = "X-Amz-Algorithm" in query
    v2_query = "AWSAccessKeyId" in query or "Signature" in query
    if sum((bool(authorization), v4_query, v2_query)) > 1:
        raise InvalidArgument(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter,"
            " Signature query string parameter or the Authorization header should be specified"
        )
    v2_request = sigv2.V2Request(
        request.method, raw_path, raw_query, request.headers, virtual_host_bucket
    )
    if authorization.startswith(sigv2.HEADER_PREFIX):
        return sigv2.authenticate_header(v2_request, authorization, lookup_secret, now)
    if authorization:
        return _authenticate_header(request, authorization, lookup_secret, now)
    if v4_query:
        return _authenticate_presigned(request, query, lookup_secret, now)
    if v2_query:
        return sigv2.authenticate_query(v2_request, lookup_secret, now)
    return None


@dataclass(frozen=True)
class _Request:
    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, list[str]]  # lower-case names


def _authenticate_header(
    request: _Request,
    authorization: str,
    lookup_secret: Callable[[str], str | None],
    now: datetime,
) -> AuthContext:
    if not authorization.startswith(ALGORITHM + " "):
        raise InvalidRequest(_UNSUPPORTED_MECHANISM)
    claim = parse_authorization_header(authorization)
    amz_date = _header_request_date(request.headers)
    if claim.credential.date != amz_date[:8]:
        raise AuthorizationHeaderMalformed(
            "The authorization header is malformed; Invalid credential date."
            " Date is not the same as X-Amz-Date."
        )
    payload_hash = _first(request.headers, "x-amz-content-sha256")
    if payload_hash is None:
        raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
    if not _is_valid_payload_hash(payload_hash):
        raise InvalidArgument(_BAD_CONTENT_SHA256)
    _require_signed(request.headers, claim.signed_headers, AuthorizationHeaderMalformed)
    secret = _secret_for(claim.credential.access_key, lookup_secret)
    if abs(now - _parse_amz_date(amz_date)) > MAX_SKEW:
        raise RequestTimeTooSkewed(
            RequestTime=amz_date,
            ServerTime=now.strftime(_ISO_SECONDS),
            MaxAllowedSkewMilliseconds=str(int(MAX_SKEW.total_seconds() * 1000)),
        )
    return _verify(
        request,
        claim,
        secret=secret,
        amz_date=amz_date,
        payload_hash=payload_hash,
        presigned=False,
    )


def _authenticate_presigned(
    request: _Request,
    query: dict[str, str],
    lookup_secret: Callable[[str], str | None],
    now: datetime,
) -> AuthContext:
    claim = parse_presigned_query(query)
    _require_signed(request.headers, claim.signed_headers, AuthorizationQueryParametersError)
    secret = _secret_for(claim.credential.access_key, lookup_secret)
    request_time = _parse_amz_date(claim.amz_date)
    if request_time - now > MAX_SKEW:
        raise AccessDenied("Request is not valid yet")
    expires_at = request_time + timedelta(seconds=claim.expires)
    if now > expires_at:
        raise ExpiredToken(
            **{"X-Amz-Expires": str(claim.expires)},
            Expires=expires_at.strftime(_ISO_SECONDS),
            ServerTime=now.strftime(_ISO_SECONDS),
        )
    return _verify(
        request,
        claim,
        secret=secret,
        amz_date=claim.amz_date,
        payload_hash=query.get("X-Amz-Content-Sha256") or UNSIGNED_PAYLOAD,
        presigned=True,
    )


def _verify(
    request: _Request,
    claim: SignedRequest,
    *,
    secret: str,
    amz_date: str,
    payload_hash: str,
    presigned: bool,
) -> AuthContext:
    """Accept the request if any candidate canonical form carries the claimed signature."""
    credential = claim.credential
    signing_key = derive_signing_key(secret, credential.date, credential.region, credential.service)
    header_block = canonical.canonical_headers(request.headers, claim.signed_headers)
    tail = f"{header_block}\n{';'.join(claim.signed_headers)}\n{payload_hash}"
    queries = canonical.query_candidates(
        request.raw_query, exclude="X-Amz-Signature" if presigned else None
    )
    given = claim.signature.lower().encode("ascii", "replace")
    for path in canonical.path_candidates(request.raw_path):
        for query in queries:
            canonical_request = f"{request.method}\n{path}\n{query}\n{tail}"
            digest = hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape"))
            string_to_sign = f"{ALGORITHM}\n{amz_date}\n{credential.scope}\n{digest.hexdigest()}"
            if hmac.compare_digest(sign(signing_key, string_to_sign).encode(), given):
                return AuthContext(
                    access_key=credential.access_key,
                    signing_key=signing_key,
                    region=credential.region,
                    service=credential.service,
                    amz_date=amz_date,
                    scope=credential.scope,
                    seed_signature=claim.signature.lower(),
                    payload_hash=payload_hash,
                    presigned=presigned,
                    signed_headers=claim.signed_headers,
                )
    raise SignatureDoesNotMatch(AWSAccessKeyId=credential.access_key)


def _is_valid_payload_hash(value: str) -> bool:
    return (
        value == UNSIGNED_PAYLOAD
        or value in STREAMING_PAYLOADS
        or _HEX_SHA256.fullmatch(value) is not None
    )


def chunk_string_to_sign(ctx: AuthContext, previous_signature: str, chunk_sha256_hex: str) -> str:
    """String to sign for one ``aws-chunked`` data chunk (the final, empty chunk included)."""
    return "\n".join(
        (
            "AWS4-HMAC-SHA256-PAYLOAD",
            ctx.amz_date,
            ctx.scope,
            previous_signature,
            EMPTY_SHA256,
            chunk_sha256_hex,
        )
    )


def trailer_string_to_sign(
    ctx: AuthContext, previous_signature: str, trailer_sha256_hex: str
) -> str:
    """String to sign for the trailing headers; the hash covers ``name:value\\n`` lines."""
    return "\n".join(
        (
            "AWS4-HMAC-SHA256-TRAILER",
            ctx.amz_date,
            ctx.scope,
            previous_signature,
            trailer_sha256_hex,
        )
    )


def sign(signing_key: bytes, string_to_sign: str) -> str:
    """Hex HMAC-SHA256 of ``string_to_sign`` under a derived signing key."""
    return hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@lru_cache(maxsize=_SIGNING_KEY_CACHE_SIZE)
def derive_signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """``kSigning`` of the SigV4 spec; cached, since one key serves a whole day of requests."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _require_signed(
    headers: Mapping[str, Sequence[str]],
    signed_headers: tuple[str, ...],
    malformed: type[AuthorizationHeaderMalformed] | type[AuthorizationQueryParametersError],
) -> None:
    if "host" not in signed_headers:
        raise malformed("The host header must be signed (it is missing from SignedHeaders).")
    unsigned = sorted(
        name for name in headers if name.startswith("x-amz-") and name not in signed_headers
    )
    if unsigned:
        raise AccessDenied(
            "There were headers present in the request which were not signed",
            HeadersNotSigned=", ".join(unsigned),
        )


def _secret_for(access_key: str, lookup_secret: Callable[[str], str | None]) -> str:
    secret = lookup_secret(access_key)
    if secret is None:
        raise InvalidAccessKeyId(AWSAccessKeyId=access_key)
    return secret


def _header_request_date(headers: Mapping[str, Sequence[str]]) -> str:
    """The signed timestamp: ``x-amz-date``, else the RFC 7231 ``Date`` converted to it."""
    amz_date = _first(headers, "x-amz-date")
    if amz_date is not None:
        _parse_amz_date(amz_date)
        return amz_date
    http_date = _first(headers, "date")
    if http_date is not None:
        try:
            parsed = parsedate_to_datetime(http_date)
        except (TypeError, ValueError):
            parsed = None
        if parsed is not None:
            return _as_utc(parsed).strftime(AMZ_DATE_FORMAT)
    raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header")


def _parse_amz_date(amz_date: str) -> datetime:
    try:
        return datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise AccessDenied(
            "AWS authentication requires a valid Date or x-amz-date header"
        ) from None


def _first(headers: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0].strip() if values else None


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
