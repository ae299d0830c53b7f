"""Where the store's storage-node pods really run, and the rings that follows from it.

A pod joins the rings once the scheduler has bound it to a Kubernetes node: its devices take
that node's zone (``topology.kubernetes.io/zone``; a node without one is a zone of its own).
Builder states live in the store's ring-builders ConfigMap so every rebalance starts from the
last one, across operator restarts; the rings themselves go to the rings ConfigMap, which the
pods mount and reload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nimbus_operator.clients.kube import Kube
from nimbus_operator.clients.nodes import held_items
from nimbus_operator.errors import InvalidSpec, RetryLater
from nimbus_operator.models.objectstore import ObjectStore
from nimbus_operator.render.rings import RingPlan, WantedDevice, plan_ring
from nimbus_operator.render.storage_nodes import COMPONENT as NODE_COMPONENT
from nimbus_operator.render.storage_nodes import ZONE_LABEL
from nimbus_operator.render.store_design import PolicyDesign, StoreDesign
from nimbus_operator.render.store_secrets import (
    PORTS_KEY,
    SERVED_KEY,
    build_builders_configmap,
    build_rings_configmap,
)


@dataclass(frozen=True)
class Placement:
    plans: dict[str, RingPlan]
    placed_pods: int
    events: tuple[tuple[str, str, str], ...]
    draining: dict[str, int]
    """Pods leaving the store that are still in a ring -> items they still hold (-1: unknown)."""


@dataclass(frozen=True)
class Saved:
    """What the operator kept of a store: ring builders, node ports, the policies served."""

    builders: dict[str, str]
    ports: dict[str, int]
    served: tuple[PolicyDesign, ...]
    metadata: str | None


def saved_state(kube: Kube, namespace: str, builders_name: str) -> Saved:
    found = kube.get("v1", "ConfigMap", builders_name, namespace) or {}
    data: dict[str, str] = dict(found.get("data") or {})
    try:
        ports = {str(k): int(v) for k, v in json.loads(data.pop(PORTS_KEY, "{}")).items()}
        served_doc = json.loads(data.pop(SERVED_KEY, "{}"))
        served = tuple(
            PolicyDesign(
                str(p["name"]),
                int(p["replicas"]),
                int(p["port"]),
                (int(p["erasure"][0]), int(p["erasure"][1])) if p.get("erasure") else None,
            )
            for p in served_doc.get("policies") or []
        )
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidSpec(
            f"ConfigMap {namespace}/{builders_name} (the operator's record of this store's "
            f"rings) is damaged: {error}; restore it from a backup, it cannot be rebuilt",
            reason="RingRecordDamaged",
        ) from error
    builders = {
        key.removesuffix(".builder.json"): value
        for key, value in data.items()
        if key.endswith(".builder.json")
    }
    return Saved(builders, ports, served, served_doc.get("metadata"))


def _zones(kube: Kube) -> dict[str, str]:
    zones = {}
    for node in kube.list("v1", "Node"):
        name = node["metadata"]["name"]
        zones[name] = (node["metadata"].get("labels") or {}).get(ZONE_LABEL, name)
    return zones


def placed_pods(kube: Kube, design: StoreDesign) -> list[tuple[str, str]]:
    """(pod name, zone) of every storage-node pod bound to a node and not being deleted."""
    selector = ",".join(f"{k}={v}" for k, v in design.selector(NODE_COMPONENT).items())
    pods = kube.list("v1", "Pod", design.namespace, label_selector=selector)
    zones = _zones(kube)
    placed = []
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and not pod["metadata"].get("deletionTimestamp"):
            placed.append((pod["metadata"]["name"], zones.get(node, node)))
    return sorted(placed)


def pod_ordinal(design: StoreDesign, pod: str) -> int:
    return int(pod.removeprefix(f"{design.nodes_name}-"))


def _holdings(design: StoreDesign, pods: list[str], policies: list[PolicyDesign]) -> dict[str, int]:
    held = {}
    for pod in pods:
        try:
            held[pod] = sum(held_items(design.node_address(pod, p)) for p in policies)
        except RetryLater:
            held[pod] = -1
    return held


def place(
    kube: Kube,
    store: ObjectStore,
    design: StoreDesign,
    builders: dict[str, str],
    ports: dict[str, int],
    *,
    staying: int,
) -> Placement:
    """Rings for the pods that stay (ordinals below ``staying``); pods above it are drained,
    and removed from a ring once they hold nothing at all."""
    pods = [
        (pod, zone) for pod, zone in placed_pods(kube, design) if pod_ordinal(design, pod) < staying
    ]
    leaving = [f"{design.nodes_name}-{i}" for i in range(staying, design.node_count)]
    held = _holdings(design, leaving, list(design.policies))
    plans: dict[str, RingPlan] = {}
    events: list[tuple[str, str, str]] = []
    for policy in design.policies:
        wanted = [WantedDevice(design.node_address(pod, policy), zone) for pod, zone in pods]
        keep = [design.node_address(f"{design.nodes_name}-{i}", policy) for i in range(staying)]
        empty = [design.node_address(pod, policy) for pod in leaving if held[pod] == 0]
        plan = plan_ring(
            builders.get(policy.name),
            part_power=store.spec.part_power,
            replicas=policy.replicas,
            wanted=wanted,
            keep=keep,
            removable=empty,
        )
        plans[policy.name] = plan
        if plan.changed and plan.ring:
            events.append(
                (
                    "Normal",
                    "RingRebalanced",
                    f"Ring of policy {policy.name} is at generation {plan.generation} with "
                    f"{len(wanted)} storage nodes",
                )
            )
    all_ports = dict(ports)
    all_ports.update({policy.name: policy.port for policy in design.policies})
    all_builders = dict(builders)
    all_builders.update({name: plan.builder for name, plan in plans.items()})
    # Builders first: a ring is never published that the operator could not rebuild from.
    kube.apply(build_builders_configmap(design, all_builders, all_ports))
    kube.apply(build_rings_configmap(design, {name: plan.ring for name, plan in plans.items()}))
    in_rings = {node for plan in plans.values() for node in plan.draining}
    draining = {
        pod: held[pod]
        for pod in leaving
        if any(design.node_address(pod, p) in in_rings for p in design.policies)
    }
    return Placement(plans, len(pods), tuple(events), draining)


def ring_problems(placement: Placement) -> list[str]:
    return [
        f"policy {name}: {plan.problem}" for name, plan in placement.plans.items() if plan.problem
    ]


def as_generations(placement: Placement) -> dict[str, int]:
    return {name: plan.generation for name, plan in placement.plans.items() if plan.ring}
