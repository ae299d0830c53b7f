"""Kubeconfig files for the admin and for each control-plane client (certificates embedded)."""

from __future__ import annotations

import base64
import json
import shlex
from pathlib import Path

from e2e.cluster.certs import CertPair

CLUSTER_NAME = "nimbus-local"


def render_kubeconfig(server: str, ca_cert: Path, client: CertPair, user: str) -> dict[str, object]:
    """A kubeconfig with one cluster, one user and one current context, all data inline."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": _b64(ca_cert),
                },
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(client.cert),
                    "client-key-data": _b64(client.key),
                },
            }
        ],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": user}}],
        "current-context": CLUSTER_NAME,
    }


def write_kubeconfig(path: Path, server: str, ca_cert: Path, client: CertPair, user: str) -> Path:
    """Write the kubeconfig as JSON (valid YAML), readable only by the owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(render_kubeconfig(server, ca_cert, client, user), indent=2) + "\n")
    return path


def export_line(kubeconfig: Path | str) -> str:
    """The shell line that points kubectl at ``kubeconfig`` and puts the cluster's own kubectl
    and helm (built with it, pinned versions) first on PATH."""
    from e2e.cluster.catalog import BinaryPaths

    binaries = BinaryPaths.from_cache()
    tools = ":".join(shlex.quote(str(path.parent)) for path in (binaries.kubectl, binaries.helm))
    return f'export KUBECONFIG={shlex.quote(str(kubeconfig))} PATH={tools}:"$PATH"'


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")
