"""Flavor, KeyPair and ServerGroup: definitions servers refer to. Their reconcile checks the
spec, counts users and reports them; nothing else exists to converge."""

from __future__ import annotations

from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.models.compute.flavor import Flavor
from nimbus_operator.models.compute.keypair import KeyPair
from nimbus_operator.models.compute.servergroup import ServerGroup
from nimbus_operator.reconcilers.compute.refs import (
    flavor_users,
    group_members,
    keypair_users,
    users_field,
)
from nimbus_operator.reconcilers.status import Report, ready


def reconcile_flavor(kube: Kube, body: dict[str, Any]) -> Report:
    flavor = Flavor.from_body(body)
    spec = flavor.spec
    users = flavor_users(kube, flavor.metadata.name)
    size = f"{spec.vcpus} vCPU, {spec.memory} memory, {spec.root_disk} root disk"
    return Report(
        "Ready", {"servers": len(users)}, ready(f"{size}; {users_field(users)}.", "Accepted")
    )


def reconcile_keypair(kube: Kube, body: dict[str, Any]) -> Report:
    keypair = KeyPair.from_body(body)
    key = keypair.spec.key
    namespace = str(body["metadata"]["namespace"])
    users = keypair_users(kube, namespace, keypair.metadata.name)
    fields: dict[str, Any] = {
        "fingerprint": key.fingerprint,
        "md5Fingerprint": key.md5_fingerprint,
        "keyType": key.family,
        "bits": key.bits,
    }
    message = f"{key.family} {key.fingerprint}; {users_field(users)}."
    return Report("Ready", fields, ready(message, "Accepted"))


def reconcile_server_group(kube: Kube, body: dict[str, Any]) -> Report:
    group = ServerGroup.from_body(body)
    namespace = str(body["metadata"]["namespace"])
    members = group_members(kube, namespace, group.metadata.name)
    policy = group.spec.policy.value
    limit = f", at most {group.spec.max_per_host} per host" if group.spec.max_per_host else ""
    message = f"{policy}{limit}; {len(members)} member{'s' if len(members) != 1 else ''}."
    return Report(
        "Ready", {"members": members, "memberCount": len(members)}, ready(message, "Accepted")
    )
