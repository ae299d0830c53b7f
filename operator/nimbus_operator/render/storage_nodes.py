"""The store's storage nodes: a StatefulSet (a PVC per pod, spread over zones) and the headless
Service that gives each pod a stable DNS name, which is how the rings address them (pure).

Every pod runs one ``nimbus-storage node`` container per storage policy, each on the policy's
port, each with its own data directory on the pod's volume. An init container waits until the
operator has put the pod into every ring (the operator places pods by the zone of the node the
scheduler chose, so the rings can only be built once the pods are scheduled).
"""

from __future__ import annotations

from typing import Any

from nimbus_operator.render.meta import field_env, object_meta, secret_env
from nimbus_operator.render.store_design import (
    DATA_MOUNT,
    RINGS_MOUNT,
    PolicyDesign,
    StoreDesign,
)
from nimbus_operator.render.store_secrets import CLUSTER_TOKEN

COMPONENT = "storage-node"
ZONE_LABEL = "topology.kubernetes.io/zone"
POD_DNS = "$(POD_NAME).{service}.{namespace}.svc"
HEALTH_PATH = "/_nimbus/healthz"
TERMINATION_GRACE_SECONDS = 30


def build_nodes_service(design: StoreDesign) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(design, design.nodes_service, COMPONENT),
        "spec": {
            "clusterIP": "None",
            # Peers must find a node before it is ready (replication, ring placement).
            "publishNotReadyAddresses": True,
            "selector": design.selector(COMPONENT),
            "ports": [
                {"name": f"node-{policy.port}", "port": policy.port, "targetPort": policy.port}
                for policy in design.policies
            ],
        },
    }


def _node_address(design: StoreDesign, policy: PolicyDesign) -> str:
    host = POD_DNS.format(service=design.nodes_service, namespace=design.namespace)
    return f"{host}:{policy.port}"


def _node_container(design: StoreDesign, policy: PolicyDesign) -> dict[str, Any]:
    command = [
        "nimbus-storage",
        "node",
        f"--data={DATA_MOUNT}/{policy.name}",
        f"--listen=$(POD_IP):{policy.port}",
        f"--node={_node_address(design, policy)}",
        f"--ring={policy.ring_path}",
        "--create-devices",
    ]
    if policy.erasure:
        command += ["--no-replicator", "--reconstructor"]
    probe = {"httpGet": {"path": HEALTH_PATH, "port": policy.port}}
    return {
        "name": f"node-{policy.name}",
        "image": design.image,
        "imagePullPolicy": design.image_pull_policy,
        "command": command,
        "env": _env(design),
        "ports": [{"name": f"node-{policy.port}", "containerPort": policy.port}],
        "readinessProbe": {**probe, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 10, "failureThreshold": 6},
        "resources": design.node_resources.as_dict(),
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_MOUNT},
            {"name": "rings", "mountPath": RINGS_MOUNT, "readOnly": True},
        ],
    }


def _env(design: StoreDesign) -> list[dict[str, Any]]:
    return [
        field_env("POD_NAME", "metadata.name"),
        field_env("POD_IP", "status.podIP"),
        secret_env("NIMBUS_CLUSTER_TOKEN", design.admin_secret, CLUSTER_TOKEN),
        {"name": "NIMBUS_LOG_FORMAT", "value": design.log_format},
    ]


def _wait_for_rings(design: StoreDesign) -> dict[str, Any]:
    waits = [
        f"nimbus-storage ring wait {policy.ring_path} --node {_node_address(design, policy)}"
        for policy in design.policies
    ]
    return {
        "name": "wait-for-rings",
        "image": design.image,
        "imagePullPolicy": design.image_pull_policy,
        "command": ["sh", "-c", " && ".join(waits)],
        "env": [field_env("POD_NAME", "metadata.name")],
        "volumeMounts": [{"name": "rings", "mountPath": RINGS_MOUNT, "readOnly": True}],
    }


def _affinity(design: StoreDesign) -> dict[str, Any]:
    if not design.zones:
        return {}
    term = {
        "matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": list(design.zones)}]
    }
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
        }
    }


def build_node_statefulset(design: StoreDesign) -> dict[str, Any]:
    selector = design.selector(COMPONENT)
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": design.volume_size}},
    }
    if design.storage_class:
        claim_spec["storageClassName"] = design.storage_class
    pod_spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "initContainers": [_wait_for_rings(design)],
        "containers": [_node_container(design, policy) for policy in design.policies],
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": ZONE_LABEL,
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": selector},
            },
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector},
            },
        ],
        "volumes": [
            {"name": "rings", "configMap": {"name": design.rings_configmap, "optional": True}}
        ],
    }
    affinity = _affinity(design)
    if affinity:
        pod_spec["affinity"] = affinity
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(design, design.nodes_name, COMPONENT),
        "spec": {
            "serviceName": design.nodes_service,
            "replicas": design.node_count,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": design.labels(COMPONENT)},
                "spec": pod_spec,
            },
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data", "labels": design.labels(COMPONENT)},
                    "spec": claim_spec,
                }
            ],
            # Deleting the store keeps the data; a node removed by a scale-down was drained
            # first, and its stale copies must not come back with a later scale-up.
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Delete",
            },
        },
    }


def build_node_disruption_budget(design: StoreDesign) -> dict[str, Any]:
    """At most one storage node down by choice (drains, upgrades): quorum needs the rest."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": object_meta(design, f"{design.nodes_name}", COMPONENT),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": design.selector(COMPONENT)}},
    }
