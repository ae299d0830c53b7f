"""The Service proxy (kube-proxy's job): a TCP listener per Service port at the Service's local
address (``network.service_local_address``), forwarding each connection to one ready pod behind
the Service, round robin. UDP ports are not proxied (nothing here uses them)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from e2e.nodeagent.network import service_local_address, service_pods

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
COPY_CHUNK = 256 * 1024


@dataclass
class _Listener:
    server: asyncio.Server
    namespace: str
    service: str
    port: dict[str, Any]
    backends: list[tuple[str, int]] = field(default_factory=list)
    turn: itertools.count[int] = field(default_factory=itertools.count)


def target_port(port: dict[str, Any], pod: dict[str, Any]) -> int | None:
    """The pod port a Service port sends to: a number, or a container port's name."""
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in pod.get("spec", {}).get("containers") or []:
        for declared in container.get("ports") or []:
            if declared.get("name") == target:
                return int(declared["containerPort"])
    return None


class ServiceProxy:
    def __init__(self) -> None:
        self._listeners: dict[tuple[str, int], _Listener] = {}

    async def sync(self, services: list[dict[str, Any]], pods: list[dict[str, Any]]) -> None:
        """Open listeners for new Service ports, close those of removed ones, update backends."""
        wanted: dict[tuple[str, int], tuple[dict[str, Any], dict[str, Any]]] = {}
        for service in services:
            address = service_local_address(service.get("spec", {}).get("clusterIP"))
            if address is None:
                continue
            for port in service["spec"].get("ports") or []:
                if port.get("protocol", "TCP") == "TCP":
                    wanted[(address, int(port["port"]))] = (service, port)
        for key in set(self._listeners) - set(wanted):
            listener = self._listeners.pop(key)
            listener.server.close()
            log.info("service %s/%s: stopped %s:%d", listener.namespace, listener.service, *key)
        for key, (service, port) in wanted.items():
            metadata = service["metadata"]
            owner = (metadata["namespace"], metadata["name"])
            current = self._listeners.get(key)
            if current is not None and (current.namespace, current.service) != owner:
                current.server.close()
                current = None
            if current is None:
                current = await self._listen(key, *owner, port)
            if current is None:
                continue
            current.port = port
            current.backends = [
                (pod["status"]["podIP"], number)
                for pod in service_pods(service, pods)
                if (number := target_port(port, pod)) is not None
            ]

    async def _listen(
        self, key: tuple[str, int], namespace: str, name: str, port: dict[str, Any]
    ) -> _Listener | None:
        holder: list[_Listener] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._forward(holder[0], reader, writer)

        try:
            server = await asyncio.start_server(handle, key[0], key[1], reuse_address=True)
        except OSError as error:
            log.warning("service %s/%s: cannot listen on %s:%d: %s", namespace, name, *key, error)
            return None
        listener = _Listener(server, namespace, name, port)
        holder.append(listener)
        self._listeners[key] = listener
        log.info("service %s/%s: serving %s:%d", namespace, name, *key)
        return listener

    async def _forward(
        self, listener: _Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        backends = list(listener.backends)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        start = next(listener.turn)
        for attempt in range(len(backends)):
            host, port = backends[(start + attempt) % len(backends)]
            try:
                upstream = await asyncio.wait_for(
                    asyncio.open_connection(host, port), CONNECT_TIMEOUT_SECONDS
                )
                break
            except (OSError, TimeoutError):
                continue
        if upstream is None:
            writer.close()  # no ready endpoint: refuse, as kube-proxy rejects
            return
        up_reader, up_writer = upstream
        try:
            await asyncio.gather(_copy(reader, up_writer), _copy(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                with contextlib.suppress(OSError):
                    end.close()

    async def close(self) -> None:
        for listener in self._listeners.values():
            listener.server.close()
        self._listeners.clear()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(COPY_CHUNK):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except OSError:
        sink.close()
