"""Where one control plane keeps its files, and which loopback ports it listens on.

Everything of a run lives under one directory::

    <run dir>/state.json      ports, PIDs, kubeconfig path (see state.py)
    <run dir>/kubeconfig      the admin's kubeconfig (system:masters)
    <run dir>/pki/            CA, serving and client certificates, service-account keys
    <run dir>/kubeconfigs/    one kubeconfig per control-plane client
    <run dir>/etcd/           etcd's data directory
    <run dir>/logs/<c>.log    stdout+stderr of each component
    <run dir>/kwok/kwok.yaml  kwok's configuration and stages
    <run dir>/serving/<c>/    self-signed serving certs of controller-manager and scheduler
    <run dir>/pods/<ns>_<pod>_<uid>/   the node agent's pods: volumes, hosts file, containers
    <run dir>/logs/pods/<ns>_<pod>_<uid>/<container>/<restart>.log   container output
    <run dir>/volumes/pvc-<uid>/       persistent volumes of the local provisioner
"""

from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path


def default_run_dir() -> Path:
    """``$NIMBUS_CLUSTER_DIR`` or ``<tmp>/nimbus-cluster`` (fixed, so every command finds it)."""
    override = os.environ.get("NIMBUS_CLUSTER_DIR")
    if override:
        return Path(override).expanduser()
    return Path(tempfile.gettempdir()) / "nimbus-cluster"


@dataclass(frozen=True)
class RunLayout:
    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data_dir(self) -> Path:
        return self.root / "etcd"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def kwok_config(self) -> Path:
        return self.root / "kwok" / "kwok.yaml"

    def component_kubeconfig(self, component: str) -> Path:
        return self.root / "kubeconfigs" / f"{component}.kubeconfig"

    def log_file(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"

    @property
    def pods_dir(self) -> Path:
        return self.root / "pods"

    @property
    def pod_logs_dir(self) -> Path:
        return self.logs_dir / "pods"

    @property
    def kubevirt_dir(self) -> Path:
        """The KubeVirt stand-in's imported disks and launcher files (e2e/kubevirt_standin)."""
        return self.root / "kubevirt"

    @property
    def volumes_dir(self) -> Path:
        return self.root / "volumes"

    def serving_cert_dir(self, component: str) -> Path:
        return self.root / "serving" / component


@dataclass(frozen=True)
class Ports:
    """Loopback TCP ports of one control plane (all on 127.0.0.1)."""

    etcd_client: int
    etcd_peer: int
    api_server: int
    controller_manager: int
    scheduler: int
    kwok: int
    node_agent: int

    @classmethod
    def allocate(cls) -> Ports:
        """Pick free ports (the kernel chooses; kept open together so they are distinct)."""
        count = len(fields(cls))
        sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
        try:
            for sock in sockets:
                sock.bind(("127.0.0.1", 0))
            numbers = [sock.getsockname()[1] for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()
        return cls(*numbers)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_state(cls, recorded: dict[str, int]) -> Ports:
        """The ports of a state file (which may record more, e.g. ``kubevirt_standin``)."""
        return cls(**{f.name: recorded[f.name] for f in fields(cls)})


def free_port() -> int:
    """A loopback TCP port that is free now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
