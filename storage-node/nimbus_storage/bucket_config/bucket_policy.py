"""S3 bucket policies: the JSON grammar, validation with AWS's messages, and evaluation.

A Nimbus identity is an access-key id. A policy names one either bare (``"AKIA..."``), as an IAM
user ARN whose user name is the key (``arn:aws:iam::<anything>:user/AKIA...``), or as a
``CanonicalUser`` id. ``evaluate`` answers for one request: an explicit Deny wins, then any Allow;
no matching statement is ``Decision.NONE`` (the caller falls back to ownership and ACLs).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from nimbus_storage.bucket_config.actions import ACTION_RESOURCE_KIND, ResourceKind
from nimbus_storage.bucket_config.conditions import Condition, all_hold, parse_conditions
from nimbus_storage.bucket_config.wildcard import Context, glob_match
from nimbus_storage.s3errors import MalformedPolicy

MAX_POLICY_BYTES = 20 * 1024
POLICY_VERSIONS = ("2012-10-17", "2008-10-17")
VARIABLES_VERSION = "2012-10-17"
S3_ARN_PREFIX = "arn:aws:s3:::"

_TOP_LEVEL_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_USER_ARN = re.compile(r"^arn:aws:iam::[^:]*:user/(?:.*/)?(?P<name>[^/]+)$")
_ACCESS_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_IDENTITY_PRINCIPAL_TYPES = ("AWS", "CanonicalUser")
_OTHER_PRINCIPAL_TYPES = ("Service",)
_NO_CONTEXT: Context = MappingProxyType({})


class Decision(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    NONE = "None"


def bucket_arn(bucket: str) -> str:
    return f"{S3_ARN_PREFIX}{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"{S3_ARN_PREFIX}{bucket}/{key}"


@dataclass(frozen=True)
class Principals:
    """Who a Principal element names: everyone, or a set of access-key / canonical ids.
    ``wildcards``: a name in it holds ``*`` or ``?`` (matched literally here, but no fixed
    principal for Block Public Access: see public_policy.py)."""

    anyone: bool
    identities: frozenset[str]
    wildcards: bool = False

    def matches(self, principal: str | None) -> bool:
        if self.anyone:
            return True
        return principal is not None and principal in self.identities


@dataclass(frozen=True)
class Statement:
    sid: str | None
    effect: Decision
    principals: Principals
    not_principal: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...]

    def applies(
        self, principal: str | None, action: str, resource: str, context: Context, variables: bool
    ) -> bool:
        if self.principals.matches(principal) == self.not_principal:
            return False
        action_hit = any(glob_match(p, action, ignore_case=True) for p in self.actions)
        if action_hit == self.not_action:
            return False
        substitutions = context if variables else None
        resource_hit = any(glob_match(p, resource, context=substitutions) for p in self.resources)
        if resource_hit == self.not_resource:
            return False
        return all_hold(self.conditions, context, variables=variables)


@dataclass(frozen=True)
class BucketPolicy:
    version: str
    id: str | None
    statements: tuple[Statement, ...]

    def evaluate(
        self,
        principal: str | None,
        action: str,
        resource: str,
        context: Mapping[str, str | list[str]] = _NO_CONTEXT,
    ) -> Decision:
        """ALLOW, DENY or NONE for ``principal`` (None = anonymous) doing ``action`` on ARN."""
        variables = self.version == VARIABLES_VERSION
        allowed = False
        for statement in self.statements:
            if not statement.applies(principal, action, resource, context, variables):
                continue
            if statement.effect is Decision.DENY:
                return Decision.DENY
            allowed = True
        return Decision.ALLOW if allowed else Decision.NONE


def parse_policy(text: str, bucket: str) -> BucketPolicy:
    """Validate a PutBucketPolicy body for ``bucket``; MalformedPolicy says what is wrong."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise MalformedPolicy("Policy exceeds the maximum allowed document size.")
    stripped = text.strip()
    if not stripped.startswith("{"):
        raise MalformedPolicy()
    try:
        document = json.loads(stripped, object_pairs_hook=_object_without_duplicates)
    except ValueError as exc:
        raise MalformedPolicy() from exc
    _reject_unknown(document, _TOP_LEVEL_FIELDS)
    version = document.get("Version", "2008-10-17")
    if version not in POLICY_VERSIONS:
        raise MalformedPolicy("The policy must contain a valid version string")
    policy_id = _optional_string(document, "Id")
    if "Statement" not in document:
        raise MalformedPolicy("Missing required field Statement")
    raw_statements = document["Statement"]
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise MalformedPolicy("Could not parse the policy: Statement is empty!")
    statements = tuple(_parse_statement(raw, bucket) for raw in raw_statements)
    sids = [statement.sid for statement in statements if statement.sid is not None]
    if len(sids) != len(set(sids)):
        raise MalformedPolicy("Statement IDs (SID) in a single policy must be unique.")
    return BucketPolicy(version, policy_id, statements)


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedPolicy(f"Duplicate field {key}")
        result[key] = value
    return result


def _reject_unknown(document: object, allowed: frozenset[str]) -> None:
    if not isinstance(document, dict):
        raise MalformedPolicy()
    for field in document:
        if field not in allowed:
            raise MalformedPolicy(f"Unknown field {field}")


def _optional_string(document: dict[str, object], field: str) -> str | None:
    value = document.get(field)
    if value is not None and not isinstance(value, str):
        raise MalformedPolicy(f"{field} must be a string")
    return value


def _parse_statement(raw: object, bucket: str) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy("Each Statement must be a JSON object")
    _reject_unknown(raw, _STATEMENT_FIELDS)
    sid = _optional_string(raw, "Sid")
    effect = raw.get("Effect")
    if effect is None:
        raise MalformedPolicy("Missing required field Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy(f"Invalid effect: {effect}")
    principal_field, not_principal = _either(raw, "Principal", "NotPrincipal")
    actions_field, not_action = _either(raw, "Action", "NotAction")
    resources_field, not_resource = _either(raw, "Resource", "NotResource")
    principals = _parse_principal(raw[principal_field])
    actions = _strings(raw[actions_field], "Action")
    for action in actions:
        _check_action(action)
    resources = _strings(raw[resources_field], "Resource")
    for resource in resources:
        _check_resource(resource, bucket)
    if not not_action and not not_resource:
        _check_actions_apply(actions, resources)
    conditions = parse_conditions(raw["Condition"]) if "Condition" in raw else ()
    return Statement(
        sid=sid,
        effect=Decision(effect),
        principals=principals,
        not_principal=not_principal,
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        conditions=conditions,
    )


def _either(raw: dict[str, object], field: str, negated: str) -> tuple[str, bool]:
    """Which of ``field`` / ``Not<field>`` the statement uses; exactly one is required."""
    if field in raw and negated in raw:
        raise MalformedPolicy(f"A statement cannot have both {field} and {negated}")
    if field in raw:
        return field, False
    if negated in raw:
        return negated, True
    raise MalformedPolicy(f"Missing required field {field}")


def _strings(value: object, field: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise MalformedPolicy(f"Missing required field {field}")
    if not all(isinstance(item, str) and item for item in items):
        raise MalformedPolicy(f"{field} must be a string or a list of strings")
    return tuple(str(item) for item in items)


def _parse_principal(value: object) -> Principals:
    if value == "*":
        return Principals(anyone=True, identities=frozenset())
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy("Invalid principal in policy")
    anyone = False
    wildcards = False
    identities: set[str] = set()
    for kind, names in value.items():
        if kind not in _IDENTITY_PRINCIPAL_TYPES + _OTHER_PRINCIPAL_TYPES:
            raise MalformedPolicy("Invalid principal in policy")
        items = names if isinstance(names, list) else [names]
        if not items or not all(isinstance(name, str) and name for name in items):
            raise MalformedPolicy("Invalid principal in policy")
        wildcards = wildcards or any("*" in name or "?" in name for name in items)
        if kind not in _IDENTITY_PRINCIPAL_TYPES:
            continue  # a service principal never names a Nimbus identity
        for name in items:
            if name == "*" and kind == "AWS":
                anyone = True
            else:
                identities.add(_identity(name) if kind == "AWS" else name)
    return Principals(anyone=anyone, identities=frozenset(identities), wildcards=wildcards)


def _identity(name: str) -> str:
    user = _USER_ARN.match(name)
    if user is not None:
        return user.group("name")
    if _ACCESS_KEY.match(name):
        return name
    raise MalformedPolicy("Invalid principal in policy")


def _check_action(action: str) -> None:
    if action == "*":
        return
    if not action.lower().startswith("s3:"):
        raise MalformedPolicy("Policy has invalid action")
    if not _covered_actions(action):
        raise MalformedPolicy(f"Unknown action {action}")


def _covered_actions(pattern: str) -> list[str]:
    return [known for known in ACTION_RESOURCE_KIND if glob_match(pattern, known, ignore_case=True)]


def _check_resource(resource: str, bucket: str) -> None:
    if resource == "*":
        return
    if not resource.startswith(S3_ARN_PREFIX):
        raise MalformedPolicy("Policy has invalid resource")
    bucket_part = resource[len(S3_ARN_PREFIX) :].split("/", 1)[0]
    if not bucket_part or not glob_match(bucket_part, bucket):
        raise MalformedPolicy("Policy has invalid resource")


def _resource_kinds(resource: str) -> set[ResourceKind]:
    if resource == "*":
        return set(ResourceKind)
    path = resource[len(S3_ARN_PREFIX) :]
    if "/" in path:
        return {ResourceKind.OBJECT}
    if "*" in path:
        return {ResourceKind.BUCKET, ResourceKind.OBJECT}
    return {ResourceKind.BUCKET}


def _check_actions_apply(actions: tuple[str, ...], resources: tuple[str, ...]) -> None:
    kinds: set[ResourceKind] = set()
    for resource in resources:
        kinds |= _resource_kinds(resource)
    for action in actions:
        covered = _covered_actions(action)
        if not any(ACTION_RESOURCE_KIND[known] in kinds for known in covered):
            raise MalformedPolicy("Action does not apply to any resource(s) in statement")
