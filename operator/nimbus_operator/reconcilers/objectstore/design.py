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
    """Messages for policies the store cannot serve as declared (too few nodes, changed or
    deleted since the store first served them)."""

    def policy_ports(self) -> dict[str, int]:
        return {policy.name: policy.port for policy in self.policies}


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
    policies: list[StoragePolicy],
    node_count: int,
    ports: Mapping[str, int],
    served: tuple[PolicyDesign, ...] = (),
    metadata: str | None = None,
) -> PolicyChoice:
    """Every policy served before stays served as it was (its data is on these nodes: a
    StoragePolicy deleted, changed or broken since must not unmount it, nor must a new one
    replace the implicit default); new StoragePolicies join when the store has enough nodes."""
    taken = set(ports.values()) | {p.port for p in served}

    def port_for(name: str) -> int:
        if name in ports:
            return ports[name]
        port = NODE_PORT_BASE
        while port in taken:
            port += 1
        taken.add(port)
        return port

    chosen: dict[str, PolicyDesign] = {p.name: p for p in served}
    unplaceable: list[str] = []
    declared = {p.metadata.name: p for p in policies}
    for name, policy in sorted(declared.items()):
        devices, erasure = _devices(policy)
        if name in chosen:
            kept = chosen[name]
            if (kept.replicas, kept.erasure) != (devices, erasure):
                unplaceable.append(
                    f"StoragePolicy {name} now asks for {policy.spec.durability} but this store "
                    "keeps serving it as it was created (its data is laid out that way)"
                )
            continue
        if devices > node_count:
            unplaceable.append(
                f"StoragePolicy {name} needs {devices} storage nodes and the store has "
                f"{node_count}: raise spec.nodes.count to serve it"
            )
            continue
        chosen[name] = PolicyDesign(name, devices, port_for(name), erasure)
    for name in sorted(set(chosen) - set(declared) - {IMPLICIT_POLICY}):
        unplaceable.append(
            f"StoragePolicy {name} is gone but this store still serves it: its buckets' data "
            "is there"
        )
    if not chosen:
        if policies:
            raise InvalidSpec(
                "no StoragePolicy fits this store: " + "; ".join(unplaceable),
                reason="NoUsablePolicy",
            )
        replicas = min(IMPLICIT_REPLICAS, node_count)
        chosen[IMPLICIT_POLICY] = PolicyDesign(IMPLICIT_POLICY, replicas, port_for(IMPLICIT_POLICY))
    names = sorted(chosen)
    marked = [name for name, p in declared.items() if p.spec.default and name in chosen]
    default = marked[0] if marked else (IMPLICIT_POLICY if IMPLICIT_POLICY in chosen else names[0])
    replicated = [name for name in names if chosen[name].erasure is None]
    if metadata in chosen:
        return PolicyChoice(tuple(chosen[n] for n in names), default, metadata, tuple(unplaceable))
    if not replicated:
        raise InvalidSpec(
            "every StoragePolicy this store serves is erasure coded; the catalog and bucket "
            "indexes need a replicated one: create a StoragePolicy with spec.replicas",
            reason="NoReplicatedPolicy",
        )
    chosen_metadata = default if default in replicated else replicated[0]
    return PolicyChoice(
        tuple(chosen[n] for n in names), default, chosen_metadata, tuple(unplaceable)
    )


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
        log_format=settings.log_format,
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
        gateway_port=spec.gateway.service_port,
        gateway_service_type=str(spec.gateway.service_type),
        gateway_resources=_resources(spec.gateway.resources),
        sse_key_secret=spec.encryption.key_secret_name if spec.encryption else None,
        tls_secret=spec.gateway.tls.secret_name if spec.gateway.tls else None,
        trust_forwarded_proto=spec.gateway.trust_forwarded_proto,
    )
