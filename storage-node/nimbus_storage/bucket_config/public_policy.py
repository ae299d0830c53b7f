"""Whether a bucket policy is public, as S3 Block Public Access and GetBucketPolicyStatus decide.

AWS starts from "public" and looks for what makes each grant non-public: trust in something
someone owns. A policy is public unless every Allow statement is limited to *fixed* values
(no ``*`` or ``?`` wildcard, no ``${...}`` policy variable) of at least one of:

* its principal: named identities (an access key, a user ARN, a canonical or service principal),
  not ``*`` and not ``NotPrincipal`` (which allows everybody else);
* a condition on one of the keys in ``TRUSTED_KEYS`` (``aws:SourceArn``, ``aws:SourceVpc``,
  ``aws:SourceVpce``, ``aws:SourceOwner``, ``aws:SourceAccount``, ``aws:PrincipalOrgID``,
  ``aws:PrincipalAccount``, ``aws:PrincipalArn``, ``aws:userid``,
  ``s3:DataAccessPointArn``/``Account``) under an operator that requires the value
  (``StringEquals``, ``StringEqualsIgnoreCase``, ``StringLike``, ``ArnEquals``, ``ArnLike``;
  not a negated operator, not ``...IfExists``, not ``ForAllValues:``, which all hold for a
  request without the key);
* ``aws:SourceIp`` under ``IpAddress`` with CIDR blocks no broader than ``/8`` (IPv4) or
  ``/32`` (IPv6): a wider range (``0.0.0.0/0``, ``0.0.0.0/1``) is the internet, or much of it.

Conditions all have to hold, so one limiting condition is enough. Deny statements never make a
policy public. The prefix bounds are Nimbus's reading of AWS's "not too broad": AWS does not
publish its own.
"""

from __future__ import annotations

import ipaddress

from nimbus_storage.bucket_config.bucket_policy import BucketPolicy, Decision, Statement
from nimbus_storage.bucket_config.conditions import Condition

TRUSTED_KEYS = frozenset(
    key.casefold()
    for key in (
        "aws:SourceArn",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:SourceOwner",
        "aws:SourceAccount",
        "aws:PrincipalOrgID",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:userid",
        "s3:DataAccessPointArn",
        "s3:DataAccessPointAccount",
    )
)
SOURCE_IP = "aws:SourceIp".casefold()
_REQUIRING_OPERATORS = frozenset(
    {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike"}
)
# The widest CIDR blocks that still limit a grant, per IP version.
MIN_PREFIX = {4: 8, 6: 32}


def is_public_policy(policy: BucketPolicy) -> bool:
    """Whether any Allow statement of ``policy`` grants access beyond fixed values."""
    return any(
        _statement_is_public(statement)
        for statement in policy.statements
        if statement.effect is Decision.ALLOW
    )


def _statement_is_public(statement: Statement) -> bool:
    if _fixed_principal(statement):
        return False
    return not any(_limits(condition) for condition in statement.conditions)


def _fixed_principal(statement: Statement) -> bool:
    principals = statement.principals
    return not (statement.not_principal or principals.anyone or principals.wildcards)


def _fixed(value: str) -> bool:
    return not any(marker in value for marker in ("*", "?", "${"))


def _limits(condition: Condition) -> bool:
    """Whether the condition holds only for requests with one of a few fixed values."""
    if condition.if_exists or condition.qualifier == "ForAllValues":
        return False
    key = condition.key.casefold()
    if key == SOURCE_IP:
        return condition.base == "IpAddress" and all(map(_narrow_network, condition.values))
    if key not in TRUSTED_KEYS or condition.base not in _REQUIRING_OPERATORS:
        return False
    return all(_fixed(value) for value in condition.values)


def _narrow_network(value: str) -> bool:
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return False
    return network.prefixlen >= MIN_PREFIX[network.version]
