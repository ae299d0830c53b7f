"""The Condition element of a bucket policy: parsing and evaluation against a request context.

Semantics follow the IAM reference: every operator block and every key in it must hold; a key's
values are alternatives. A key missing from the context makes a positive operator false and a
negated one (``StringNotEquals``, ``NotIpAddress``, ...) true, except with ``...IfExists`` (missing
holds) and ``Null`` (which tests presence). ``ForAnyValue:`` needs one context value to match,
``ForAllValues:`` needs every one to (and holds when the key is missing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from nimbus_storage.bucket_config.wildcard import Context, compile_pattern, lookup
from nimbus_storage.s3errors import MalformedPolicy

# (context value, policy value, variables or None) -> does the positive form match?
_Test = Callable[[str, str, Context | None], bool]


def parse_number(text: str) -> float:
    return float(text)


def parse_date(text: str) -> float:
    """An ISO 8601 date or date-time (UTC unless it says otherwise), or epoch seconds."""
    stripped = text.strip()
    try:
        return float(stripped)
    except ValueError:
        pass
    moment = datetime.fromisoformat(stripped)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise ValueError(text)
    return lowered == "true"


def _pattern_test(*, wildcards: bool, ignore_case: bool) -> _Test:
    def test(actual: str, expected: str, variables: Context | None) -> bool:
        pattern = compile_pattern(
            expected, wildcards=wildcards, ignore_case=ignore_case, context=variables
        )
        return pattern is not None and pattern.fullmatch(actual) is not None

    return test


def _compare(parse: Callable[[str], float], check: Callable[[float, float], bool]) -> _Test:
    def test(actual: str, expected: str, _variables: Context | None) -> bool:
        try:
            return check(parse(actual), parse(expected))
        except ValueError:
            return False

    return test


def _bool_test(actual: str, expected: str, _variables: Context | None) -> bool:
    return actual.lower() == expected.lower()


def _ip_test(actual: str, expected: str, _variables: Context | None) -> bool:
    try:
        return ipaddress.ip_address(actual.strip()) in ipaddress.ip_network(expected, strict=False)
    except ValueError:
        return False


@dataclass(frozen=True)
class _Operator:
    test: _Test
    negated: bool = False
    validate: Callable[[str], object] = str
    supports_variables: bool = False


_EXACT = _pattern_test(wildcards=False, ignore_case=False)
_EXACT_NOCASE = _pattern_test(wildcards=False, ignore_case=True)
_LIKE = _pattern_test(wildcards=True, ignore_case=False)


def _numeric(check: Callable[[float, float], bool], negated: bool = False) -> _Operator:
    return _Operator(_compare(parse_number, check), negated, parse_number)


def _dated(check: Callable[[float, float], bool], negated: bool = False) -> _Operator:
    return _Operator(_compare(parse_date, check), negated, parse_date)


def _ip_network(text: str) -> object:
    return ipaddress.ip_network(text, strict=False)


OPERATORS: Mapping[str, _Operator] = {
    "StringEquals": _Operator(_EXACT, supports_variables=True),
    "StringNotEquals": _Operator(_EXACT, negated=True, supports_variables=True),
    "StringEqualsIgnoreCase": _Operator(_EXACT_NOCASE, supports_variables=True),
    "StringNotEqualsIgnoreCase": _Operator(_EXACT_NOCASE, negated=True, supports_variables=True),
    "StringLike": _Operator(_LIKE, supports_variables=True),
    "StringNotLike": _Operator(_LIKE, negated=True, supports_variables=True),
    "NumericEquals": _numeric(lambda a, b: a == b),
    "NumericNotEquals": _numeric(lambda a, b: a == b, negated=True),
    "NumericLessThan": _numeric(lambda a, b: a < b),
    "NumericLessThanEquals": _numeric(lambda a, b: a <= b),
    "NumericGreaterThan": _numeric(lambda a, b: a > b),
    "NumericGreaterThanEquals": _numeric(lambda a, b: a >= b),
    "DateEquals": _dated(lambda a, b: a == b),
    "DateNotEquals": _dated(lambda a, b: a == b, negated=True),
    "DateLessThan": _dated(lambda a, b: a < b),
    "DateLessThanEquals": _dated(lambda a, b: a <= b),
    "DateGreaterThan": _dated(lambda a, b: a > b),
    "DateGreaterThanEquals": _dated(lambda a, b: a >= b),
    "Bool": _Operator(_bool_test, validate=_parse_bool),
    "IpAddress": _Operator(_ip_test, validate=_ip_network),
    "NotIpAddress": _Operator(_ip_test, negated=True, validate=_ip_network),
    "ArnEquals": _Operator(_LIKE, supports_variables=True),
    "ArnLike": _Operator(_LIKE, supports_variables=True),
    "ArnNotEquals": _Operator(_LIKE, negated=True, supports_variables=True),
    "ArnNotLike": _Operator(_LIKE, negated=True, supports_variables=True),
}
_NULL = "Null"
_QUALIFIERS = ("ForAnyValue:", "ForAllValues:")
_IF_EXISTS = "IfExists"
CONDITION_KEY_PREFIXES = ("aws:", "s3:")


@dataclass(frozen=True)
class Condition:
    """One key under one operator, e.g. ``"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}``."""

    operator: str
    base: str
    qualifier: str  # "", "ForAnyValue" or "ForAllValues"
    if_exists: bool
    key: str
    values: tuple[str, ...]

    def holds(self, context: Context, *, variables: bool = False) -> bool:
        raw = lookup(context, self.key)
        actual = [raw] if isinstance(raw, str) else list(raw or [])
        if self.base == _NULL:
            return (not actual) == (self.values[0].lower() == "true")
        operator = OPERATORS[self.base]
        if not actual:
            if self.if_exists or self.qualifier == "ForAllValues":
                return True
            if self.qualifier == "ForAnyValue":
                return False
            return operator.negated
        substitutions = context if variables and operator.supports_variables else None

        def matches(value: str) -> bool:
            hit = any(operator.test(value, want, substitutions) for want in self.values)
            return hit != operator.negated

        if self.qualifier == "ForAllValues":
            return all(matches(value) for value in actual)
        return any(matches(value) for value in actual)


def all_hold(conditions: tuple[Condition, ...], context: Context, *, variables: bool) -> bool:
    return all(condition.holds(context, variables=variables) for condition in conditions)


def parse_conditions(raw: object) -> tuple[Condition, ...]:
    """The Condition element of one statement; MalformedPolicy names what is wrong."""
    if not isinstance(raw, dict):
        raise MalformedPolicy("Condition must be a JSON object")
    conditions: list[Condition] = []
    for operator, block in raw.items():
        qualifier, base, if_exists = _split_operator(operator)
        if not isinstance(block, dict) or not block:
            raise MalformedPolicy(f"Condition operator {operator} must map keys to values")
        for key, value in block.items():
            if not key.lower().startswith(CONDITION_KEY_PREFIXES):
                raise MalformedPolicy(f"Policy has an invalid condition key: {key}")
            values = _values(operator, value)
            _validate(base, operator, values)
            conditions.append(Condition(operator, base, qualifier, if_exists, key, values))
    return tuple(conditions)


def _split_operator(operator: str) -> tuple[str, str, bool]:
    qualifier = ""
    base = operator
    for prefix in _QUALIFIERS:
        if base.startswith(prefix):
            qualifier, base = prefix[:-1], base[len(prefix) :]
    if_exists = base.endswith(_IF_EXISTS) and base != _IF_EXISTS
    if if_exists:
        base = base[: -len(_IF_EXISTS)]
    known = base in OPERATORS or (base == _NULL and not if_exists and not qualifier)
    if not known:
        raise MalformedPolicy(f"Invalid Condition type : {operator}")
    return qualifier, base, if_exists


def _values(operator: str, value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise MalformedPolicy(f"Condition operator {operator} has an empty list of values")
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise MalformedPolicy(f"Condition operator {operator} values must be strings")
    return tuple(out)


def _validate(base: str, operator: str, values: tuple[str, ...]) -> None:
    if base == _NULL:
        if len(values) != 1 or values[0].lower() not in ("true", "false"):
            raise MalformedPolicy("The Null condition operator takes one value, true or false")
        return
    validate = OPERATORS[base].validate
    for value in values:
        try:
            validate(value)
        except ValueError as exc:
            raise MalformedPolicy(f"Invalid value {value!r} for condition {operator}") from exc
