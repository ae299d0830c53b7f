"""Bring a local control plane up and down: ``Cluster(run_dir).start()`` / ``.stop()``.

``start`` writes the PKI, kubeconfigs and kwok config, then starts etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok one after another, each waited for (health
endpoint) before the next; then registers the fake nodes and waits until they are Ready and the
``default`` service account exists. A component that dies meanwhile fails ``start`` with its log
tail, and everything already started is stopped again (the run directory is kept for the logs).
"""

from __future__ import annotations

import http.client
import logging
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from e2e.cluster import components, processes
from e2e.cluster.apiclient import ApiClient
from e2e.cluster.catalog import BinaryPaths
from e2e.cluster.certs import ADMIN, CLIENT_IDENTITIES, CertPair, ClusterPki, generate_pki
from e2e.cluster.components import ProcessSpec
from e2e.cluster.kubeconfig import write_kubeconfig
from e2e.cluster.kwok import ZONES, node_manifests, node_name, write_kwok_config
from e2e.cluster.layout import Ports, RunLayout
from e2e.cluster.state import (
    ClusterState,
    ComponentHealth,
    ComponentRecord,
    component_health,
    load_state,
    none_alive,
    save_state,
)
from e2e.nodeagent.cleanup import release_volumes, stop_containers
from e2e.nodeagent.network import (
    POD_CIDR_ENV,
    SERVICE_LOCAL_CIDR_ENV,
    address_blocks,
)

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 180.0
POLL_SECONDS = 0.25


class ClusterError(RuntimeError):
    """The control plane could not be started (the message says which component and why)."""


class Cluster:
    """One local control plane whose files all live in ``run_dir``."""

    def __init__(
        self,
        run_dir: Path | None = None,
        binaries: BinaryPaths | None = None,
        zones: tuple[str, ...] = ZONES,
        address_block: int = 0,
    ) -> None:
        self.run_dir = run_dir or Path(tempfile.mkdtemp(prefix="nimbus-cluster-"))
        self.layout = RunLayout(self.run_dir)
        self.binaries = binaries or BinaryPaths.from_cache()
        self.zones = zones
        self.address_block = address_block

    @property
    def kubeconfig(self) -> Path:
        return self.layout.admin_kubeconfig

    def state(self) -> ClusterState | None:
        return load_state(self.layout.state_file)

    def status(self) -> list[ComponentHealth]:
        state = self.state()
        return [] if state is None else component_health(state)

    def is_running(self) -> bool:
        report = self.status()
        return bool(report) and all(item.alive for item in report)

    # -- start ------------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> ClusterState:
        """Start every component and wait for Ready nodes; raise ``ClusterError`` on failure."""
        missing = self.binaries.missing_for_control_plane()
        if missing:
            names = ", ".join(str(path) for path in missing)
            raise ClusterError(f"missing binaries ({names}); run `python -m e2e.cluster build`")
        existing = self.state()
        if existing is not None and not none_alive(component_health(existing)):
            raise ClusterError(
                f"{self.run_dir} already has running components; "
                "stop them first (`python -m e2e.cluster down`)"
            )
        started = time.monotonic()
        deadline = started + timeout
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting the control plane in %s", self.run_dir)
        pki = generate_pki(self.layout.pki_dir)
        ports = Ports.allocate()
        self._write_client_configs(pki, ports)
        write_kwok_config(self.layout.kwok_config)
        state = ClusterState(
            run_dir=str(self.run_dir),
            kubeconfig=str(self.kubeconfig),
            api_server=components.api_server_url(ports),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            ports=ports.as_dict(),
        )
        save_state(self.layout.state_file, state)
        api = ApiClient(ports.api_server, str(pki.ca.cert), pki.clients[ADMIN.file_stem])
        try:
            nodes = tuple(node_name(zone) for zone in self.zones)
            specs = components.process_specs(
                self.binaries,
                self.layout,
                pki,
                ports,
                nodes=nodes,
                agent_env=address_env(self.address_block),
            )
            for spec in specs:
                state = self._start_component(spec, state)
                self._wait_component_ready(spec.name, state, ports, api, deadline)
                log.info("%s ready (%.1fs since start)", spec.name, time.monotonic() - started)
            self._register_nodes(api)
            self._wait(state, deadline, "nodes Ready", lambda: self._nodes_ready(api))
            self._wait(
                state,
                deadline,
                "the default service account",
                lambda: _api_ok(api, "/api/v1/namespaces/default/serviceaccounts/default"),
            )
        except BaseException:
            log.error("start failed; stopping what was started (logs kept in %s)", self.run_dir)
            self._stop_components(state)
            raise
        log.info(
            "control plane up in %.1fs: %s, %d nodes Ready",
            time.monotonic() - started,
            state.api_server,
            len(self.zones),
        )
        return state

    def _write_client_configs(self, pki: ClusterPki, ports: Ports) -> None:
        server = components.api_server_url(ports)
        write_kubeconfig(
            self.kubeconfig, server, pki.ca.cert, pki.clients[ADMIN.file_stem], ADMIN.user
        )
        for identity in CLIENT_IDENTITIES:
            if identity is ADMIN:
                continue
            write_kubeconfig(
                self.layout.component_kubeconfig(identity.file_stem),
                server,
                pki.ca.cert,
                pki.clients[identity.file_stem],
                identity.user,
            )

    def _start_component(self, spec: ProcessSpec, state: ClusterState) -> ClusterState:
        process = processes.spawn(spec.argv, spec.log_file, cwd=self.run_dir, env=spec.env)
        log.info("%s started, pid %d, log %s", spec.name, process.pid, spec.log_file)
        record = ComponentRecord(spec.name, process.pid, spec.argv[0], str(spec.log_file))
        state = state.with_component(record)
        save_state(self.layout.state_file, state)
        return state

    def _wait_component_ready(
        self, name: str, state: ClusterState, ports: Ports, api: ApiClient, deadline: float
    ) -> None:
        checks: dict[str, Callable[[], bool]] = {
            components.ETCD: lambda: _http_ok(ports.etcd_client, "/health", tls=False),
            components.API_SERVER: lambda: _api_ok(api, "/readyz"),
            components.CONTROLLER_MANAGER: lambda: _http_ok(ports.controller_manager, "/healthz"),
            components.SCHEDULER: lambda: _http_ok(ports.scheduler, "/healthz"),
            components.KWOK: lambda: _http_ok(ports.kwok, "/healthz", tls=False),
            components.NODE_AGENT: lambda: _http_ok(ports.node_agent, "/healthz", tls=False),
        }
        self._wait(state, deadline, f"{name} health", checks[name])

    def _register_nodes(self, api: ApiClient) -> None:
        for manifest in node_manifests(self.zones):
            api.create("/api/v1/nodes", manifest)
        log.info("registered nodes %s", ", ".join(node_name(zone) for zone in self.zones))

    def _nodes_ready(self, api: ApiClient) -> bool:
        ready = 0
        for zone in self.zones:
            response = api.request("GET", f"/api/v1/nodes/{node_name(zone)}")
            if response.status != 200:
                return False
            conditions = response.json().get("status", {}).get("conditions", [])
            ready += any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        return ready == len(self.zones)

    def _wait(
        self, state: ClusterState, deadline: float, what: str, check: Callable[[], bool]
    ) -> None:
        """Poll ``check`` until true; fail fast if a started component dies meanwhile."""
        while True:
            dead = [item for item in component_health(state) if not item.alive]
            if dead:
                details = "\n".join(item.describe() for item in dead)
                raise ClusterError(f"while waiting for {what}, a component died:\n{details}")
            try:
                if check():
                    return
            except (OSError, http.client.HTTPException, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out waiting for {what}; logs in {self.layout.logs_dir}")
            time.sleep(POLL_SECONDS)

    def restart_component(self, name: str, timeout: float = START_TIMEOUT_SECONDS) -> int:
        """Stop one running component and start it again with the same command line and
        environment (read from /proc), as a crashed and restarted daemon; its new PID."""
        state = self.state()
        record = next((c for c in state.components if c.name == name), None) if state else None
        if state is None or record is None or not processes.is_running(record.pid, record.binary):
            raise ClusterError(f"{name} is not running in {self.run_dir}")
        proc = Path(f"/proc/{record.pid}")
        argv = tuple(
            arg.decode() for arg in proc.joinpath("cmdline").read_bytes().split(b"\0")[:-1]
        )
        environ = proc.joinpath("environ").read_bytes().split(b"\0")
        env = dict(item.decode().split("=", 1) for item in environ if b"=" in item)
        processes.stop(record.pid, record.binary)
        spec = ProcessSpec(name, argv, Path(record.log_file), env)
        state = self._start_component(spec, state)
        ports = Ports(**state.ports)
        api = ApiClient(
            ports.api_server, str(self.layout.pki_dir / "ca.crt"), _admin_pair(self.layout)
        )
        self._wait_component_ready(name, state, ports, api, time.monotonic() + timeout)
        new = next(c for c in state.components if c.name == name)
        return new.pid

    # -- stop -------------------------------------------------------------------------------

    def stop(self, keep: bool = False) -> None:
        """Stop every recorded component (reverse start order); remove the run dir unless keep."""
        state = self.state()
        if state is not None:
            self._stop_components(state)
        self._stop_pods()
        if not keep and self.run_dir.exists():
            shutil.rmtree(self.run_dir, ignore_errors=True)
            log.info("removed %s", self.run_dir)

    def _stop_components(self, state: ClusterState) -> None:
        for record in reversed(state.components):
            if processes.stop(record.pid, record.binary):
                log.info("stopped %s (pid %d)", record.name, record.pid)
        self._stop_pods()

    def _stop_pods(self) -> None:
        """Containers outlive the node agent (its successor adopts them): stop them too, and
        unmount the sized volumes, before anything removes the run directory."""
        stopped = stop_containers(self.layout.pods_dir)
        if stopped:
            log.info("stopped %d containers the node agent ran", stopped)
        release_volumes(self.layout.volumes_dir)


def _api_ok(api: ApiClient, path: str) -> bool:
    return api.request("GET", path).status == 200


def _http_ok(port: int, path: str, *, tls: bool = True) -> bool:
    """GET ``path`` on 127.0.0.1:``port``; health endpoints of the controllers are self-signed."""
    connection: http.client.HTTPConnection
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    finally:
        connection.close()


def address_env(block: int) -> dict[str, str]:
    """The node agent's environment for address block ``block`` (see network.address_blocks)."""
    pods, services = address_blocks(block)
    return {POD_CIDR_ENV: pods, SERVICE_LOCAL_CIDR_ENV: services}


def _admin_pair(layout: RunLayout) -> CertPair:
    return CertPair(
        layout.pki_dir / f"{ADMIN.file_stem}.crt", layout.pki_dir / f"{ADMIN.file_stem}.key"
    )
