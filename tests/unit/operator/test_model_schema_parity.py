"""Every field the models parse is in the committed CRD, and every CRD field is parsed.

The CRD is generated from the models' fields, so this walks the two independently: the
dataclasses through their type annotations, the CRD through its YAML.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Any

import pytest
from nimbus_operator.models.containers import Array, FreeForm, StringMap
from nimbus_operator.models.kind import ResourceKind
from nimbus_operator.models.modeling import Object, model_fields
from nimbus_operator.models.nodebase import Node
from nimbus_operator.models.scalars import Boolean, Choice, Integer, String
from nimbus_operator.models.scalars import Quantity as QuantityNode

from tests.unit.operator.crdtools import KINDS, section_schema


def to_camel(name: str) -> str:
    words = name.split("_")
    return words[0] + "".join(word.capitalize() for word in words[1:])


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) and type(None) in args:
        (inner,) = [arg for arg in args if arg is not type(None)]
        return inner, True
    return hint, False


def _nested_model(hint: Any) -> tuple[type[Any] | None, str]:
    hint, _ = _strip_optional(hint)
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        is_model = isinstance(item, type) and dataclasses.is_dataclass(item)
        return (item, "[]") if is_model else (None, "")
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint, ""
    return None, ""


def model_paths(cls: type[Any], prefix: str = "") -> Iterator[str]:
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        path = prefix + to_camel(field.name)
        yield path
        nested, suffix = _nested_model(hints[field.name])
        if nested is not None:
            yield from model_paths(nested, f"{path}{suffix}.")


def crd_paths(schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for name, child in schema.get("properties", {}).items():
        path = prefix + name
        yield path
        if "properties" in child:
            yield from crd_paths(child, f"{path}.")
        if "properties" in child.get("items", {}):
            yield from crd_paths(child["items"], f"{path}[].")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_spec_fields_match_the_crd(kind: ResourceKind) -> None:
    assert set(model_paths(kind.spec)) == set(crd_paths(section_schema(kind, "spec")))


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_status_fields_match_the_crd(kind: ResourceKind) -> None:
    crd = set(crd_paths(section_schema(kind, "status")))
    assert crd - set(model_paths(kind.status)) == {"kopf"}
    assert set(model_paths(kind.status)) <= crd


def all_models() -> Iterator[type[Any]]:
    seen: set[type[Any]] = set()
    pending: list[type[Any]] = [cls for kind in KINDS for cls in (kind.spec, kind.status)]
    while pending:
        cls = pending.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            nested, _ = _nested_model(hints[field.name])
            if nested is not None:
                pending.append(nested)


def _expected_hint(node: Node) -> Any:
    if isinstance(node, Integer):
        return int
    if isinstance(node, Boolean):
        return bool
    if isinstance(node, String | QuantityNode):
        return str
    if isinstance(node, Choice):
        return node.enum
    if isinstance(node, Object):
        return node.model
    if isinstance(node, Array):
        return tuple[_expected_hint(node.items), ...]  # type: ignore[misc]
    if isinstance(node, StringMap):
        return Mapping[str, _expected_hint(node.values)]  # type: ignore[misc]
    if isinstance(node, FreeForm):
        return dict[str, Any]
    raise AssertionError(f"no expected type for {node!r}")


@pytest.mark.parametrize("cls", list(all_models()), ids=lambda cls: cls.__name__)
def test_annotations_agree_with_schema_nodes(cls: type[Any]) -> None:
    hints = typing.get_type_hints(cls)
    for field in model_fields(cls):
        hint, optional = _strip_optional(hints[field.name])
        assert hint == _expected_hint(field.node), f"{cls.__name__}.{field.name}"
        default = field.field.default
        assert optional == (default is None), f"{cls.__name__}.{field.name}: X | None iff None"
        if isinstance(field.node, Choice) and default not in (dataclasses.MISSING, None):
            assert isinstance(default, StrEnum)


@pytest.mark.parametrize("cls", list(all_models()), ids=lambda cls: cls.__name__)
def test_required_fields_match_the_crd(cls: type[Any]) -> None:
    rendered = Object(model=cls).openapi()
    required = [field.json_name for field in model_fields(cls) if field.required]
    assert rendered.get("required", []) == required
