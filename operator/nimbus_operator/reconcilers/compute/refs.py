"""Who uses what: the VirtualServers that name a Flavor, an Image, a KeyPair or a ServerGroup.

A Flavor, Image or KeyPair in use cannot be deleted (as Nova refuses to delete a flavor or
image a server was built from while it exists): its deletion waits, its status lists the users.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.constants import API_VERSION, COMPUTE_GROUP

COMPUTE_API = f"{COMPUTE_GROUP}/{API_VERSION}"
SHOWN_USERS = 10


def servers(kube: Kube, namespace: str | None = None) -> list[dict[str, Any]]:
    return kube.list(COMPUTE_API, "VirtualServer", namespace)


def _users(
    kube: Kube, namespace: str | None, uses: Callable[[dict[str, Any], str], bool]
) -> list[str]:
    found = []
    for server in servers(kube, namespace):
        metadata = server["metadata"]
        if uses(server.get("spec") or {}, str(metadata["namespace"])):
            found.append(f"{metadata['namespace']}/{metadata['name']}")
    return sorted(found)


def flavor_users(kube: Kube, name: str) -> list[str]:
    return _users(kube, None, lambda spec, _ns: spec.get("flavor") == name)


def image_users(kube: Kube, namespace: str, name: str, public: bool) -> list[str]:
    def uses(spec: dict[str, Any], server_namespace: str) -> bool:
        image = spec.get("image") or {}
        return image.get("name") == name and (image.get("namespace") or server_namespace) == (
            namespace
        )

    return _users(kube, None if public else namespace, uses)


def keypair_users(kube: Kube, namespace: str, name: str) -> list[str]:
    return _users(kube, namespace, lambda spec, _ns: name in (spec.get("keyPairs") or []))


def group_members(kube: Kube, namespace: str, name: str) -> list[str]:
    members = _users(kube, namespace, lambda spec, _ns: spec.get("serverGroup") == name)
    return [member.partition("/")[2] for member in members]


def in_use_message(kind: str, name: str, users: list[str]) -> str:
    shown = ", ".join(users[:SHOWN_USERS])
    more = f" and {len(users) - SHOWN_USERS} more" if len(users) > SHOWN_USERS else ""
    return (
        f"{kind} {name} is used by VirtualServers {shown}{more}: delete them (or move them to "
        f"another {kind}) first; the {kind} is deleted as soon as none uses it"
    )


def users_field(users: list[str]) -> str:
    """A one-line list for a condition message."""
    if not users:
        return "no VirtualServer uses it"
    return f"used by {len(users)} VirtualServer{'s' if len(users) != 1 else ''}"
