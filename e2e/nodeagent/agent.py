"""The node agent: the kubelet (and kube-proxy, and a local volume provisioner) of the local
cluster's nodes. kwok keeps the Node objects alive (heartbeats, leases); the agent runs the pods
the scheduler binds to them.

It list-watches pods, Services, ConfigMaps, Secrets, claims, volumes, StorageClasses and Nodes
into memory; starts a ``PodRuntime`` for every pod bound to one of its nodes (adopting the
processes a previous agent left running); keeps the Service proxy and the provisioner in step;
and wakes the pods when what they depend on changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e.nodeagent.cache import Reflector
from e2e.nodeagent.kubeapi import KubeApi, KubeError
from e2e.nodeagent.network import API_SERVER_HOST, PodIpAllocator, service_local_address
from e2e.nodeagent.podenv import ServiceLink, service_link_env
from e2e.nodeagent.pods import PodRuntime
from e2e.nodeagent.provisioner import Provisioner
from e2e.nodeagent.proxy import ServiceProxy
from e2e.nodeagent.status import timestamp
from e2e.nodeagent.volumes import Sources

log = logging.getLogger(__name__)

RESYNC_SECONDS = 1.0


class NodeAgent:
    def __init__(
        self, api: KubeApi, nodes: tuple[str, ...], run_dir: Path, api_server_port: int
    ) -> None:
        self.api = api
        self.ips = PodIpAllocator()
        self.nodes = nodes
        self.pods_dir = run_dir / "pods"
        self.logs_dir = run_dir / "logs" / "pods"
        self._api_server_port = api_server_port
        self._runtimes: dict[str, PodRuntime] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dirty = asyncio.Event()
        self.on_ready: Callable[[], None] = lambda: None
        self._proxy = ServiceProxy()
        self._provisioner = Provisioner(api, run_dir / "volumes")

        def reflector(path: str) -> Reflector:
            return Reflector(api, path, self._changed)

        self._pods = reflector("/api/v1/pods")
        self._services = reflector("/api/v1/services")
        self._config_maps = reflector("/api/v1/configmaps")
        self._secrets = reflector("/api/v1/secrets")
        self._claims = reflector("/api/v1/persistentvolumeclaims")
        self._volumes = reflector("/api/v1/persistentvolumes")
        self._classes = reflector("/apis/storage.k8s.io/v1/storageclasses")
        self._nodes = reflector("/api/v1/nodes")
        self._reflectors = [
            self._pods,
            self._services,
            self._config_maps,
            self._secrets,
            self._claims,
            self._volumes,
            self._classes,
            self._nodes,
        ]

    def _changed(self, _key: str, _obj: dict[str, Any] | None) -> None:
        self._dirty.set()

    async def run(self) -> None:
        await self._provisioner.install_classes()
        for item in self._reflectors:
            self._spawn(item.run())
        for item in self._reflectors:
            await item.synced.wait()
        self._claim_existing_ips()
        self.on_ready()
        log.info("node agent ready for nodes %s", ", ".join(self.nodes))
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), RESYNC_SECONDS)
            self._dirty.clear()
            await self._resync()

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _claim_existing_ips(self) -> None:
        for pod in self._pods.objects.values():
            ip = pod.get("status", {}).get("podIP")
            if pod.get("spec", {}).get("nodeName") in self.nodes and ip:
                self.ips.claim(ip)

    async def _resync(self) -> None:
        for pod in list(self._pods.objects.values()):
            if pod.get("spec", {}).get("nodeName") not in self.nodes:
                continue
            key = pod["metadata"]["uid"]
            runtime = self._runtimes.get(key)
            if runtime is None:
                if pod.get("status", {}).get("phase") in ("Succeeded", "Failed") and not pod[
                    "metadata"
                ].get("deletionTimestamp"):
                    continue  # finished before this agent started: nothing to run
                runtime = PodRuntime(self, pod, self.pods_dir, self.logs_dir)
                self._runtimes[key] = runtime
                self._spawn(self._run_pod(key, runtime))
            runtime.wakeup.set()
        for runtime in self._runtimes.values():
            runtime.wakeup.set()
        try:
            await self._proxy.sync(self.all_services(), self.all_pods())
            await self._provisioner.sync(
                list(self._claims.objects.values()),
                list(self._volumes.objects.values()),
                self._classes.objects,
            )
        except (KubeError, OSError) as error:
            log.warning("service proxy / provisioner: %s", error)

    async def _run_pod(self, key: str, runtime: PodRuntime) -> None:
        try:
            await runtime.run()
        except Exception:
            log.exception("pod %s/%s: runtime failed", runtime.namespace, runtime.name)
        finally:
            self._runtimes.pop(key, None)

    # -- what pods ask of their node (pods.Node) ---------------------------------------------

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._pods.get(namespace, name)

    def all_pods(self) -> list[dict[str, Any]]:
        return list(self._pods.objects.values())

    def all_services(self) -> list[dict[str, Any]]:
        return list(self._services.objects.values())

    def node_ip(self, node_name: str) -> str:
        node = self._nodes.get(None, node_name) or {}
        for address in node.get("status", {}).get("addresses") or []:
            if address.get("type") == "InternalIP":
                return str(address["address"])
        return "127.0.0.1"

    def sources(self, namespace: str, node_name: str) -> Sources:
        def by_name(reflector: Reflector) -> dict[str, dict[str, Any]]:
            return {o["metadata"]["name"]: o for o in reflector.in_namespace(namespace)}

        def claim_path(claim_name: str) -> str | None:
            claim = self._claims.get(namespace, claim_name)
            if claim is None or claim.get("status", {}).get("phase") != "Bound":
                return None
            volume = self._volumes.get(None, claim["spec"].get("volumeName", ""))
            if volume is None:
                return None
            spec = volume["spec"]
            source = spec.get("local") or spec.get("hostPath") or {}
            return str(source["path"]) if source.get("path") else None

        node = self._nodes.get(None, node_name) or {}
        allocatable = dict(node.get("status", {}).get("allocatable") or {})
        return Sources(by_name(self._config_maps), by_name(self._secrets), claim_path, allocatable)

    def service_env(self, namespace: str) -> dict[str, str]:
        links = []
        for service in self._services.in_namespace(namespace):
            host = service_local_address(service.get("spec", {}).get("clusterIP"))
            if host is None:
                continue
            ports = tuple(
                (str(p.get("name") or ""), int(p["port"]), str(p.get("protocol", "TCP")))
                for p in service["spec"].get("ports") or []
            )
            links.append(ServiceLink(service["metadata"]["name"], host, ports))
        env = service_link_env(links)
        api = service_link_env(
            [ServiceLink("kubernetes", API_SERVER_HOST, (("https", self._api_server_port, "TCP"),))]
        )
        env.update(api)
        return env

    async def event(self, pod: dict[str, Any], kind: str, reason: str, message: str) -> None:
        metadata = pod["metadata"]
        now = timestamp(time.time())
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{metadata['name']}.{uuid.uuid4().hex[:16]}",
                "namespace": metadata["namespace"],
            },
            "involvedObject": {
                "kind": "Pod",
                "apiVersion": "v1",
                "namespace": metadata["namespace"],
                "name": metadata["name"],
                "uid": metadata["uid"],
            },
            "type": kind,
            "reason": reason,
            "message": message,
            "source": {"component": "kubelet", "host": pod["spec"].get("nodeName", "")},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.api.create(f"/api/v1/namespaces/{metadata['namespace']}/events", body)
        except KubeError as error:
            log.info(
                "event %s for %s/%s not recorded: %s",
                reason,
                metadata["namespace"],
                metadata["name"],
                error,
            )
