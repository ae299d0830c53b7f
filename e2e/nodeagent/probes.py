"""Readiness, liveness and startup probes, run for real: httpGet, tcpSocket and exec.

``ProbeWorker`` runs one probe of one container attempt on its own schedule (initialDelay,
period, timeout, success and failure thresholds, as the kubelet's prober does) and keeps its
result; the pod's runtime reads it. An exec probe runs its command inside the container with
``nsenter`` (the container's mount and UTS namespaces and its root).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

SUCCESS_STATUS = range(200, 400)
NSENTER = "/usr/bin/nsenter"


def loopback_host(host: str) -> str:
    """Probes may only reach this machine's loopback (a pod IP or 127.x): nothing else."""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(
        f"probe host {host!r} is not a loopback address; the node agent only probes pods"
    )


def resolve_port(port: object, container: dict[str, Any]) -> int:
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ValueError(f"port {port!r} is not a named port of container {container['name']}")


async def run_probe(
    probe: dict[str, Any],
    container: dict[str, Any],
    pod_ip: str,
    container_pid: int,
    env: Mapping[str, str],
) -> tuple[bool, str]:
    """One probe attempt: (success, message for the Event when it failed)."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if "httpGet" in probe:
            return await _http(probe["httpGet"], container, pod_ip, timeout)
        if "tcpSocket" in probe:
            return await _tcp(probe["tcpSocket"], container, pod_ip, timeout)
        if "exec" in probe:
            return await _exec(probe["exec"].get("command") or [], container_pid, env, timeout)
    except ValueError as error:
        return False, str(error)
    return False, f"unsupported probe handler {sorted(set(probe) & {'grpc'})}"


async def _http(
    action: dict[str, Any], container: dict[str, Any], pod_ip: str, timeout: float
) -> tuple[bool, str]:
    port = resolve_port(action.get("port"), container)
    scheme = str(action.get("scheme") or "HTTP").lower()
    host = loopback_host(action.get("host") or pod_ip)
    path = action.get("path") or "/"
    url = f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
    headers = {h["name"]: h["value"] for h in action.get("httpHeaders") or []}
    headers.setdefault("User-Agent", "kube-probe/1.35")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url, headers=headers, ssl=context, allow_redirects=False) as response,
        ):
            if response.status in SUCCESS_STATUS:
                return True, ""
            return False, f"HTTP probe failed with statuscode: {response.status}"
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        return False, f'Get "{url}": {type(error).__name__}: {error}'


async def _tcp(
    action: dict[str, Any], container: dict[str, Any], pod_ip: str, timeout: float
) -> tuple[bool, str]:
    port = resolve_port(action.get("port"), container)
    host = loopback_host(action.get("host") or pod_ip)
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as error:
        return False, f"dial tcp {host}:{port}: {error or 'timeout'}"
    writer.close()
    return True, ""


async def _exec(
    command: list[str], container_pid: int, env: Mapping[str, str], timeout: float
) -> tuple[bool, str]:
    if not command or not container_pid:
        return False, "exec probe: no command or no running container"
    argv = [NSENTER, "-t", str(container_pid), "-m", "-u", "-p", "-r", "-w", *command]
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return False, f"command timed out after {timeout:g}s"
    if process.returncode == 0:
        return True, ""
    text = output.decode(errors="replace").strip()[-500:]
    return False, f"command {command} exited with {process.returncode}: {text}"


class ProbeWorker:
    """One probe of one container attempt; ``result`` follows the thresholds."""

    def __init__(
        self,
        kind: str,
        probe: dict[str, Any],
        attempt: Callable[[], asyncio.Future[tuple[bool, str]]] | Any,
        initial: bool | None,
    ) -> None:
        self.kind = kind
        self.probe = probe
        self.result = initial
        self.last_message = ""
        self.failed_count = 0
        self.failures: list[str] = []
        """Messages of failures that crossed the threshold, drained into Unhealthy Events."""
        self._attempt = attempt
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        period = float(self.probe.get("periodSeconds") or 10)
        success_needed = int(self.probe.get("successThreshold") or 1)
        failure_needed = int(self.probe.get("failureThreshold") or 3)
        successes = failures = 0
        await asyncio.sleep(float(self.probe.get("initialDelaySeconds") or 0))
        while True:
            try:
                ok, message = await self._attempt()
            except Exception as error:  # a probe that cannot even run has failed
                log.warning("%s probe could not run: %s", self.kind, error)
                ok, message = False, f"probe error: {error}"
            if ok:
                successes, failures = successes + 1, 0
                if successes >= success_needed:
                    self.result = True
            else:
                successes, failures = 0, failures + 1
                self.last_message = message
                if failures >= failure_needed:
                    self.result = False
                    self.failed_count += 1
                    self.failures.append(message)
                    failures = 0 if self.kind != "readiness" else failures
            await asyncio.sleep(period)
