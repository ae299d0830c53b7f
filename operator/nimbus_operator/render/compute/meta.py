"""Metadata of the objects a VirtualServer owns: the owner reference and labels (pure)."""

from __future__ import annotations

from typing import Any

from nimbus_operator.constants import API_VERSION, COMPUTE_GROUP, MANAGED_BY, MANAGED_BY_LABEL
from nimbus_operator.render.compute.design import ServerDesign
from nimbus_operator.render.compute.names import DISK_LABEL, DISK_OF_LABEL, SERVER_LABEL


def owner_reference(design: ServerDesign) -> dict[str, Any]:
    """The VirtualServer as the controller of an object: deleting it deletes the object."""
    return {
        "apiVersion": f"{COMPUTE_GROUP}/{API_VERSION}",
        "kind": "VirtualServer",
        "name": design.name,
        "uid": design.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_meta(design: ServerDesign, name: str) -> dict[str, Any]:
    """Metadata of a Secret or Service the server owns: managed-by and server labels."""
    return {
        "name": name,
        "namespace": design.namespace,
        "labels": {MANAGED_BY_LABEL: MANAGED_BY, SERVER_LABEL: design.name},
        "ownerReferences": [owner_reference(design)],
    }


def disk_labels(design: ServerDesign, disk: str) -> dict[str, str]:
    """Labels of a DataVolume of the server (not ``SERVER_LABEL``: see `names`)."""
    return {MANAGED_BY_LABEL: MANAGED_BY, DISK_OF_LABEL: design.name, DISK_LABEL: disk}
