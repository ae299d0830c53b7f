"""Object metadata shared by the store's renderers: names, labels, the owner reference."""

from __future__ import annotations

from typing import Any

from nimbus_operator.constants import API_VERSION, STORAGE_GROUP
from nimbus_operator.render.store_design import StoreDesign


def owner_reference(design: StoreDesign) -> dict[str, Any]:
    return {
        "apiVersion": f"{STORAGE_GROUP}/{API_VERSION}",
        "kind": "ObjectStore",
        "name": design.name,
        "uid": design.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def object_meta(design: StoreDesign, name: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": design.namespace,
        "labels": design.labels(component),
        "ownerReferences": [owner_reference(design)],
    }


def field_env(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
