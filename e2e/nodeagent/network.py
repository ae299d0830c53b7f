"""Addresses and names: pod IPs, the loopback address of each Service, and a pod's hosts file.

- Pod IPs come from ``POD_CIDR`` (127.1.0.0/16; ``$NIMBUS_POD_CIDR`` for a second cluster):
  every one is a loopback address a process can bind, so a pod's processes listen on their own
  IP, as on a pod network.
- The API server gives each Service a ClusterIP in 10.0.0.0/24, which no traffic here may go to.
  The agent serves Service ``10.0.0.N`` at ``127.3.0.N`` instead (the same port numbers), with a
  small TCP proxy in place of kube-proxy: pods and local processes alike connect there.
- Names resolve through ``/etc/hosts``, which the agent writes per pod (as a kubelet writes the
  pod's own entry; here the file holds what cluster DNS would answer too): ``<svc>``,
  ``<svc>.<ns>``, ``<svc>.<ns>.svc`` and ``<svc>.<ns>.svc.cluster.local`` for every Service (the
  short forms only within the pod's namespace, as DNS search domains give them); headless
  Services name their ready pods, and ``<hostname>.<subdomain>.<ns>.svc`` names a pod, as
  StatefulSets rely on.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Sequence
from typing import Any

POD_CIDR_ENV = "NIMBUS_POD_CIDR"
SERVICE_LOCAL_CIDR_ENV = "NIMBUS_SERVICE_LOCAL_CIDR"
ADDRESS_BLOCK_ENV = "NIMBUS_ADDRESS_BLOCK"


def address_blocks(block: int) -> tuple[str, str]:
    """(pod CIDR, Service address CIDR) of address block ``block``: 0 is the default, others
    let a second cluster run beside it on the same machine without clashes."""
    if block == 0:
        return "127.1.0.0/16", "127.3.0.0/24"
    return f"127.{10 + 2 * block}.0.0/16", f"127.{11 + 2 * block}.0.0/24"


_block_pods, _block_services = address_blocks(int(os.environ.get(ADDRESS_BLOCK_ENV) or 0))
POD_CIDR = os.environ.get(POD_CIDR_ENV, _block_pods)
SERVICE_LOCAL_CIDR = os.environ.get(SERVICE_LOCAL_CIDR_ENV, _block_services)
SERVICE_CIDR = "10.0.0.0/24"
CLUSTER_DOMAIN = "cluster.local"
API_SERVER_HOST = "127.0.0.1"

_service_net = ipaddress.ip_network(SERVICE_CIDR)
_service_local_net = ipaddress.ip_network(SERVICE_LOCAL_CIDR)


def service_local_address(cluster_ip: str | None, block: int | None = None) -> str | None:
    """Where Service ``cluster_ip`` is served on this machine (None for headless Services):
    by this process's cluster, or by the cluster of address block ``block``."""
    if not cluster_ip or cluster_ip == "None":
        return None
    address = ipaddress.ip_address(cluster_ip)
    if address not in _service_net:
        return None
    local = _service_local_net if block is None else ipaddress.ip_network(address_blocks(block)[1])
    offset = int(address) - int(_service_net.network_address)
    return str(local.network_address + offset)


class PodIpAllocator:
    """Hands out pod IPs in order (wrapping), never one a live pod holds."""

    def __init__(self, cidr: str = POD_CIDR) -> None:
        network = ipaddress.ip_network(cidr)
        self._first = int(network.network_address) + 2
        self._last = int(network.broadcast_address) - 1
        self._next = self._first
        self._taken: set[str] = set()

    def claim(self, address: str) -> None:
        self._taken.add(address)

    def release(self, address: str) -> None:
        self._taken.discard(address)

    def allocate(self) -> str:
        for _ in range(self._last - self._first + 1):
            candidate = str(ipaddress.ip_address(self._next))
            self._next = self._first if self._next >= self._last else self._next + 1
            if candidate not in self._taken:
                self._taken.add(candidate)
                return candidate
        raise RuntimeError(f"no free pod IP left in {POD_CIDR}")


def pod_is_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def selects(selector: dict[str, str] | None, pod: dict[str, Any]) -> bool:
    if not selector:
        return False
    labels = pod.get("metadata", {}).get("labels") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def service_pods(service: dict[str, Any], pods: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods behind ``service`` that may take traffic: selected, with an IP, ready (unless the
    Service publishes not-ready addresses), not being deleted."""
    namespace = service["metadata"]["namespace"]
    spec = service.get("spec", {})
    publish_all = bool(spec.get("publishNotReadyAddresses"))
    return [
        pod
        for pod in pods
        if pod["metadata"].get("namespace") == namespace
        and selects(spec.get("selector"), pod)
        and pod.get("status", {}).get("podIP")
        and not pod["metadata"].get("deletionTimestamp")
        and (publish_all or pod_is_ready(pod))
    ]


def _service_names(name: str, namespace: str, own_namespace: str) -> list[str]:
    names = [f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}", f"{name}.{namespace}.svc"]
    names.append(f"{name}.{namespace}")
    if namespace == own_namespace:
        names.append(name)
    return names


def hosts_file(
    pod: dict[str, Any],
    pod_ip: str,
    services: Sequence[dict[str, Any]],
    pods: Sequence[dict[str, Any]],
) -> str:
    """The ``/etc/hosts`` of ``pod``: itself, the API server, every Service and named pod."""
    metadata, spec = pod["metadata"], pod.get("spec", {})
    namespace = metadata["namespace"]
    hostname = spec.get("hostname") or metadata["name"]
    lines = ["# Kubernetes-managed hosts file (Nimbus node agent).", "127.0.0.1\tlocalhost"]
    own = [hostname]
    if spec.get("subdomain"):
        own.insert(0, f"{hostname}.{spec['subdomain']}.{namespace}.svc.{CLUSTER_DOMAIN}")
        own.insert(1, f"{hostname}.{spec['subdomain']}.{namespace}.svc")
    lines.append(f"{pod_ip}\t{' '.join(own)}")
    lines.append(
        f"{API_SERVER_HOST}\t"
        + " ".join(_service_names("kubernetes", "default", namespace)[:3])
        + (" kubernetes" if namespace == "default" else "")
    )
    for service in sorted(
        services, key=lambda s: (s["metadata"]["namespace"], s["metadata"]["name"])
    ):
        svc_name, svc_ns = service["metadata"]["name"], service["metadata"]["namespace"]
        if svc_ns == "default" and svc_name == "kubernetes":
            continue
        names = _service_names(svc_name, svc_ns, namespace)
        local = service_local_address(service.get("spec", {}).get("clusterIP"))
        if local is not None:
            lines.append(f"{local}\t{' '.join(names)}")
            continue
        for member in service_pods(service, pods):
            member_ip = member["status"]["podIP"]
            member_spec = member.get("spec", {})
            member_host = member_spec.get("hostname") or member["metadata"]["name"]
            if member_spec.get("subdomain") == svc_name:
                pod_names = [f"{member_host}.{n}" for n in names]
                lines.append(f"{member_ip}\t{' '.join(pod_names)}")
            lines.append(f"{member_ip}\t{' '.join(names)}")
    return "\n".join(lines) + "\n"
