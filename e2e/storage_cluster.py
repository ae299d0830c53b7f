"""``python -m e2e.storage_cluster up|down`` — a storage cluster on loopback, from one ring.

Builds a ring of N storage nodes (one device each, zones a, b, c, ...), starts every node and
one S3 gateway as real processes (``nimbus-storage node`` / ``nimbus-storage serve --ring``) on
127.0.0.1, and prints how to reach it. Tests and benchmarks use the ``StorageCluster`` class;
fault tests stop and restart single nodes by PID, cut nodes listed in ``proxied`` off the network
with ``partition`` (a FaultProxy from e2e/faultproxy.py stands at their ring address), and
``add_node`` grows a running cluster (ring rebalanced and republished, the new node started);
``set_weight`` and ``remove_node`` drain a node and take it out.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from nimbus_storage.ring import RingBuilder

from e2e.faultproxy import FaultProxy, Mode

ZONES = "abcdefghijklmnopqrstuvwxyz"
STATE_FILE = "cluster.json"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(f"{url} exited with {process.returncode}:\n" + "\n".join(tail))
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s; see {log}")


def in_tmpfs(device_dir: Path, size: str, command: list[str]) -> list[str]:
    """``command`` in a private user + mount namespace (``unshare -rm``, no root needed) where
    ``device_dir`` is a tmpfs of ``size`` bytes ("1m", "512k"): a disk that really fills up.
    The mount is visible to that process only (and through ``/proc/<pid>/root``)."""
    device_dir.mkdir(parents=True, exist_ok=True)
    script = f'mount -t tmpfs -o size={size} tmpfs "$0" && exec "$@"'
    return ["unshare", "-rm", "sh", "-c", script, str(device_dir), *command]


@dataclass
class NodeProcess:
    address: str  # 127.0.0.1:port, as in the ring
    data: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    listen: str = ""  # where the node binds when that is not ``address`` (behind a fault proxy)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


@dataclass
class StorageCluster:
    root: Path
    nodes: int = 3
    replicas: int = 3
    part_power: int = 8
    fsync: bool = False
    replicate_interval: float = 30.0
    ec: str | None = None  # "K+M": the gateway erasure-codes blobs (replicas must be K+M)
    device_sizes: dict[int, str] = field(default_factory=dict)
    """Node index -> tmpfs size ("2m"): that node's device is a tiny filesystem of its own."""
    proxied: tuple[int, ...] = ()
    """Node indexes put behind a FaultProxy: the ring names the proxy; see ``partition``."""
    gateway_args: tuple[str, ...] = ()
    node_args: tuple[str, ...] = ()  # more flags for every ``nimbus-storage node``
    """More ``nimbus-storage serve`` options, e.g. ("--node-timeout", "1.5")."""
    proxies: dict[int, FaultProxy] = field(default_factory=dict)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    access_key: str = "NIMBUSCLUSTER"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    gateways: int = 1
    """S3 gateways serving the cluster at once (each with its own port and data dir)."""
    members: list[NodeProcess] = field(default_factory=list)
    gateway_processes: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    gateway_ports: list[int] = field(default_factory=list)

    @property
    def gateway(self) -> subprocess.Popen[bytes] | None:
        return self.gateway_processes[0] if self.gateway_processes else None

    @property
    def gateway_port(self) -> int:
        return self.gateway_ports[0] if self.gateway_ports else 0

    @property
    def endpoints(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.gateway_ports]

    @property
    def ring_path(self) -> Path:
        return self.root / "ring.json"

    @property
    def builder_path(self) -> Path:
        return self.root / "builder.json"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def _env(self) -> dict[str, str]:
        return dict(
            os.environ,
            NIMBUS_CLUSTER_TOKEN=self.token,
            NIMBUS_ROOT_ACCESS_KEY=self.access_key,
            NIMBUS_ROOT_SECRET_KEY=self.secret_key,
        )

    def build_ring(self) -> None:
        builder = RingBuilder(self.part_power, self.replicas)
        for index in range(self.nodes):
            address, listen = f"127.0.0.1:{free_port()}", ""
            if index in self.proxied:
                listen, node_port = address, int(address.rsplit(":", 1)[1])
                self.proxies[index] = FaultProxy(node_port, port=free_port())
                address = self.proxies[index].address
            builder.add_device(
                region=1, zone=ZONES[index % len(ZONES)], node=address, device="d0", weight=100
            )
            data, log = self.root / f"node-{index}", self.root / f"node-{index}.log"
            self.members.append(NodeProcess(address, data, log, listen=listen))
        builder.rebalance()
        builder.save(self.builder_path)
        builder.ring().save(self.ring_path)

    def add_node(self, zone: str, *, weight: float = 100) -> int:
        """Add a storage node (one device, ``d0``) in ``zone`` to the running cluster.

        Loads ``builder.json``, adds the device, rebalances, saves ``builder.json`` and
        ``ring.json`` (each written atomically), then starts the node. The running nodes and
        the gateway pick the new ring up from the file; until the new node answers, writes the
        gateway sends it go to handoffs. Returns the new node's index in ``members``.
        """
        index = len(self.members)
        address = f"127.0.0.1:{free_port()}"
        builder = RingBuilder.load(self.builder_path)
        builder.add_device(region=1, zone=zone, node=address, device="d0", weight=weight)
        builder.rebalance()
        builder.save(self.builder_path)
        builder.ring().save(self.ring_path)
        data, log = self.root / f"node-{index}", self.root / f"node-{index}.log"
        self.members.append(NodeProcess(address, data, log))
        self.start_node(index)
        self.save_state()
        return index

    def _device_id(self, builder: RingBuilder, index: int) -> int:
        address = self.members[index].address
        for device in builder.devices:
            if device.node == address:
                return device.id
        raise KeyError(f"node {index} ({address}) has no device in the ring")

    def set_weight(self, index: int, weight: float) -> None:
        """Set node ``index``'s device weight, rebalance and republish the ring (weight 0
        drains it: its replicas move to other devices, and it stays in the ring as a handoff
        until ``remove_node``). The running nodes and the gateway reload the ring file."""
        builder = RingBuilder.load(self.builder_path)
        builder.set_weight(self._device_id(builder, index), weight)
        builder.rebalance()
        builder.save(self.builder_path)
        builder.ring().save(self.ring_path)

    def remove_node(self, index: int) -> None:
        """Stop node ``index`` and remove its device from the ring (rebalanced, republished).
        Drain it first (``set_weight(index, 0)``) or its replicas are lost with it. The
        member keeps its index in ``members``, with no process."""
        self.stop_node(index)
        builder = RingBuilder.load(self.builder_path)
        builder.remove_device(self._device_id(builder, index))
        builder.rebalance()
        builder.save(self.builder_path)
        builder.ring().save(self.ring_path)
        self.save_state()

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.members:
            self.build_ring()
        for proxy in self.proxies.values():
            proxy.start()
        for index in range(len(self.members)):
            self.start_node(index)
        for index in range(self.gateways):
            self.start_gateway(index)
        self.save_state()

    def start_node(self, index: int) -> None:
        member = self.members[index]
        command = [
            sys.executable, "-m", "nimbus_storage.cli", "node", "--data", str(member.data),
            "--listen", member.listen or member.address, "--node", member.address,
            "--ring", str(self.ring_path), "--create-devices", "--log-level", "WARNING",
        ]  # fmt: skip
        if self.ec:
            # The replicator moves whole replicas; fragment archives need the reconstructor
            # instead (catalog and bucket index replicas are still replicated).
            command += ["--no-replicator", "--reconstructor"]
        command += ["--replicate-interval", str(self.replicate_interval)]
        if not self.fsync:
            command.append("--no-fsync")
        command += self.node_args
        if index in self.device_sizes:
            command = in_tmpfs(member.data / "d0", self.device_sizes[index], command)
        with member.log.open("ab") as sink:
            member.process = subprocess.Popen(
                command, stdout=sink, stderr=sink, env=self._env(), start_new_session=True
            )
        listen = member.listen or member.address
        _wait_http(f"http://{listen}/_nimbus/healthz", member.process, member.log)

    def stop_node(self, index: int, *, kill: bool = False) -> None:
        member = self.members[index]
        if member.process is not None:
            _end(member.process, signal.SIGKILL if kill else signal.SIGTERM)
        member.process = None

    def start_gateway(self, index: int = 0) -> None:
        """Start gateway ``index`` (again, on its old port, after ``stop_gateway``)."""
        while len(self.gateway_ports) <= index:
            self.gateway_ports.append(free_port())
            self.gateway_processes.append(None)
        port = self.gateway_ports[index]
        suffix = f"-{index}" if index else ""
        log = self.root / f"gateway{suffix}.log"
        command = [
            sys.executable, "-m", "nimbus_storage.cli", "serve", "--data",
            str(self.root / f"gateway{suffix}"), "--port", str(port), "--ring",
            str(self.ring_path), "--log-level", "WARNING",
        ]  # fmt: skip
        if not self.fsync:
            command.append("--no-fsync")
        if self.ec:
            command += ["--ec", self.ec]
        if index:
            command.append("--no-janitor")  # lifecycle sweeps run on the first gateway only
        command += self.gateway_args
        with log.open("ab") as sink:
            process = subprocess.Popen(
                command, stdout=sink, stderr=sink, env=self._env(), start_new_session=True
            )
        self.gateway_processes[index] = process
        _wait_http(f"http://127.0.0.1:{port}/_nimbus/readyz", process, log)

    def stop_gateway(self, index: int = 0) -> None:
        process = self.gateway_processes[index]
        if process is not None:
            _end(process, signal.SIGTERM)
        self.gateway_processes[index] = None

    def stop(self) -> None:
        for index in range(len(self.gateway_processes)):
            self.stop_gateway(index)
        for index in range(len(self.members)):
            self.stop_node(index)
        for proxy in self.proxies.values():
            proxy.stop()

    def partition(self, index: int, mode: Mode) -> None:
        """Switch the fault proxy in front of node ``index`` (one of ``proxied``): "blackhole"
        (reachable, never answers), "refuse", "cut" (drop its connections) or "pass" (healed).
        Only traffic *to* the node goes through it: the node still reaches the others."""
        self.proxies[index].set_mode(mode)

    def save_state(self) -> None:
        state = {
            "endpoint": self.endpoint,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "ring": str(self.ring_path),
            "gateway_pids": [p.pid for p in self.gateway_processes if p is not None],
            "nodes": [
                {"address": m.address, "pid": m.pid, "log": str(m.log)} for m in self.members
            ],
        }
        (self.root / STATE_FILE).write_text(json.dumps(state, indent=2))


def _end(process: subprocess.Popen[bytes], sig: signal.Signals, grace: float = 15.0) -> None:
    """Send ``sig`` to a process we started and reap it; SIGKILL if it outlives ``grace``
    seconds, so that one stuck process never leaves the others of a cluster running."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


def _stop_recorded(root: Path) -> None:
    state = json.loads((root / STATE_FILE).read_text())
    pids = [*state.get("gateway_pids", []), *(node.get("pid") for node in state["nodes"])]
    for pid in pids:
        if pid:
            try:
                os.kill(int(pid), signal.SIGTERM)
            except ProcessLookupError:
                continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.storage_cluster", description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--ec", metavar="K+M", help="erasure-code blobs (replicas must be K+M)")
    parser.add_argument("--gateways", type=int, default=1, help="S3 gateways sharing the nodes")
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "nimbus-storage-cluster"
    )
    args = parser.parse_args(argv)
    if args.command == "down":
        if (args.dir / STATE_FILE).exists():
            _stop_recorded(args.dir)
            shutil.rmtree(args.dir, ignore_errors=True)
        return 0
    if (args.dir / STATE_FILE).exists():
        print(f"{args.dir} holds a cluster; run `down` first", file=sys.stderr)
        return 1
    cluster = StorageCluster(
        args.dir, nodes=args.nodes, replicas=args.replicas, ec=args.ec, gateways=args.gateways
    )
    cluster.start()
    print(
        f"S3 endpoint {' '.join(cluster.endpoints)} over {args.nodes} storage nodes,"
        f" {args.replicas} replicas"
    )
    for member in cluster.members:
        print(f"  node {member.address} pid {member.pid} data {member.data}")
    print(
        f"export AWS_ACCESS_KEY_ID={cluster.access_key} AWS_SECRET_ACCESS_KEY={cluster.secret_key}"
    )
    print(f"stop with: python -m e2e.storage_cluster down --dir {args.dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
