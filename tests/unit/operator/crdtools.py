"""Helpers for the CRD tests: where the CRDs are, loading them, walking their schemas."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from nimbus_operator.models.crdgen import KINDS, file_name
from nimbus_operator.models.kind import ResourceKind

REPO = Path(__file__).resolve().parents[3]
CRD_DIR = REPO / "crds"


def load_crd(kind: ResourceKind) -> dict[str, Any]:
    """The committed CRD of a kind, as a dict."""
    loaded: dict[str, Any] = yaml.safe_load((CRD_DIR / file_name(kind)).read_text())
    return loaded


def root_schema(kind: ResourceKind) -> dict[str, Any]:
    """The committed openAPIV3Schema of a kind."""
    schema: dict[str, Any] = load_crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def section_schema(kind: ResourceKind, section: str) -> dict[str, Any]:
    """The committed schema of ``spec`` or ``status``."""
    schema: dict[str, Any] = root_schema(kind)["properties"][section]
    return schema


def schema_nodes(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path (``nodes.count``, ``bucketClaims[].accessMode``)."""
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from schema_nodes(child, f"{path}.{name}" if path else name)
    if "items" in schema:
        yield from schema_nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from schema_nodes(schema["additionalProperties"], f"{path}{{}}")


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Default a JSON value as the API server does: absent properties with a default get it,
    then defaulting goes on inside (so ``default: {}`` brings the nested defaults)."""
    value = copy.deepcopy(value)
    if isinstance(value, dict) and "properties" in schema:
        for name, child in schema["properties"].items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                value[name] = apply_defaults(child, value[name])
    elif isinstance(value, list) and "items" in schema:
        value = [apply_defaults(schema["items"], item) for item in value]
    return value


__all__ = [
    "CRD_DIR",
    "KINDS",
    "REPO",
    "apply_defaults",
    "load_crd",
    "root_schema",
    "schema_nodes",
    "section_schema",
]
