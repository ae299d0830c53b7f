"""Model dataclasses whose fields carry their schema: the single source of spec and CRD.

A model is a frozen dataclass declared with `model`; each field is declared with `prop`,
which holds the field's user-facing description, its schema `Node` and its default::

    @model
    class GatewaySpec:
        replicas: int = prop("How many gateway pods serve S3.", Integer(minimum=1), default=2)

The CRD schema (`Object.openapi`), the parser (`parse_model`) and the serialiser
(`dump_model`) all walk these same fields, so a default, a bound or a field name cannot
differ between the CRD and the operator. JSON names are the camelCase of the field names.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar, dataclass_transform

from nimbus_operator.models.errors import SpecError, join_path
from nimbus_operator.models.nodebase import AnyRule, JsonDict, Node, describe

T = TypeVar("T")
_MISSING: Any = dataclasses.MISSING
_PROP = "nimbus.schema"


@dataclass(frozen=True, slots=True)
class Prop:
    """The schema half of a model field: description, node and JSON name."""

    doc: str
    node: Node
    json_name: str


def camel(name: str) -> str:
    """``storage_class_name`` -> ``storageClassName``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def prop(
    doc: str,
    node: Node,
    *,
    default: Any = _MISSING,
    default_factory: Callable[[], Any] = _MISSING,
    json_name: str | None = None,
) -> Any:
    """Declare a model field: its description for users, its schema node and its default.

    A field with no default is required. A default of ``None`` (or an empty tuple) means
    "optional, absent" and is not written into the CRD; any other default is, so the API
    server stores it. A ``default_factory`` that is the field's own model class becomes
    ``default: {}`` in the CRD: the API server then fills in the nested defaults.
    """
    metadata = {_PROP: Prop(doc=doc, node=node, json_name=json_name or "")}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(prop,))
def model(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen, slotted, keyword-only dataclass whose fields are `prop` s."""
    made: type[Any] = dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)
    for field in dataclasses.fields(made):
        if _PROP not in field.metadata:
            raise TypeError(f"{cls.__name__}.{field.name} must be declared with prop()")
    return made


@dataclass(frozen=True, slots=True)
class ModelField:
    """One field of a model: its Python name, JSON name, schema and default."""

    name: str
    json_name: str
    doc: str
    node: Node
    field: dataclasses.Field[Any]

    @property
    def required(self) -> bool:
        """True when the field has no default."""
        return self.field.default is _MISSING and self.field.default_factory is _MISSING


def model_fields(cls: type[Any]) -> Iterator[ModelField]:
    """The fields of a model, in declaration order."""
    for field in dataclasses.fields(cls):
        spec: Prop = field.metadata[_PROP]
        yield ModelField(
            field.name, spec.json_name or camel(field.name), spec.doc, spec.node, field
        )


def model_rules(cls: type[Any]) -> tuple[AnyRule, ...]:
    """The object-level CEL rules a model declares in its ``RULES`` class attribute."""
    rules: tuple[AnyRule, ...] = getattr(cls, "RULES", ())
    return rules


def schema_default(field: ModelField) -> tuple[bool, Any]:
    """``(True, value)`` when the CRD should carry a default for this field."""
    factory: Any = field.field.default_factory
    if factory is not _MISSING:
        if factory is getattr(field.node, "model", None):
            # The API server checks a default against the node's CEL rules: {} must pass them.
            field.node.parse({}, field.json_name)
            return True, {}
        value = factory()
    elif field.field.default is not _MISSING:
        value = field.field.default
    else:
        return False, None
    if value is None or value == ():
        return False, None
    return True, field.node.dump(value)


@dataclass(frozen=True, kw_only=True)
class Object(Node):
    """An object whose properties are the fields of a model class."""

    model: type[Any]

    def _openapi(self) -> JsonDict:
        properties: JsonDict = {}
        required: list[str] = []
        for field in model_fields(self.model):
            schema = field.node.openapi()
            schema.pop("description", None)
            rendered = {"description": field.doc, **schema}
            has_default, default = schema_default(field)
            if has_default:
                rendered["default"] = default
            properties[field.json_name] = rendered
            if field.required:
                required.append(field.json_name)
        description = self.description or _first_paragraph(self.model)
        result: JsonDict = {"description": description} if description else {}
        result["type"] = "object"
        result["properties"] = properties
        if required:
            result["required"] = required
        return result

    def validation_rules(self) -> tuple[AnyRule, ...]:
        """The model's own rules (its ``RULES``), then those given to this node."""
        return (*model_rules(self.model), *self.rules)

    def _parse(self, value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            raise SpecError(path, f"must be an object (got {describe(value)})")
        values: dict[str, Any] = {}
        for field in model_fields(self.model):
            raw = value.get(field.json_name)
            if raw is not None:
                values[field.name] = field.node.parse(raw, join_path(path, field.json_name))
            elif field.required:
                raise SpecError(join_path(path, field.json_name), "is required")
        return self.model(**values)

    def dump(self, value: Any) -> Any:
        return dump_model(value)

    def check_update(self, old: Any, new: Any, path: str) -> None:
        super().check_update(old, new, path)
        if not isinstance(old, Mapping) or not isinstance(new, Mapping):
            return
        for field in model_fields(self.model):
            if old.get(field.json_name) is not None and new.get(field.json_name) is not None:
                child = join_path(path, field.json_name)
                field.node.check_update(old[field.json_name], new[field.json_name], child)


def _first_paragraph(cls: type[Any]) -> str:
    doc = inspect.getdoc(cls) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def parse_model(cls: type[T], value: Any, path: str = "", *, root: str = "spec") -> T:
    """Parse a JSON object into a model, applying defaults; `SpecError` names the bad field."""
    try:
        parsed: T = Object(model=cls).parse(value, path)
    except SpecError as error:
        if error.root == root:
            raise
        raise SpecError(error.field_path, error.message, root=root) from error
    return parsed


def dump_model(value: Any) -> JsonDict:
    """The JSON form of a model instance: camelCase keys; fields that are ``None`` or an
    empty list are left out, as they are absent from a body the API server has defaulted."""
    dumped: JsonDict = {}
    for field in model_fields(type(value)):
        item = getattr(value, field.name)
        if item is not None and item != ():
            dumped[field.json_name] = field.node.dump(item)
    return dumped


class SpecModel:
    """What the spec of every kind can do: parse from a body, dump, check an update."""

    __slots__ = ()

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse ``body["spec"]`` (absent means empty), applying the defaults.

        Raises `SpecError` whose ``str()`` names the field, e.g.
        ``spec.nodes.count: must be at least 1 (got 0)``.
        """
        spec = body.get("spec")
        return parse_model(cls, {} if spec is None else spec, root="spec")

    def to_body(self) -> JsonDict:
        """The spec as JSON, defaults included: ``from_body({"spec": s.to_body()}) == s``."""
        return dump_model(self)

    @classmethod
    def check_update(cls, old_body: Mapping[str, Any], new_body: Mapping[str, Any]) -> None:
        """Apply the CRD's transition rules (immutable fields...) to an update of the spec.

        The API server already does this; the operator calls it for bodies that bypassed it.
        """
        old, new = old_body.get("spec"), new_body.get("spec")
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            Object(model=cls).check_update(old, new, "")


class StatusModel:
    """What the status of every kind can do: dump into a status patch, parse back."""

    __slots__ = ()

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse ``body["status"]`` (absent means empty); `SpecError` has root ``status``."""
        status = body.get("status")
        return parse_model(cls, {} if status is None else status, root="status")

    def to_body(self) -> JsonDict:
        """The status as JSON, for a status patch: unset fields left out, but empty lists
        kept (``conditions: []``) so that a merge patch empties them."""
        dumped = dump_model(self)
        return {
            field.json_name: dumped.get(field.json_name, [])
            for field in model_fields(type(self))
            if field.json_name in dumped or getattr(self, field.name) == ()
        }
