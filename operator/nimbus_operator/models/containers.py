"""Container schema nodes: lists, string-keyed maps and free-form objects."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nimbus_operator.models.errors import SpecError, join_path
from nimbus_operator.models.nodebase import JsonDict, Node, describe


@dataclass(frozen=True, kw_only=True)
class Array(Node):
    """A list, held as a tuple. ``max_items`` is required: it bounds the cost of CEL rules."""

    items: Node
    max_items: int
    min_items: int | None = None
    list_type: str = "atomic"
    """``atomic``, ``set`` (unique scalars) or ``map`` (objects unique by ``map_keys``)."""
    map_keys: tuple[str, ...] = ()

    def _openapi(self) -> JsonDict:
        rendered: JsonDict = {"type": "array"}
        if self.min_items is not None:
            rendered["minItems"] = self.min_items
        rendered["maxItems"] = self.max_items
        rendered["items"] = self.items.openapi()
        rendered["x-kubernetes-list-type"] = self.list_type
        if self.map_keys:
            rendered["x-kubernetes-list-map-keys"] = list(self.map_keys)
        return rendered

    def _parse(self, value: Any, path: str) -> Any:
        if not isinstance(value, list | tuple):
            raise SpecError(path, f"must be a list (got {describe(value)})")
        if self.min_items is not None and len(value) < self.min_items:
            raise SpecError(path, f"must have at least {self.min_items} item(s) (got {len(value)})")
        if len(value) > self.max_items:
            raise SpecError(path, f"must have at most {self.max_items} items (got {len(value)})")
        parsed = tuple(self.items.parse(item, join_path(path, i)) for i, item in enumerate(value))
        self._check_unique(value, path)
        return parsed

    def _check_unique(self, value: Sequence[Any], path: str) -> None:
        if self.list_type == "atomic":
            return
        seen: list[Any] = []
        for index, item in enumerate(value):
            key = tuple(item.get(k) for k in self.map_keys) if self.map_keys else item
            if key in seen:
                if self.map_keys:
                    pairs = zip(self.map_keys, key, strict=True)
                    shown = " and ".join(f"{k} {describe(v)}" for k, v in pairs)
                else:
                    shown = describe(item)
                raise SpecError(
                    join_path(path, index), f"repeats {shown}: each item must be unique"
                )
            seen.append(key)

    def dump(self, value: Any) -> Any:
        return [self.items.dump(item) for item in value]


@dataclass(frozen=True, kw_only=True)
class StringMap(Node):
    """An object of string keys to values of one schema (``additionalProperties``)."""

    values: Node
    max_properties: int

    def _openapi(self) -> JsonDict:
        return {
            "type": "object",
            "maxProperties": self.max_properties,
            "additionalProperties": self.values.openapi(),
        }

    def _parse(self, value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            raise SpecError(path, f"must be an object (got {describe(value)})")
        if len(value) > self.max_properties:
            raise SpecError(path, f"must have at most {self.max_properties} entries")
        return {
            str(key): self.values.parse(item, join_path(path, str(key)))
            for key, item in value.items()
        }

    def dump(self, value: Any) -> Any:
        return {key: self.values.dump(item) for key, item in value.items()}


@dataclass(frozen=True, kw_only=True)
class FreeForm(Node):
    """Any JSON object, kept as given (``x-kubernetes-preserve-unknown-fields``)."""

    def _openapi(self) -> JsonDict:
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

    def _parse(self, value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            raise SpecError(path, f"must be an object (got {describe(value)})")
        copied: JsonDict = json.loads(json.dumps(value))
        return copied

    def dump(self, value: Any) -> Any:
        dumped: JsonDict = json.loads(json.dumps(value))
        return dumped
