"""Reconcile one ObjectStore: read the world, converge it, report what is.

Order matters only for speed (each step is idempotent and safe to rerun): the admin Secret,
the storage nodes (headless Service, StatefulSet, PodDisruptionBudget), the rings (from where
the node pods run), the gateways and their Service (the gateways only once their SSE key Secret
and TLS Secret, when the spec names them, exist), then the status from what all of that
reports. Scaling the store down is not done yet: the StatefulSet keeps its size and a condition
says so, rather than losing the data of the removed nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from nimbus_operator.clients.admin import AdminClient, AdminEndpoint
from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import RetryLater
from nimbus_operator.models.objectstore import ObjectStore
from nimbus_operator.models.quantity import parse_quantity
from nimbus_operator.models.storagepolicy import StoragePolicy
from nimbus_operator.reconcilers.objectstore.credentials import (
    AdminCredentials,
    ensure_admin_secret,
)
from nimbus_operator.reconcilers.objectstore.design import choose_policies, store_design
from nimbus_operator.reconcilers.objectstore.encryption import (
    key_secret_problem,
    watched_key_secret,
)
from nimbus_operator.reconcilers.objectstore.placement import (
    Placement,
    as_generations,
    place,
    ring_problems,
    saved_state,
)
from nimbus_operator.reconcilers.objectstore.secrets import SecretProblem, secret_events
from nimbus_operator.reconcilers.objectstore.tls import (
    GatewayTls,
    gateway_tls,
    watched_tls_secret,
)
from nimbus_operator.render.gateway import build_gateway_deployment, build_gateway_service
from nimbus_operator.render.storage_nodes import (
    build_node_disruption_budget,
    build_node_statefulset,
    build_nodes_service,
)
from nimbus_operator.render.store_design import StoreDesign, builders_configmap_name, nodes_name
from nimbus_operator.settings import OperatorSettings

STORAGE_API = "storage.nimbus.dev/v1alpha1"
Event = tuple[str, str, str]


@dataclass
class StoreReport:
    """What a reconcile found: the status fields and conditions to publish, Events to post."""

    phase: str
    fields: dict[str, Any]
    conditions: list[tuple[str, bool, str, str]]
    """(type, holds, reason, message)"""
    events: list[Event] = field(default_factory=list)


def admin_endpoint(
    design: StoreDesign, credentials: AdminCredentials, ca_pem: str | None = None
) -> AdminEndpoint:
    return AdminEndpoint(
        design.endpoint, credentials.access_key, credentials.secret_key, design.region, ca_pem
    )


def load_policies(kube: Kube) -> list[StoragePolicy]:
    """Every StoragePolicy whose spec parses (a broken one reports it on its own status)."""
    policies = []
    for body in kube.list(STORAGE_API, "StoragePolicy"):
        try:
            policies.append(StoragePolicy.from_body(body))
        except ValueError:
            continue
    return policies


def reconcile_store(
    kube: Kube, body: dict[str, Any], settings: OperatorSettings
) -> tuple[StoreDesign, StoreReport]:
    store = ObjectStore.from_body(body)
    uid = str(body["metadata"]["uid"])
    namespace = store.metadata.namespace or "default"
    saved = saved_state(kube, namespace, builders_configmap_name(store.metadata.name))
    builders, ports = saved.builders, saved.ports
    current = kube.get("apps/v1", "StatefulSet", nodes_name(store.metadata.name), namespace)
    current_nodes = int(((current or {}).get("spec") or {}).get("replicas") or 0)
    node_count = max(store.spec.nodes.count, current_nodes)
    choice = choose_policies(load_policies(kube), node_count, ports, saved.served, saved.metadata)
    design = store_design(store, uid, choice, settings)
    if node_count != design.node_count:
        design = replace(design, node_count=node_count)
    credentials = ensure_admin_secret(kube, design)
    kube.apply(build_nodes_service(design))
    kube.apply(build_node_statefulset(design))
    kube.apply(build_node_disruption_budget(design))
    # Never fewer nodes than the widest policy has devices per partition (3 replicas, k+m).
    needed = max(policy.replicas for policy in design.policies)
    staying = max(store.spec.nodes.count, needed)
    placement = place(kube, store, design, builders, ports, staying=staying)
    problems_now = ring_problems(placement)
    if staying < design.node_count and not placement.draining and not problems_now:
        # Every leaving node handed its data over and left the rings: now the pods may go.
        removed = design.node_count - staying
        design = replace(design, node_count=staying)
        kube.apply(build_node_statefulset(design))
        placement = replace(
            placement,
            events=(
                *placement.events,
                ("Normal", "NodesRemoved", f"{removed} drained storage node(s) removed"),
            ),
        )
    kube.apply(build_gateway_service(design))
    tls = gateway_tls(kube, design)
    if isinstance(tls, GatewayTls):
        design = replace(design, tls_revision=tls.revision)
    problem = key_secret_problem(kube, design)
    if problem is None and isinstance(tls, SecretProblem):
        problem = tls
    if problem is None:
        kube.apply(build_gateway_deployment(design))
        kube.apply(build_gateway_deployment(design, janitor=True))
    report = _report(
        kube,
        needed=needed,
        store=store,
        design=design,
        credentials=credentials,
        placement=placement,
        unplaceable=choice.unplaceable,
        blocked=problem,
        ca_pem=tls.ca_pem if isinstance(tls, GatewayTls) else None,
    )
    previous = (body.get("status") or {}).get("conditions") or []
    watched = (watched_key_secret(design), watched_tls_secret(design))
    report.events += secret_events(problem, previous, watched)
    return design, report


def _ready_count(obj: dict[str, Any] | None, key: str) -> int:
    return int(((obj or {}).get("status") or {}).get(key) or 0)


def _report(
    kube: Kube,
    *,
    needed: int,
    store: ObjectStore,
    design: StoreDesign,
    credentials: AdminCredentials,
    placement: Placement,
    unplaceable: tuple[str, ...],
    blocked: SecretProblem | None = None,
    ca_pem: str | None = None,
) -> StoreReport:
    sts = kube.get("apps/v1", "StatefulSet", design.nodes_name, design.namespace)
    gateway = kube.get("apps/v1", "Deployment", design.gateway_name, design.namespace)
    nodes_ready = _ready_count(sts, "readyReplicas")
    gateways = _ready_count(gateway, "availableReplicas")
    wanted = store.spec.nodes.count
    fields: dict[str, Any] = {
        "endpoint": design.endpoint,
        "nodesReady": f"{nodes_ready}/{design.node_count}",
        "nodesReadyCount": nodes_ready,
        "capacityBytes": design.node_count * parse_quantity(design.volume_size),
        "rings": as_generations(placement),
        "adminSecretName": design.admin_secret,
    }
    events = list(placement.events)
    problems = ring_problems(placement) + list(unplaceable)
    conditions: list[tuple[str, bool, str, str]] = []
    if wanted < needed:
        conditions.append(
            (
                "Degraded",
                True,
                "TooFewNodesForPolicies",
                f"spec.nodes.count is {wanted} but a storage policy of this store places "
                f"{needed} copies or fragments of every object on distinct nodes: the store "
                f"keeps {max(needed, design.node_count)} nodes; raise spec.nodes.count to "
                f"{needed} or more",
            )
        )
    elif problems:
        conditions.append(("Degraded", True, "PoliciesNotServed", "; ".join(problems)))
    else:
        conditions.append(("Degraded", False, "AsPlanned", "Every storage policy is served."))
    serving = nodes_ready >= design.node_count and gateways >= 1 and not ring_problems(placement)
    if serving:
        try:
            usage = AdminClient(admin_endpoint(design, credentials, ca_pem)).usage()
        except RetryLater as error:
            serving = False
            conditions.append(("Ready", False, error.reason, str(error)))
        else:
            fields["usedBytes"] = sum(int(u.get("bytes", 0)) for u in usage.values())
            fields["objects"] = sum(int(u.get("objects", 0)) for u in usage.values())
            fields["buckets"] = len(usage)
            conditions.append(("Ready", True, "Serving", f"S3 is served at {design.endpoint}."))
    else:
        message = (
            f"{nodes_ready} of {design.node_count} storage nodes and {gateways} of "
            f"{design.gateway_replicas} gateways are ready"
        )
        if ring_problems(placement):
            message += "; " + "; ".join(ring_problems(placement))
        conditions.append(("Ready", False, "Starting", message + "."))
    if placement.draining:
        left = ", ".join(
            f"{pod} ({'unreachable' if held < 0 else f'{held} partitions and databases left'})"
            for pod, held in sorted(placement.draining.items())
        )
        progress = (
            True,
            "DrainingNodes",
            f"spec.nodes.count is {wanted}: draining {left}; "
            "the pods are removed once replication has moved everything off them.",
        )
    elif not serving:
        progress = (True, "Converging", "The store is being set up.")
    else:
        progress = (False, "Converged", "Nothing left to do.")
    phase = "Ready" if serving and not placement.draining else "Progressing"
    if blocked is not None:
        # Gateways from before may still serve (with what they mounted); new ones wait.
        conditions = [c for c in conditions if c[0] != "Ready"]
        conditions.append(("Ready", False, blocked.reason, blocked.message))
        if not placement.draining:
            progress = (False, blocked.reason, f'Waiting for Secret "{blocked.secret}".')
        phase = "Degraded" if serving else "Failed"
    conditions.append(("Progressing", *progress))
    return StoreReport(phase, fields, conditions, events)
