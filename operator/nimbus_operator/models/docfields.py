"""Walk the models into the rows of the CRD reference: each field and each CEL rule.

The walk reads the same `prop` declarations the CRD is generated from (see `modeling`):
a field's description, its schema node (put into words by `type_words`), its default as the
CRD carries it, and the rules on every node. Paths are dotted JSON paths from the section's
root, ``[]`` marking the items of a list: ``spec.lifecycle.rules[].id``. Pure and
deterministic: rows come in declaration order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nimbus_operator.models.common import immutable, immutable_field
from nimbus_operator.models.containers import Array, FreeForm, StringMap
from nimbus_operator.models.errors import SpecError
from nimbus_operator.models.modeling import Object, model_fields, parse_model, schema_default
from nimbus_operator.models.nodebase import AnyRule, Node, TransitionRule
from nimbus_operator.models.scalars import (
    Boolean,
    Choice,
    DateTime,
    Duration,
    Integer,
    Quantity,
    String,
)

MAP_KEY = "<key>"
"""The path segment standing for any key of a map (``additionalProperties``)."""

_IMMUTABLE_FIELD = re.compile(r"^has\(self\.([A-Za-z0-9_]+)\) == has\(oldSelf\.\1\)")


@dataclass(frozen=True, slots=True)
class FieldRow:
    """One field of the reference: where it is, what it holds, its default and its doc."""

    path: str
    type: str
    default: str | None
    """The default the API server fills in, as JSON text (bare for a string); None if none."""
    required: bool
    """Required whenever its parent object is present."""
    description: str


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One CEL rule of the reference and the node (by path) it is declared on."""

    path: str
    rule: AnyRule

    @property
    def update_only(self) -> bool:
        """True for a transition rule: it compares with the old value, on updates only."""
        return isinstance(self.rule, TransitionRule)

    @property
    def immutable(self) -> str | None:
        """The path kept unchanged when this is an immutability rule (`common.immutable` or
        `common.immutable_field`), else None."""
        expression = self.rule.expression
        if expression == immutable(self.rule.message).expression:
            return self.path
        match = _IMMUTABLE_FIELD.match(expression)
        if match and expression == immutable_field(match.group(1)).expression:
            return f"{self.path}.{match.group(1)}"
        return None


def spec_required(cls: type[Any]) -> bool:
    """Whether a resource must have a spec: as in the CRD, it may be left out only when
    ``{}`` is a valid spec (every field defaulted, every rule passing)."""
    try:
        parse_model(cls, {})
    except SpecError:
        return True
    return False


def field_rows(cls: type[Any], prefix: str) -> Iterator[FieldRow]:
    """The fields of a model and, depth first, of the objects and lists inside it."""
    for field in model_fields(cls):
        path = f"{prefix}.{field.json_name}"
        has_default, default = schema_default(field)
        shown = _json_text(default) if has_default else None
        yield FieldRow(path, type_words(field.node), shown, field.required, field.doc)
        yield from _inner_rows(field.node, path)


def _inner_rows(node: Node, path: str) -> Iterator[FieldRow]:
    if isinstance(node, Object):
        yield from field_rows(node.model, path)
    elif isinstance(node, Array | StringMap):
        inner, inner_path = _inner(node, path)
        if not isinstance(inner, Object) and inner.description:
            yield FieldRow(inner_path, type_words(inner), None, False, inner.description)
        yield from _inner_rows(inner, inner_path)


def rule_rows(node: Node, path: str) -> Iterator[RuleRow]:
    """The CEL rules on a node and, depth first, on every node inside it."""
    for rule in node.validation_rules():
        yield RuleRow(path, rule)
    if isinstance(node, Object):
        for field in model_fields(node.model):
            yield from rule_rows(field.node, f"{path}.{field.json_name}")
    elif isinstance(node, Array | StringMap):
        yield from rule_rows(*_inner(node, path))


def _inner(node: Array | StringMap, path: str) -> tuple[Node, str]:
    if isinstance(node, Array):
        return node.items, f"{path}[]"
    return node.values, f"{path}.{MAP_KEY}"


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def type_words(node: Node) -> str:
    """What a node accepts, in words: type, enum values, bounds, pattern and format."""
    if isinstance(node, DateTime):
        return "date-time (RFC 3339, e.g. `2024-05-01T12:00:00Z`)"
    if isinstance(node, Duration):
        return "duration (e.g. `1h`, `30m`, `90s`, `1h30m`)"
    if isinstance(node, String):
        return _string_words(node)
    if isinstance(node, Choice):
        return "string, one of " + ", ".join(f"`{member.value}`" for member in node.enum)
    if isinstance(node, Integer):
        return _integer_words(node)
    if isinstance(node, Boolean):
        return "boolean"
    if isinstance(node, Quantity):
        return _quantity_words(node)
    if isinstance(node, Object):
        return "object"
    if isinstance(node, FreeForm):
        return "object (any fields, kept as given)"
    if isinstance(node, Array):
        return _array_words(node)
    if isinstance(node, StringMap):
        values = type_words(node.values)
        return f"map of string keys, at most {node.max_properties} entries; each value: {values}"
    raise TypeError(f"no words for a {type(node).__name__} node: teach docfields.type_words")


def _string_words(node: String) -> str:
    words = [f"string ({node.format})" if node.format else "string"]
    if node.min_length and node.min_length == node.max_length:
        words.append(f"exactly {node.max_length} characters")
    elif node.min_length:
        words.append(f"{node.min_length} to {node.max_length} characters")
    else:
        words.append(f"at most {node.max_length} characters")
    if node.pattern is not None and node.pattern_message:
        words.append(f"{node.pattern_message} (pattern `{node.pattern}`)")
    elif node.pattern is not None:
        words.append(f"matching the pattern `{node.pattern}`")
    return ", ".join(words)


def _integer_words(node: Integer) -> str:
    words = ["64-bit integer" if node.format == "int64" else "integer"]
    if node.minimum is not None:
        words.append(f"minimum {node.minimum}")
    if node.maximum is not None:
        words.append(f"maximum {node.maximum}")
    return ", ".join(words)


def _quantity_words(node: Quantity) -> str:
    words = "quantity (a number of bytes, or a string such as `10Gi` or `500M`)"
    if node.min_bytes == 1:
        return f"{words}, more than 0 bytes (checked by the operator)"
    if node.min_bytes:
        return f"{words}, at least {node.min_bytes} bytes (checked by the operator)"
    return words


def _array_words(node: Array) -> str:
    if node.min_items:
        words = [f"list of {node.min_items} to {node.max_items} items"]
    else:
        words = [f"list of at most {node.max_items} items"]
    if node.list_type == "set":
        words.append("no duplicates")
    elif node.list_type == "map" and node.map_keys:
        words.append("unique by " + " and ".join(f"`{key}`" for key in node.map_keys))
    return f"{', '.join(words)}; each: {type_words(node.items)}"
