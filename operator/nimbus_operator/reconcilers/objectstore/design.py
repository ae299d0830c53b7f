"""From an ObjectStore and the cluster's StoragePolicies to the store's ``StoreDesign``.

Policies: every valid StoragePolicy the store has enough nodes for (a policy of N devices per
partition needs N storage nodes); none declared means one implicit policy, ``default``, of
``min(3, nodes)`` replicas. The default policy is the one marked default (else the first by
name); the catalog and bucket indexes live on the default policy's ring when it is replicated,
else on the first replicated one. Each policy keeps the node port it was first given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nimbus_operator.errors import InvalidSpec
from nimbus_operator.models.objectstore import ObjectStore
from nimbus_operator.models.storagepolicy import StoragePolicy
from nimbus_operator.render.store_design import (
    NODE_PORT_BASE,
    PolicyDesign,
    Resources,
    StoreDesign,
)
from nimbus_operator.settings import OperatorSettings

IMPLICIT_POLICY = "default"
IMPLICIT_REPLICAS = 3


@dataclass(frozen=True)
class PolicyChoice:
    policies: tuple[PolicyDesign, ...]
    default: str
    metadata: str
    unplaceable: tuple[str, ...]
    """Messages for policies the store cannot serve yet (too few nodes)."""


def _resources(requirements: object | None) -> Resources:
    if requirements is None:
        return Resources()
    requests = getattr(requirements, "requests", None) or {}
    limits = getattr(requirements, "limits", None) or {}
    return Resources(tuple(sorted(requests.items())), tuple(sorted(limits.items())))


def _devices(policy: StoragePolicy) -> tuple[int, tuple[int, int] | None]:
    coding = policy.spec.erasure_coding
    if coding is not None:
        return coding.data + coding.parity, (coding.data, coding.parity)
    return int(policy.spec.replicas or 1), None


def choose_policies(
    policies: list[StoragePolicy], node_count: int, ports: Mapping[str, int]
) -> PolicyChoice:
    taken = set(ports.values())

    def port_for(name: str) -> int:
        if name in ports:
            return ports[name]
        port = NODE_PORT_BASE
        while port in taken:
            port += 1
        taken.add(port)
        return port

    if not policies:
        replicas = min(IMPLICIT_REPLICAS, node_count)
        implicit = PolicyDesign(IMPLICIT_POLICY, replicas, port_for(IMPLICIT_POLICY))
        return PolicyChoice((implicit,), IMPLICIT_POLICY, IMPLICIT_POLICY, ())
    chosen: list[PolicyDesign] = []
    unplaceable: list[str] = []
    for policy in sorted(policies, key=lambda p: p.metadata.name):
        name = policy.metadata.name
        devices, erasure = _devices(policy)
        if devices > node_count:
            unplaceable.append(
                f"StoragePolicy {name} needs {devices} storage nodes and the store has "
                f"{node_count}: raise spec.nodes.count to serve it"
            )
            continue
        chosen.append(PolicyDesign(name, devices, port_for(name), erasure))
    if not chosen:
        raise InvalidSpec(
            "no StoragePolicy fits this store: " + "; ".join(unplaceable),
            reason="NoUsablePolicy",
        )
    marked = [p.metadata.name for p in policies if p.spec.default]
    names = [p.name for p in chosen]
    default = next((name for name in marked if name in names), names[0])
    replicated = [p.name for p in chosen if p.erasure is None]
    if not replicated:
        raise InvalidSpec(
            "every StoragePolicy this store serves is erasure coded; the catalog and bucket "
            "indexes need a replicated one: create a StoragePolicy with spec.replicas",
            reason="NoReplicatedPolicy",
        )
    metadata = default if default in replicated else replicated[0]
    return PolicyChoice(tuple(chosen), default, metadata, tuple(unplaceable))


def store_design(
    store: ObjectStore, uid: str, choice: PolicyChoice, settings: OperatorSettings
) -> StoreDesign:
    spec = store.spec
    return StoreDesign(
        name=store.metadata.name,
        namespace=store.metadata.namespace or "default",
        uid=uid,
        image=spec.image or settings.image,
        image_pull_policy=settings.image_pull_policy,
        region=spec.region,
        node_count=spec.nodes.count,
        volume_size=spec.nodes.volume_size,
        storage_class=spec.nodes.storage_class_name,
        zones=tuple(spec.nodes.zones or ()),
        node_resources=_resources(spec.nodes.resources),
        policies=choice.policies,
        default_policy=choice.default,
        metadata_policy=choice.metadata,
        gateway_replicas=spec.gateway.replicas,
        gateway_port=spec.gateway.port,
        gateway_service_type=str(spec.gateway.service_type),
        gateway_resources=_resources(spec.gateway.resources),
    )
