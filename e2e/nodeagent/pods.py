"""One pod on one of the agent's nodes, from binding to deletion (the kubelet's syncPod).

``PodRuntime.sync`` is level-based: it reads the pod as the API server has it now and moves the
processes towards it. It gives the pod an IP, sets up its volumes and hosts file, runs the init
containers one after another to completion, then every container; restarts them per the
restartPolicy; writes the status; and, once the pod is being deleted, sends SIGTERM, waits out
the grace period, sends SIGKILL, and deletes the pod object for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from e2e.nodeagent import lifecycle, podenv
from e2e.nodeagent.kubeapi import KubeApi, KubeError
from e2e.nodeagent.lifecycle import ContainerRuntime, StartInputs
from e2e.nodeagent.network import PodIpAllocator, hosts_file
from e2e.nodeagent.status import FAILED, SUCCEEDED, pod_status
from e2e.nodeagent.volumes import PodVolumes, Sources, VolumeNotReady

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS = 30
SYNC_SECONDS = 0.5
REPUBLISH_SECONDS = 30.0
"""A status is written again this often even when unchanged (another writer may have
overwritten it)."""


class Node(Protocol):
    """What a pod needs from the agent that runs it."""

    api: KubeApi
    ips: PodIpAllocator

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def sources(self, namespace: str, node_name: str) -> Sources: ...
    def service_env(self, namespace: str) -> dict[str, str]: ...
    def all_services(self) -> list[dict[str, Any]]: ...
    def all_pods(self) -> list[dict[str, Any]]: ...
    def node_ip(self, node_name: str) -> str: ...
    async def event(self, pod: dict[str, Any], kind: str, reason: str, message: str) -> None: ...


def pod_path(pod: dict[str, Any]) -> str:
    metadata = pod["metadata"]
    return f"/api/v1/namespaces/{metadata['namespace']}/pods/{metadata['name']}"


class PodRuntime:
    def __init__(self, node: Node, pod: dict[str, Any], pods_dir: Path, logs_dir: Path) -> None:
        metadata = pod["metadata"]
        self.namespace, self.name, self.uid = (
            metadata["namespace"],
            metadata["name"],
            metadata["uid"],
        )
        self.node_name = str(pod["spec"]["nodeName"])
        self.node = node
        folder = f"{self.namespace}_{self.name}_{self.uid}"
        self.directory = pods_dir / folder
        self.log_dir = logs_dir / folder
        self.finished = asyncio.Event()
        self.wakeup = asyncio.Event()
        self.pod_ip: str | None = pod.get("status", {}).get("podIP")
        self.start_time = time.time()
        self._published: str = ""
        self._published_at = 0.0
        self._terminating_since: float | None = None
        self._failed = False
        self._volumes = PodVolumes(self.directory, self._token, pods_dir.parent)
        self._sandbox_ready = False
        self.init = [self._runtime(spec, True) for spec in pod["spec"].get("initContainers") or []]
        self.main = [self._runtime(spec, False) for spec in pod["spec"]["containers"]]
        self._restore(pod)

    def _runtime(self, spec: dict[str, Any], init: bool) -> ContainerRuntime:
        return ContainerRuntime(
            spec=spec,
            init=init,
            directory=self.directory / "containers" / spec["name"],
            log_dir=self.log_dir / spec["name"],
            container_id_prefix=f"nimbus://{self.uid}",
        )

    @property
    def _runtimes(self) -> list[ContainerRuntime]:
        return self.init + self.main

    def _restore(self, pod: dict[str, Any]) -> None:
        saved = lifecycle.load(self.directory / "containers.json")
        for runtime in self._runtimes:
            if runtime.name in saved:
                runtime.restore(saved[runtime.name])
        started = pod.get("status", {}).get("startTime")
        if saved and self.pod_ip:
            self.node.ips.claim(self.pod_ip)
            self._sandbox_ready = True
            log.info("pod %s/%s: adopted (ip %s)", self.namespace, self.name, self.pod_ip)
        if started:
            self.start_time = (
                time.mktime(time.strptime(started, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
            )

    async def run(self) -> None:
        while not self.finished.is_set():
            try:
                await self.sync()
            except (KubeError, OSError) as error:
                log.warning("pod %s/%s: sync failed: %s", self.namespace, self.name, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), SYNC_SECONDS)
            self.wakeup.clear()

    async def sync(self) -> None:
        pod = self.node.pod(self.namespace, self.name)
        if pod is None or pod["metadata"]["uid"] != self.uid:
            await self._shut_down(grace=0)
            await self._forget()
            return
        now = time.time()
        if pod["metadata"].get("deletionTimestamp"):
            grace = pod["metadata"].get("deletionGracePeriodSeconds")
            if grace is None:
                grace = pod["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
            if await self._shut_down(grace=float(grace)):
                await self._publish(pod, now)
                await self.node.api.delete(
                    pod_path(pod), {"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}}
                )
                await self._forget()
            return
        for runtime in self._runtimes:
            runtime.pod_ip = self.pod_ip or ""
            runtime.poll(now)
        policy = pod["spec"].get("restartPolicy", "Always")
        if not self._failed and await self._prepare(pod):
            await self._run_containers(pod, policy, now)
        self._save()
        await self._flush_events(pod)
        await self._publish(pod, now)

    async def _prepare(self, pod: dict[str, Any]) -> bool:
        if self.pod_ip is None:
            self.pod_ip = self.node.ips.allocate()
        try:
            await self._volumes.sync(pod, self.node.sources(self.namespace, self.node_name))
        except (VolumeNotReady, podenv.ContainerConfigError) as error:
            message = f"MountVolume.SetUp failed: {error}"
            for runtime in self._runtimes:
                if not runtime.running and runtime.terminated is None:
                    runtime.waiting_reason, runtime.waiting_message = "ContainerCreating", message
            if not self._sandbox_ready:
                await self.node.event(pod, "Warning", "FailedMount", message)
            return False
        self.directory.mkdir(parents=True, exist_ok=True)
        hosts = hosts_file(pod, self.pod_ip, self.node.all_services(), self.node.all_pods())
        _write_in_place(self.directory / "hosts", hosts)
        self._sandbox_ready = True
        return True

    async def _run_containers(self, pod: dict[str, Any], policy: str, now: float) -> None:
        for runtime in self.init:
            if runtime.completed:
                continue
            if runtime.running:
                break
            if runtime.terminated is not None and not runtime.should_restart(policy):
                self._failed = True  # an init container failed for good: so does the pod
                return
            if runtime.terminated is not None:
                runtime.schedule_restart(now)
            await runtime.start(now, functools.partial(self._start_inputs, pod, runtime))
            break
        if not all(runtime.completed for runtime in self.init):
            for runtime in self.main:
                runtime.waiting_reason = "PodInitializing"
            return
        for runtime in self.main:
            if runtime.running:
                continue
            if runtime.terminated is not None:
                if not runtime.should_restart(policy):
                    continue
                runtime.schedule_restart(now)
            await runtime.start(now, functools.partial(self._start_inputs, pod, runtime))

    async def _start_inputs(self, pod: dict[str, Any], runtime: ContainerRuntime) -> StartInputs:
        assert self.pod_ip is not None
        sources = self.node.sources(self.namespace, self.node_name)
        live = dict(
            pod,
            status=dict(
                pod.get("status") or {},
                podIP=self.pod_ip,
                podIPs=[{"ip": self.pod_ip}],
                hostIP=self.node.node_ip(self.node_name),
            ),
        )
        env = podenv.container_env(
            live,
            runtime.spec,
            config_maps={k: _string_data(v, False) for k, v in sources.config_maps.items()},
            secrets={k: _string_data(v, True) for k, v in sources.secrets.items()},
            service_env=self.node.service_env(self.namespace),
            node_allocatable=sources.node_allocatable,
        )
        hostname = pod["spec"].get("hostname") or self.name
        env.setdefault("HOSTNAME", hostname)
        env.setdefault("HOME", "/root")
        mounts = [
            {"source": m.source, "target": m.target, "read_only": m.read_only}
            for m in self._volumes.mounts(runtime.spec)
        ]
        mounts.append(
            {"source": str(self.directory / "hosts"), "target": "/etc/hosts", "read_only": False}
        )
        return StartInputs(env, mounts, hostname, self.pod_ip)

    async def _shut_down(self, grace: float) -> bool:
        """SIGTERM every running container, SIGKILL after ``grace``; True once all have ended."""
        now = time.time()
        if self._terminating_since is None:
            self._terminating_since = now
            for runtime in self._runtimes:
                runtime.stop_probes()
                if runtime.attempt is not None:
                    if grace > 0:
                        runtime.attempt.terminate()
                    else:
                        runtime.attempt.kill()
        overdue = now >= self._terminating_since + grace
        for runtime in self._runtimes:
            if runtime.attempt is not None and overdue:
                runtime.attempt.kill()
            runtime.poll(now)
        return all(runtime.attempt is None for runtime in self._runtimes)

    async def _forget(self) -> None:
        if self.pod_ip:
            self.node.ips.release(self.pod_ip)
        shutil.rmtree(self.directory, ignore_errors=True)
        log.info("pod %s/%s: gone", self.namespace, self.name)
        self.finished.set()

    def _save(self) -> None:
        if self.directory.exists():
            lifecycle.dump(self._runtimes, self.directory / "containers.json")

    async def _flush_events(self, pod: dict[str, Any]) -> None:
        for runtime in self._runtimes:
            while runtime.events:
                kind, reason, message = runtime.events.pop(0)
                await self.node.event(pod, kind, reason, message)

    async def _publish(self, pod: dict[str, Any], now: float) -> None:
        policy = pod["spec"].get("restartPolicy", "Always")
        gates = tuple(g["conditionType"] for g in pod["spec"].get("readinessGates") or [])
        status = pod_status(
            previous=pod.get("status") or {},
            init=[rt.view(rt.should_restart(policy)) for rt in self.init],
            main=[rt.view(rt.should_restart(policy)) for rt in self.main],
            sandbox_ready=self._sandbox_ready,
            pod_ip=self.pod_ip if self._sandbox_ready else None,
            host_ip=self.node.node_ip(self.node_name),
            start_time=self.start_time,
            now=now,
            failed=self._failed,
            readiness_gates=gates,
        )
        if status["phase"] in (SUCCEEDED, FAILED) and self._terminating_since is None:
            for runtime in self._runtimes:
                runtime.stop_probes()
        encoded = json.dumps(status, sort_keys=True)
        if encoded == self._published and now - self._published_at < REPUBLISH_SECONDS:
            return
        # The UID makes the patch fail (422, "metadata.uid ... immutable") if the name now
        # belongs to a new pod: a StatefulSet recreates a deleted pod under the same name at
        # once, and this runtime's last words must not become the new pod's status.
        patch = {"metadata": {"uid": self.uid}, "status": status}
        try:
            await self.node.api.patch(pod_path(pod) + "/status", patch)
        except KubeError as error:
            replaced = error.status == 422 and "metadata.uid" in str(error)
            if error.status != 404 and not replaced:
                raise
            return
        self._published, self._published_at = encoded, now

    async def _token(self, account: str, audience: str | None, seconds: int) -> tuple[str, float]:
        spec: dict[str, Any] = {
            "expirationSeconds": seconds,
            "boundObjectRef": {
                "kind": "Pod",
                "apiVersion": "v1",
                "name": self.name,
                "uid": self.uid,
            },
        }
        if audience:
            spec["audiences"] = [audience]
        path = f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{account}/token"
        answer = await self.node.api.request("POST", path, {"spec": spec})
        expiry = time.time() + int(answer["spec"].get("expirationSeconds") or seconds)
        return str(answer["status"]["token"]), expiry


def _string_data(obj: Mapping[str, Any], encoded: bool) -> dict[str, str]:
    import base64

    data = obj.get("data") or {}
    if not encoded:
        return {k: str(v) for k, v in data.items()}
    return {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}


def _write_in_place(path: Path, text: str) -> None:
    """Rewrite a file that is bind-mounted into containers: same inode, so they see the change."""
    try:
        if path.read_text() == text:
            return
    except FileNotFoundError:
        pass
    with path.open("a+") as handle:
        handle.seek(0)
        handle.truncate()
        handle.write(text)
