"""kwok's configuration and the fake bare-metal nodes it keeps Ready.

The stage YAMLs are committed under ``e2e/cluster/kwok-stages/`` (copied unchanged from
``sigs.k8s.io/kwok@v0.8.0`` ``kustomize/stage/``): node-initialize and node-heartbeat-with-lease.
``up`` concatenates them into the run's ``kwok.yaml``. kwok keeps the nodes Ready; the node
agent runs their pods.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from e2e.cluster.catalog import KUBERNETES_VERSION, KWOK_STAGES_DIR
from e2e.cluster.components import KWOK_NODE_ANNOTATION, KWOK_NODE_ANNOTATION_VALUE

# Node stages only: pods are the node agent's (e2e/nodeagent), not kwok's.
STAGE_FILES = ("node-initialize.yaml", "node-heartbeat-with-lease.yaml")
REGION = "nimbus-local"
INSTANCE_TYPE = "bm.standard.32c128g"
ZONES = ("a", "b", "c")


@dataclass(frozen=True)
class NodeShape:
    """Capacity of one fake bare-metal node; allocatable is what the kubelet would leave."""

    cpu: int = 32
    memory_gib: int = 128
    pods: int = 110
    ephemeral_storage_gib: int = 960
    reserved_cpu_millis: int = 500
    reserved_memory_gib: int = 2
    reserved_storage_gib: int = 60


def write_kwok_config(path: Path, stages_dir: Path = KWOK_STAGES_DIR) -> Path:
    """Concatenate the stage YAMLs into one multi-document kwok config file."""
    documents = [(stages_dir / name).read_text().strip() for name in STAGE_FILES]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n---\n".join(documents) + "\n")
    return path


def node_name(zone: str) -> str:
    return f"nimbus-node-{zone}"


def node_manifest(zone: str, index: int, shape: NodeShape = NodeShape()) -> dict[str, object]:
    """A Node that kwok manages: zone/region/hostname/instance-type labels, real-looking size.

    Each node gets its own loopback InternalIP (127.2.0.<index+1>), outside the pod CIDR.
    """
    name = node_name(zone)
    capacity = {
        "cpu": str(shape.cpu),
        "memory": f"{shape.memory_gib}Gi",
        "pods": str(shape.pods),
        "ephemeral-storage": f"{shape.ephemeral_storage_gib}Gi",
    }
    allocatable = {
        "cpu": f"{shape.cpu * 1000 - shape.reserved_cpu_millis}m",
        "memory": f"{shape.memory_gib - shape.reserved_memory_gib}Gi",
        "pods": str(shape.pods),
        "ephemeral-storage": f"{shape.ephemeral_storage_gib - shape.reserved_storage_gib}Gi",
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                KWOK_NODE_ANNOTATION: KWOK_NODE_ANNOTATION_VALUE,
                "node.alpha.kubernetes.io/ttl": "0",
            },
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": INSTANCE_TYPE,
                "topology.kubernetes.io/region": REGION,
                "topology.kubernetes.io/zone": zone,
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "addresses": [
                {"type": "InternalIP", "address": f"127.2.0.{index + 1}"},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "osImage": "Nimbus bare metal (kwok)",
                "kubeletVersion": KUBERNETES_VERSION,
            },
        },
    }


def node_manifests(zones: tuple[str, ...] = ZONES) -> list[dict[str, object]]:
    return [node_manifest(zone, index) for index, zone in enumerate(zones)]
