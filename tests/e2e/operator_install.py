"""The Nimbus operator installed as a user installs it: ``helm install`` of helm/nimbus.

The chart's Deployment runs ``nimbus-operator`` in a pod (the node agent runs it from this
checkout's virtualenv, the project image's stand-in) under the chart's service account, so
everything the operator does passes the chart's RBAC.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from e2e.cluster.catalog import BinaryPaths

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "nimbus"
RELEASE = "nimbus"
OPERATOR_NAMESPACE = "nimbus-system"
IMAGE_TAG = "dev"
IMAGE = f"ghcr.io/nimbus-cloud/nimbus:{IMAGE_TAG}"
INSTALL_TIMEOUT = "180s"


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


def install(kubeconfig: Path) -> Operator:
    """``helm upgrade --install`` (a reused cluster may have it already), waiting for the pod."""
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
        "--wait",
        "--timeout",
        INSTALL_TIMEOUT,
    )
    if result.returncode != 0:
        raise AssertionError(f"helm install failed:\n{result.stdout}\n{result.stderr}")
    return Operator(OPERATOR_NAMESPACE, RELEASE)
