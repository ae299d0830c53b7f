"""The Nimbus operator installed as a user installs it: ``helm install`` of helm/nimbus.

The chart's Deployment runs ``nimbus-operator`` in a pod (the node agent runs it from this
checkout's virtualenv, the project image's stand-in) under the chart's service account, so
everything the operator does passes the chart's RBAC.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from e2e.cluster.catalog import BinaryPaths

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "nimbus"
RELEASE = "nimbus"
OPERATOR_NAMESPACE = "nimbus-system"
IMAGE_TAG = "dev"
IMAGE = f"ghcr.io/nimbus-cloud/nimbus:{IMAGE_TAG}"
INSTALL_TIMEOUT = "180s"
LEASE = "nimbus-operator"
"""The Lease the chart's replicas elect their leader with (``<release>-operator``)."""
OPERATOR_LABEL = "app.kubernetes.io/component=operator"
METRICS_PORT = 9090


@dataclass(frozen=True)
class Operator:
    namespace: str
    release: str


def helm(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = BinaryPaths.from_cache().helm
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    return subprocess.run(
        [str(binary), *args], env=env, capture_output=True, text=True, check=False, timeout=600
    )


def install(kubeconfig: Path, *values: str) -> Operator:
    """``helm upgrade --install`` (a reused cluster may have it already), waiting for the pods;
    ``values`` are more ``--set`` assignments."""
    settings = [arg for value in values for arg in ("--set", value)]
    result = helm(
        kubeconfig,
        "upgrade",
        "--install",
        RELEASE,
        str(CHART),
        "--namespace",
        OPERATOR_NAMESPACE,
        "--create-namespace",
        "--set",
        f"image.tag={IMAGE_TAG}",
        "--set",
        "operator.resyncSeconds=3",
        *settings,
        "--wait",
        "--timeout",
        INSTALL_TIMEOUT,
    )
    if result.returncode != 0:
        raise AssertionError(f"helm install failed:\n{result.stdout}\n{result.stderr}")
    return Operator(OPERATOR_NAMESPACE, RELEASE)


@dataclass(frozen=True)
class OperatorPod:
    name: str
    ip: str
    phase: str


def operator_pods(core_v1: client.CoreV1Api) -> list[OperatorPod]:
    """The operator's pods that are not going away."""
    pods = core_v1.list_namespaced_pod(OPERATOR_NAMESPACE, label_selector=OPERATOR_LABEL).items
    found = []
    for pod in pods:
        metadata, status = pod.metadata, pod.status
        if metadata is None or metadata.deletion_timestamp or status is None:
            continue
        found.append(OperatorPod(str(metadata.name), status.pod_ip or "", status.phase or ""))
    return found


def lease(coordination: client.CoordinationV1Api) -> client.V1LeaseSpec | None:
    try:
        found: client.V1Lease = coordination.read_namespaced_lease(LEASE, OPERATOR_NAMESPACE)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return found.spec


def leader_pod_name(coordination: client.CoordinationV1Api) -> str | None:
    """The pod whose replica holds the Lease (identities are ``<pod>_<random>``)."""
    spec = lease(coordination)
    holder = spec.holder_identity if spec else None
    return holder.rpartition("_")[0] if holder else None


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(pod: OperatorPod) -> Samples:
    """An operator pod's ``/metrics``."""
    return scrape_url(f"http://{pod.ip}:{METRICS_PORT}/metrics")


def scrape_url(url: str) -> Samples:
    """Prometheus metrics parsed by prometheus-client: (name, sorted labels) -> value."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def reconciles(samples: Samples, kind: str) -> float:
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "nimbus_operator_reconciles_total" and ("kind", kind) in labels
    )
