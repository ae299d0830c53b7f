"""The StoragePolicy reconciler: one default at most, never deleted while Buckets use it.

Stores pick policies up on their own resync (a policy becomes a ring and a node port in every
ObjectStore with enough nodes for it); this reconciler only judges the policy itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import InvalidSpec
from nimbus_operator.models.storagepolicy import StoragePolicy
from nimbus_operator.reconcilers.status import ConditionTuple

STORAGE_API = "storage.nimbus.dev/v1alpha1"


@dataclass(frozen=True)
class PolicyReport:
    phase: str
    fields: dict[str, Any]
    conditions: list[ConditionTuple]


def users(kube: Kube, name: str) -> list[str]:
    """``namespace/name`` of every Bucket whose data is in policy ``name``."""
    found = []
    for bucket in kube.list(STORAGE_API, "Bucket"):
        chosen = (bucket.get("spec") or {}).get("storagePolicy") or (
            bucket.get("status") or {}
        ).get("storagePolicy")
        if chosen == name:
            metadata = bucket["metadata"]
            found.append(f"{metadata['namespace']}/{metadata['name']}")
    return sorted(found)


def _created(body: dict[str, Any]) -> tuple[str, str]:
    metadata = body["metadata"]
    return str(metadata.get("creationTimestamp") or ""), str(metadata["name"])


def reconcile_policy(kube: Kube, body: dict[str, Any]) -> PolicyReport:
    policy = StoragePolicy.from_body(body)
    if policy.spec.default:
        others = [
            other
            for other in kube.list(STORAGE_API, "StoragePolicy")
            if (other.get("spec") or {}).get("default")
            and other["metadata"]["name"] != policy.metadata.name
        ]
        older = [other for other in others if _created(other) < _created(body)]
        if older:
            first = older[0]["metadata"]["name"]
            raise InvalidSpec(
                f"StoragePolicy {first} is already the default: set spec.default to false on "
                f"this one or on {first} (there can be only one default)",
                reason="SecondDefault",
            )
    fields = {
        "durability": policy.spec.durability,
        "inUseBy": len(users(kube, policy.metadata.name)),
    }
    message = f"{policy.spec.durability}" + (" (the default)" if policy.spec.default else "")
    return PolicyReport(
        "Ready",
        fields,
        [
            ("Ready", True, "Accepted", f"Buckets can use this policy: {message}."),
            ("Progressing", False, "Accepted", "Nothing left to do."),
        ],
    )
