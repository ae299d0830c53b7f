"""Browser uploads (PostObject): the form's signature and its POST policy (pure, no I/O).

A browser upload is one ``POST /bucket`` whose ``multipart/form-data`` body carries the object's
key and headers as form fields, then the file. The request itself is unsigned: a form that
names a key signs its ``policy`` field instead, the base64 of a JSON document::

    {"expiration": "2030-01-01T00:00:00.000Z",
     "conditions": [{"bucket": "photos"}, ["starts-with", "$key", "user/eric/"],
                    ["content-length-range", 1, 10485760]]}

* SigV4 forms: ``x-amz-algorithm`` (AWS4-HMAC-SHA256), ``x-amz-credential``
  (``key/yyyymmdd/region/s3/aws4_request``), ``x-amz-date`` and ``x-amz-signature``, the hex
  HMAC-SHA256 of the base64 policy under the SigV4 signing key of the credential's scope;
* SigV2 forms: ``AWSAccessKeyId`` and ``signature``, the base64 HMAC-SHA1 of the base64 policy
  under the secret key;
* a form with neither, and without a policy, is anonymous: the bucket's policy and ACL decide.

Once the signature holds, the policy must (AWS's rules and messages, 403 AccessDenied unless
said): not be expired ("Policy expired."); each condition must hold for the form's fields,
a field the form lacks failing it ("Policy Condition failed: [...]"); and every field of the
form must be named by a condition, but ``file``, ``policy``, ``x-amz-signature``, ``signature``,
``AWSAccessKeyId`` and the ``x-ignore-*`` fields ("Extra input fields: ..."). The bucket is a
field too, the request's own. ``content-length-range`` bounds the file's size, which is known
only as it streams: the gateway checks it (:meth:`PostPolicy.check_size`). A policy that is not
such a document is 400 InvalidPolicyDocument.

Field names are case-insensitive (``Content-Type`` or ``content-type``): the caller gives
them lower-cased, repeated fields joined by commas, and ``${filename}`` already expanded, as
AWS matches conditions against the expanded values.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from nimbus_storage.auth import sigv2
from nimbus_storage.auth.credentials import ALGORITHM, Credential, parse_credential
from nimbus_storage.auth.sigv4 import (
    AMZ_DATE_FORMAT,
    UNSIGNED_PAYLOAD,
    AuthContext,
    derive_signing_key,
    sign,
)
from nimbus_storage.s3errors import (
    AccessDenied,
    AuthorizationQueryParametersError,
    EntityTooLarge,
    EntityTooSmall,
    InvalidArgument,
    InvalidPolicyDocument,
    SignatureDoesNotMatch,
)

# Fields no condition needs to name.
EXEMPT_FIELDS = frozenset({"file", "policy", "x-amz-signature", "signature", "awsaccesskeyid"})
IGNORED_PREFIX = "x-ignore-"
EQ = "eq"
STARTS_WITH = "starts-with"
LENGTH_RANGE = "content-length-range"
# The fields of each signature version: their presence says which one the form uses.
V4_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
V2_FIELDS = ("awsaccesskeyid", "signature")
# How the AWS documentation spells them, for the messages that name a missing one.
_SPELLING = {"awsaccesskeyid": "AWSAccessKeyId", "signature": "Signature", "policy": "Policy"}
_POLICY_FAILED = "Invalid according to Policy: "


# --- the policy document -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """``eq`` or ``starts-with`` on one field (lower-case name, without its ``$``)."""

    operator: str
    field: str
    value: str
    text: str  # the condition as AWS quotes it when it fails: ["eq", "$key", "a"]

    def holds(self, value: str) -> bool:
        if self.operator == EQ:
            return value == self.value
        if self.field == "content-type":
            # AWS: a Content-Type holding commas is a list, each of whose values must match.
            return all(part.strip().startswith(self.value) for part in value.split(","))
        return value.startswith(self.value)


@dataclass(frozen=True, slots=True)
class LengthRange:
    """``content-length-range``: the file's size, inclusive bounds."""

    low: int
    high: int


@dataclass(frozen=True, slots=True)
class PostPolicy:
    expiration: datetime
    conditions: tuple[Condition, ...]
    length_range: LengthRange | None = None

    def check(self, fields: Mapping[str, str], now: datetime) -> None:
        """AccessDenied unless the form's ``fields`` (lower-case names, the request's
        ``bucket`` among them) meet the policy at ``now``."""
        if now > self.expiration:
            raise AccessDenied(_POLICY_FAILED + "Policy expired.")
        for condition in self.conditions:
            value = fields.get(condition.field)
            if value is None or not condition.holds(value):
                raise AccessDenied(_POLICY_FAILED + "Policy Condition failed: " + condition.text)
        named = {condition.field for condition in self.conditions}
        extra = [
            name
            for name in fields
            if name not in named
            and name not in EXEMPT_FIELDS
            and not name.startswith(IGNORED_PREFIX)
        ]
        if extra:
            raise AccessDenied(_POLICY_FAILED + "Extra input fields: " + ", ".join(extra))

    def check_size(self, size: int, *, final: bool) -> None:
        """The file's ``content-length-range``: EntityTooLarge as soon as ``size`` bytes of it
        exceed the range, EntityTooSmall when its ``final`` size falls short."""
        bounds = self.length_range
        if bounds is None:
            return
        if size > bounds.high:
            raise EntityTooLarge(
                "Your proposed upload exceeds the maximum allowed size",
                ProposedSize=str(size),
                MaxSizeAllowed=str(bounds.high),
            )
        if final and size < bounds.low:
            raise EntityTooSmall(
                "Your proposed upload is smaller than the minimum allowed size",
                ProposedSize=str(size),
                MinSizeAllowed=str(bounds.low),
            )


def _invalid(reason: str) -> InvalidPolicyDocument:
    return InvalidPolicyDocument(f"Invalid Policy: {reason}")


def parse_policy(encoded: str) -> PostPolicy:
    """The ``policy`` field: base64 of a UTF-8 JSON document; InvalidPolicyDocument otherwise."""
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("Invalid Base64 encoding.") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _invalid("Invalid JSON.") from None
    if not isinstance(document, dict):
        raise _invalid("Invalid JSON.")
    if "expiration" not in document:
        raise _invalid("Policy missing expiration.")
    expiration = _parse_expiration(document["expiration"])
    raw_conditions = document.get("conditions")
    if raw_conditions is None:
        raise _invalid("Policy missing conditions.")
    if not isinstance(raw_conditions, list):
        raise _invalid("Invalid 'conditions' value: must be a list.")
    conditions: list[Condition] = []
    length_range: LengthRange | None = None
    for item in raw_conditions:
        if isinstance(item, list) and item and _lower(item[0]) == LENGTH_RANGE:
            length_range = _parse_length_range(item)
        else:
            conditions.append(_parse_condition(item))
    return PostPolicy(expiration, tuple(conditions), length_range)


def _parse_expiration(value: object) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            moment = None
        if moment is not None and "T" in text:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    raise _invalid(f"Invalid 'expiration' value: '{value}'")


def _parse_condition(item: object) -> Condition:
    if isinstance(item, dict):
        if len(item) != 1:
            raise _invalid(
                "Invalid Simple-Condition: Simple-Conditions must have exactly one property"
                " specified."
            )
        ((name, value),) = item.items()
        if not isinstance(value, str):
            raise _invalid("Invalid Simple-Condition: value must be a string.")
        return _condition(EQ, name.lower(), value, name)
    if not isinstance(item, list) or not item:
        raise _invalid(f"Invalid Condition: {json.dumps(item)}")
    operator = _lower(item[0])
    if operator not in (EQ, STARTS_WITH):
        raise _invalid(f"Invalid Condition: unknown operation {json.dumps(item[0])}.")
    if len(item) != 3 or not all(isinstance(part, str) for part in item[1:]):
        raise _invalid(
            f"Invalid {operator} Condition: conditions must have exactly three string elements"
        )
    field, value = item[1], item[2]
    if not field.startswith("$") or len(field) == 1:
        raise _invalid(f"Invalid {operator} Condition: the field must be a '$' and its name")
    return _condition(operator, field[1:].lower(), value, field[1:])


def _condition(operator: str, field: str, value: str, spelled: str) -> Condition:
    text = json.dumps([operator, f"${spelled}", value], ensure_ascii=False)
    return Condition(operator, field, value, text)


def _parse_length_range(item: list[object]) -> LengthRange:
    bounds = [bound for bound in map(_bound, item[1:]) if bound is not None]
    if len(item) != 3 or len(bounds) != 2:
        raise _invalid(
            "Invalid content-length-range Condition: the range must be two non-negative integers."
        )
    low, high = bounds
    if low > high:
        raise _invalid("Invalid content-length-range Condition: the minimum exceeds the maximum.")
    return LengthRange(low, high)


def _bound(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _lower(value: object) -> str:
    return value.lower() if isinstance(value, str) else ""


# --- the form's signature ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FormSignature:
    """What a signed form claims: who signed its policy, and how."""

    access_key: str
    signature: str
    policy: str  # the policy field, base64, exactly as signed
    version: int  # 4 or 2
    credential: Credential | None = None  # SigV4's scope
    amz_date: str = ""  # SigV4's x-amz-date


def _missing(name: str) -> InvalidArgument:
    spelled = _SPELLING.get(name, name)
    return InvalidArgument(
        f"Bucket POST must contain a field named '{spelled}'.  If it is specified, please check"
        " the order of the fields.",
        ArgumentName=spelled,
        ArgumentValue="",
    )


def form_signature(fields: Mapping[str, str]) -> FormSignature | None:
    """The signature a form claims (``fields``: lower-case names); None for an anonymous form.

    A form that has a policy, or any signature field, must have a whole signature: a missing
    field is InvalidArgument naming it, as on AWS.
    """
    v4 = any(name in fields for name in V4_FIELDS)
    v2 = any(name in fields for name in V2_FIELDS)
    if not (v4 or v2 or "policy" in fields):
        return None
    if v4 and v2:
        raise InvalidArgument(
            "Only one auth mechanism allowed; the form has both AWSAccessKeyId (Signature"
            " Version 2) and x-amz-credential (Signature Version 4) fields."
        )
    for name in (*(V4_FIELDS if v4 else V2_FIELDS), "policy"):
        if not fields.get(name):
            raise _missing(name)
    if not v4:
        return FormSignature(fields["awsaccesskeyid"], fields["signature"], fields["policy"], 2)
    algorithm = fields["x-amz-algorithm"]
    if algorithm != ALGORITHM:
        raise InvalidArgument(
            f'x-amz-algorithm only supports "{ALGORITHM}"',
            ArgumentName="x-amz-algorithm",
            ArgumentValue=algorithm,
        )
    amz_date = fields["x-amz-date"]
    try:
        datetime.strptime(amz_date, AMZ_DATE_FORMAT)
    except ValueError:
        raise InvalidArgument(
            "x-amz-date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            ArgumentName="x-amz-date",
            ArgumentValue=amz_date,
        ) from None
    try:
        credential = parse_credential(fields["x-amz-credential"], AuthorizationQueryParametersError)
    except AuthorizationQueryParametersError as error:
        raise InvalidArgument(
            error.message, ArgumentName="x-amz-credential", ArgumentValue=fields["x-amz-credential"]
        ) from None
    return FormSignature(
        credential.access_key,
        fields["x-amz-signature"],
        fields["policy"],
        4,
        credential=credential,
        amz_date=amz_date,
    )


def verify_form_signature(claim: FormSignature, secret: str, now: datetime) -> AuthContext:
    """The context of a form whose signature ``secret`` makes, received at ``now``;
    SignatureDoesNotMatch else."""
    if claim.version == 2:
        expected = sigv2.sign(secret, claim.policy).encode("ascii")
        if not hmac.compare_digest(expected, claim.signature.encode("ascii", "replace")):
            raise SignatureDoesNotMatch(AWSAccessKeyId=claim.access_key)
        return AuthContext(
            access_key=claim.access_key,
            signing_key=b"",
            region=sigv2.REGION,
            service="s3",
            amz_date=now.astimezone(UTC).strftime(AMZ_DATE_FORMAT),
            scope="",
            seed_signature="",
            payload_hash=UNSIGNED_PAYLOAD,
            presigned=False,
            signature_version=2,
        )
    credential = claim.credential
    assert credential is not None
    signing_key = derive_signing_key(secret, credential.date, credential.region, credential.service)
    expected_hex = sign(signing_key, claim.policy).encode("ascii")
    if not hmac.compare_digest(expected_hex, claim.signature.lower().encode("ascii", "replace")):
        raise SignatureDoesNotMatch(AWSAccessKeyId=claim.access_key)
    return AuthContext(
        access_key=claim.access_key,
        signing_key=signing_key,
        region=credential.region,
        service=credential.service,
        amz_date=claim.amz_date,
        scope=credential.scope,
        seed_signature=claim.signature.lower(),
        payload_hash=UNSIGNED_PAYLOAD,
        presigned=False,
    )
