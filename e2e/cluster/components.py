"""Command lines of the control-plane processes (pure: paths and ports in, argv out).

Choices worth knowing:
- etcd runs with ``--unsafe-no-fsync``: a test cluster trades durability for speed.
- kube-apiserver follows envtest's defaults (client-cert auth, RBAC, service-account issuer and
  keys, ``--service-cluster-ip-range=10.0.0.0/24``, bind 127.0.0.1) but keeps the ServiceAccount
  admission plugin, because kube-controller-manager runs and creates the default accounts.
- kube-controller-manager uses its own identity and a service account per controller
  (``--use-service-account-credentials``, as kubeadm does), so RBAC is exercised for real.
- kwok manages only nodes annotated ``kwok.x-k8s.io/node=fake``: their heartbeats and leases.
  It runs no pod stages: the node agent (``e2e.nodeagent``) is the kubelet of those nodes and
  runs every pod bound to them as local processes, with pod IPs from 127.1.0.0/16 (loopback
  addresses a local process can bind).
- The KubeVirt stand-in (``e2e.kubevirt_standin``) plays virt-controller and CDI's importer for
  the real KubeVirt/CDI CRDs ``up`` installs (it starts once they are Established).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from e2e.cluster.catalog import BinaryPaths
from e2e.cluster.certs import (
    FRONT_PROXY_CLIENT,
    SERVICE_CLUSTER_IP_RANGE,
    ClusterPki,
)
from e2e.cluster.certs import (
    NODE_AGENT as NODE_AGENT_IDENTITY,
)
from e2e.cluster.layout import Ports, RunLayout

ETCD = "etcd"
API_SERVER = "kube-apiserver"
CONTROLLER_MANAGER = "kube-controller-manager"
SCHEDULER = "kube-scheduler"
KWOK = "kwok"
NODE_AGENT = "node-agent"
KUBEVIRT_STANDIN = "kubevirt-standin"
START_ORDER = (ETCD, API_SERVER, CONTROLLER_MANAGER, SCHEDULER, KWOK, NODE_AGENT, KUBEVIRT_STANDIN)
PYTHON_COMPONENTS = (NODE_AGENT, KUBEVIRT_STANDIN)
REPO_ROOT = Path(__file__).resolve().parents[2]

KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_ANNOTATION_VALUE = "fake"
NODE_LEASE_SECONDS = 40
LOG_VERBOSITY = "1"


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]
    log_file: Path
    env: dict[str, str] | None = field(default=None)
    """The whole environment, or None to inherit the caller's."""


def api_server_url(ports: Ports) -> str:
    return f"https://127.0.0.1:{ports.api_server}"


def etcd_url(ports: Ports) -> str:
    return f"http://127.0.0.1:{ports.etcd_client}"


def process_specs(
    binaries: BinaryPaths,
    layout: RunLayout,
    pki: ClusterPki,
    ports: Ports,
    *,
    nodes: tuple[str, ...] = (),
    agent_env: dict[str, str] | None = None,
    standin_port: int = 0,
    guests: str = "labelled",
) -> list[ProcessSpec]:
    """Every process of the control plane, in start order (``standin_port``: the KubeVirt
    stand-in's health port)."""
    argv = {
        ETCD: etcd_argv(binaries.etcd, layout, ports),
        API_SERVER: api_server_argv(binaries.kube_apiserver, layout, pki, ports),
        CONTROLLER_MANAGER: controller_manager_argv(
            binaries.kube_controller_manager, layout, pki, ports
        ),
        SCHEDULER: scheduler_argv(binaries.kube_scheduler, layout, ports),
        KWOK: kwok_argv(binaries.kwok, layout, ports),
        NODE_AGENT: node_agent_argv(layout, pki, ports, nodes),
        KUBEVIRT_STANDIN: kubevirt_standin_argv(layout, standin_port, guests),
    }
    # The stand-in shares the agent's address block (it maps Service addresses as the agent).
    agent_env = dict(os.environ, **(agent_env or {}))
    agent_env.update(PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    return [
        ProcessSpec(
            name,
            tuple(argv[name]),
            layout.log_file(name),
            agent_env if name in PYTHON_COMPONENTS else None,
        )
        for name in START_ORDER
    ]


def etcd_argv(binary: Path, layout: RunLayout, ports: Ports) -> list[str]:
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(binary),
        "--name=nimbus",
        f"--data-dir={layout.etcd_data_dir}",
        f"--listen-client-urls={etcd_url(ports)}",
        f"--advertise-client-urls={etcd_url(ports)}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=nimbus={peer}",
        "--initial-cluster-state=new",
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def api_server_argv(binary: Path, layout: RunLayout, pki: ClusterPki, ports: Ports) -> list[str]:
    return [
        str(binary),
        f"--etcd-servers={etcd_url(ports)}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={ports.api_server}",
        f"--cert-dir={layout.serving_cert_dir(API_SERVER)}",
        f"--tls-cert-file={pki.api_server.cert}",
        f"--tls-private-key-file={pki.api_server.key}",
        f"--client-ca-file={pki.ca.cert}",
        "--authorization-mode=Node,RBAC",
        "--anonymous-auth=true",
        f"--service-account-issuer={api_server_url(ports)}",
        f"--service-account-key-file={pki.service_account_public_key}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        # Endpoints may not hold loopback IPs, so the `kubernetes` Service keeps no endpoints.
        "--endpoint-reconciler-type=none",
        f"--requestheader-client-ca-file={pki.front_proxy_ca.cert}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT.user}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.front_proxy_client.cert}",
        f"--proxy-client-key-file={pki.front_proxy_client.key}",
        # No kube-proxy: reach aggregated API servers at their endpoint IPs, not the Service IP.
        "--enable-aggregator-routing=true",
        "--allow-privileged=true",
        "--profiling=false",
        f"--v={LOG_VERBOSITY}",
    ]


def controller_manager_argv(
    binary: Path, layout: RunLayout, pki: ClusterPki, ports: Ports
) -> list[str]:
    kubeconfig = layout.component_kubeconfig(CONTROLLER_MANAGER)
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.controller_manager}",
        f"--cert-dir={layout.serving_cert_dir(CONTROLLER_MANAGER)}",
        "--leader-elect=false",
        # Endpoints and EndpointSlices may not hold loopback pod IPs: the node agent's Service
        # proxy finds a Service's pods itself, so those controllers would only log refusals.
        "--controllers=*,-endpoints-controller,-endpointslice-controller,"
        "-endpointslice-mirroring-controller",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.service_account_key}",
        f"--root-ca-file={pki.ca.cert}",
        f"--cluster-signing-cert-file={pki.ca.cert}",
        f"--cluster-signing-key-file={pki.ca.key}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--profiling=false",
        f"--v={LOG_VERBOSITY}",
    ]


def scheduler_argv(binary: Path, layout: RunLayout, ports: Ports) -> list[str]:
    kubeconfig = layout.component_kubeconfig(SCHEDULER)
    return [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.scheduler}",
        f"--cert-dir={layout.serving_cert_dir(SCHEDULER)}",
        "--leader-elect=false",
        "--profiling=false",
        f"--v={LOG_VERBOSITY}",
    ]


def kwok_argv(binary: Path, layout: RunLayout, ports: Ports) -> list[str]:
    return [
        str(binary),
        f"--kubeconfig={layout.component_kubeconfig(KWOK)}",
        f"--config={layout.kwok_config}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}="
        f"{KWOK_NODE_ANNOTATION_VALUE}",
        f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
        f"--server-address=127.0.0.1:{ports.kwok}",
    ]


def node_agent_argv(
    layout: RunLayout, pki: ClusterPki, ports: Ports, nodes: tuple[str, ...]
) -> list[str]:
    client = pki.clients[NODE_AGENT_IDENTITY.file_stem]
    return [
        sys.executable,
        "-m",
        "e2e.nodeagent",
        f"--run-dir={layout.root}",
        f"--server={api_server_url(ports)}",
        f"--ca={pki.ca.cert}",
        f"--cert={client.cert}",
        f"--key={client.key}",
        f"--nodes={','.join(nodes)}",
        f"--healthz-port={ports.node_agent}",
    ]


def kubevirt_standin_argv(layout: RunLayout, healthz_port: int, guests: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "e2e.kubevirt_standin",
        f"--kubeconfig={layout.component_kubeconfig(KUBEVIRT_STANDIN)}",
        f"--healthz-port={healthz_port}",
        f"--guests={guests}",
        f"--state-dir={layout.kubevirt_dir}",
    ]
