"""Parsing SigV4 authentication parameters: the ``Authorization`` header and presigned queries.

Only syntax is checked here (with the error codes and messages AWS uses); whether the key
exists and the signature matches is :mod:`nimbus_storage.auth.sigv4`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from nimbus_storage.s3errors import (
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
)

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
TERMINATOR = "aws4_request"
MAX_PRESIGN_EXPIRES = 604800  # one week, in seconds

_DATE = re.compile(r"\d{8}")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")
_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)

MalformedError: TypeAlias = (
    type[AuthorizationHeaderMalformed] | type[AuthorizationQueryParametersError]
)


@dataclass(frozen=True)
class Credential:
    """``<access key>/<yyyymmdd>/<region>/s3/aws4_request``, split."""

    access_key: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{TERMINATOR}"


@dataclass(frozen=True)
class SignedRequest:
    """What a client claims: who signed, over which headers, and the signature itself."""

    credential: Credential
    signed_headers: tuple[str, ...]
    signature: str


@dataclass(frozen=True)
class PresignedRequest(SignedRequest):
    amz_date: str
    expires: int


def parse_credential(value: str, malformed: MalformedError) -> Credential:
    parts = value.split("/")
    if len(parts) != 5 or not parts[0]:
        raise malformed(
            f"{_prefix(malformed)} the Credential is mal-formed; expecting"
            ' "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    access_key, date, region, service, terminator = parts
    if not _DATE.fullmatch(date) or not _is_calendar_date(date):
        raise malformed(f'{_prefix(malformed)} Invalid credential date "{date}".')
    if not region:
        raise malformed(f"{_prefix(malformed)} the region is empty.")
    if service != SERVICE:
        raise malformed(
            f'{_prefix(malformed)} incorrect service "{service}". This endpoint belongs to "s3".'
        )
    if terminator != TERMINATOR:
        raise malformed(
            f'{_prefix(malformed)} incorrect terminal "{terminator}".'
            ' This endpoint uses "aws4_request".'
        )
    return Credential(access_key, date, region, service)


def parse_signed_headers(value: str, malformed: MalformedError) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if not all(_HEADER_NAME.fullmatch(name) for name in names):
        raise malformed(f"{_prefix(malformed)} SignedHeaders must be lower-case header names.")
    return names


def parse_authorization_header(value: str) -> SignedRequest:
    """Parse ``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...``."""
    _, _, rest = value.partition(" ")
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, field_value = item.strip().partition("=")
        if sep:
            fields[name.strip()] = field_value.strip()
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise AuthorizationHeaderMalformed(
            "The authorization header is malformed; the authorization header requires three"
            " components: Credential, SignedHeaders, and Signature."
        )
    return SignedRequest(
        credential=parse_credential(fields["Credential"], AuthorizationHeaderMalformed),
        signed_headers=parse_signed_headers(fields["SignedHeaders"], AuthorizationHeaderMalformed),
        signature=fields["Signature"],
    )


def parse_presigned_query(query: Mapping[str, str]) -> PresignedRequest:
    """Parse and check the ``X-Amz-*`` parameters of a presigned URL (the decoded query)."""
    if not all(query.get(name) for name in _PRESIGN_PARAMS):
        raise AuthorizationQueryParametersError(
            "Query-string authentication version 4 requires the X-Amz-Algorithm,"
            " X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders,"
            " and X-Amz-Expires parameters."
        )
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthorizationQueryParametersError(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
    amz_date = query["X-Amz-Date"]
    if not _is_amz_date(amz_date):
        raise AuthorizationQueryParametersError(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    credential = parse_credential(query["X-Amz-Credential"], AuthorizationQueryParametersError)
    if credential.date != amz_date[:8]:
        raise AuthorizationQueryParametersError(
            f'Invalid credential date "{credential.date}". This date is not the same as'
            f' X-Amz-Date: "{amz_date[:8]}".'
        )
    return PresignedRequest(
        credential=credential,
        signed_headers=parse_signed_headers(
            query["X-Amz-SignedHeaders"], AuthorizationQueryParametersError
        ),
        signature=query["X-Amz-Signature"],
        amz_date=amz_date,
        expires=_parse_expires(query["X-Amz-Expires"]),
    )


def _parse_expires(value: str) -> int:
    if not value.isascii() or not value.lstrip("-").isdigit():
        raise AuthorizationQueryParametersError("X-Amz-Expires should be a number")
    expires = int(value)
    if expires < 0:
        raise AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
    if expires == 0:
        raise AuthorizationQueryParametersError("X-Amz-Expires must be at least 1 second")
    if expires > MAX_PRESIGN_EXPIRES:
        raise AuthorizationQueryParametersError(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800 seconds"
        )
    return expires


def _is_amz_date(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False
    return len(value) == 16


def _is_calendar_date(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y%m%d")
    except ValueError:
        return False
    return True


def _prefix(malformed: MalformedError) -> str:
    if malformed is AuthorizationHeaderMalformed:
        return "The authorization header is malformed;"
    return "Error parsing the X-Amz-Credential parameter;"
