"""ConfigMaps and Secrets made for a Bucket or BucketAccess, written only where they are ours.

Server-side apply with forced conflicts would silently take over an object of the same name
that a person or another BucketAccess made; so an existing object is written only when its
controller reference is the owner's uid, and refused otherwise with a message saying so.
"""

from __future__ import annotations

import base64
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import InvalidSpec


def controller_uid(found: dict[str, Any]) -> str | None:
    for reference in found.get("metadata", {}).get("ownerReferences") or []:
        if reference.get("controller"):
            return str(reference.get("uid"))
    return None


def _controller_name(found: dict[str, Any]) -> str:
    for reference in found.get("metadata", {}).get("ownerReferences") or []:
        if reference.get("controller"):
            return f"{reference.get('kind')} {reference.get('name')}"
    return "nobody (it was made by hand)"


def read_owned(
    kube: Kube, kind: str, name: str, namespace: str, *, owner_uid: str, field: str
) -> dict[str, Any] | None:
    """The object, None when absent; ``InvalidSpec`` when it exists but belongs to another
    (``field`` names the spec field that chose the name, for the message)."""
    found = kube.get("v1", kind, name, namespace)
    if found is None:
        return None
    if controller_uid(found) != owner_uid:
        raise InvalidSpec(
            f"{kind} {namespace}/{name} already exists and belongs to {_controller_name(found)}: "
            f"choose another name in {field}, or delete that {kind}",
            reason=f"{kind}NameInUse",
        )
    return found


def apply_owned(kube: Kube, manifest: dict[str, Any], owner_uid: str, field: str) -> None:
    """Apply ``manifest`` unless an object of its name exists that is not the owner's."""
    metadata = manifest["metadata"]
    found = read_owned(
        kube,
        manifest["kind"],
        metadata["name"],
        metadata["namespace"],
        owner_uid=owner_uid,
        field=field,
    )
    apply_if_changed(kube, manifest, found)


def _unchanged(found: dict[str, Any], manifest: dict[str, Any]) -> bool:
    wanted, seen = manifest["metadata"], found.get("metadata") or {}
    labels = seen.get("labels") or {}
    if any(labels.get(key) != value for key, value in (wanted.get("labels") or {}).items()):
        return False
    if controller_uid(found) != controller_uid(manifest):
        return False
    if manifest["kind"] == "Secret":
        return secret_strings(found) == manifest.get("stringData") and found.get(
            "type"
        ) == manifest.get("type")
    return (found.get("data") or {}) == (manifest.get("data") or {})


def apply_if_changed(kube: Kube, manifest: dict[str, Any], found: dict[str, Any] | None) -> bool:
    """Apply ``manifest`` unless ``found`` (its object as read) already is what it says: a
    resync of objects as wanted writes nothing. True when it was applied."""
    if found is not None and _unchanged(found, manifest):
        return False
    kube.apply(manifest)
    return True


def delete_owned(kube: Kube, kind: str, name: str, namespace: str, owner_uid: str) -> bool:
    """Delete the object if it is the owner's; True when something was deleted."""
    found = kube.get("v1", kind, name, namespace)
    if found is None or controller_uid(found) != owner_uid:
        return False
    return kube.delete("v1", kind, name, namespace)


def secret_strings(secret: dict[str, Any] | None) -> dict[str, str]:
    """A Secret's data, decoded."""
    data = (secret or {}).get("data") or {}
    return {key: base64.b64decode(value).decode() for key, value in data.items()}
