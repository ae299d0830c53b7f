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
from nimbus_operator.models.objectstore import ObjectStore
from nimbus_operator.render.rings import RingPlan, WantedDevice, plan_ring
from nimbus_operator.render.storage_nodes import COMPONENT as NODE_COMPONENT
from nimbus_operator.render.storage_nodes import ZONE_LABEL
from nimbus_operator.render.store_design import StoreDesign
from nimbus_operator.render.store_secrets import (
    PORTS_KEY,
    build_builders_configmap,
    build_rings_configmap,
)


@dataclass(frozen=True)
class Placement:
    plans: dict[str, RingPlan]
    placed_pods: int
    events: tuple[tuple[str, str, str], ...]


def saved_state(
    kube: Kube, namespace: str, builders_name: str
) -> tuple[dict[str, str], dict[str, int]]:
    """The builder state of each policy's ring and the node port of each policy."""
    found = kube.get("v1", "ConfigMap", builders_name, namespace) or {}
    data: dict[str, str] = dict(found.get("data") or {})
    ports = {str(k): int(v) for k, v in json.loads(data.pop(PORTS_KEY, "{}")).items()}
    builders = {
        key.removesuffix(".builder.json"): value
        for key, value in data.items()
        if key.endswith(".builder.json")
    }
    return builders, ports


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


def place(
    kube: Kube,
    store: ObjectStore,
    design: StoreDesign,
    builders: dict[str, str],
    ports: dict[str, int],
) -> Placement:
    pods = placed_pods(kube, design)
    plans: dict[str, RingPlan] = {}
    events: list[tuple[str, str, str]] = []
    for policy in design.policies:
        wanted = [WantedDevice(design.node_address(pod, policy), zone) for pod, zone in pods]
        plan = plan_ring(
            builders.get(policy.name),
            part_power=store.spec.part_power,
            replicas=policy.replicas,
            wanted=wanted,
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
    return Placement(plans, len(pods), tuple(events))


def ring_problems(placement: Placement) -> list[str]:
    return [
        f"policy {name}: {plan.problem}" for name, plan in placement.plans.items() if plan.problem
    ]


def as_generations(placement: Placement) -> dict[str, int]:
    return {name: plan.generation for name, plan in placement.plans.items() if plan.ring}
