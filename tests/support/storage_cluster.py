"""``python -m tests.support.storage_cluster up|down`` — a storage cluster on loopback, from one
ring (run it from the repository root, as ``.venv/bin/python -m ...``).

Builds a ring of N storage nodes (one device each, zones a, b, c, ...), starts every node and
one S3 gateway as real processes (``nimbus-storage node`` / ``nimbus-storage serve --ring``) on
127.0.0.1, and prints how to reach it. ``up`` checks its arguments before it starts anything
(``--ec 4+2`` needs 6 nodes); the state file is written before the first process starts, so
``down`` stops whatever an interrupted ``up`` left, and an ``up`` that fails stops what it
started and removes its directory.

Tests and benchmarks use the ``StorageCluster`` class; fault tests stop and restart single
nodes by PID, cut nodes listed in ``proxied`` off the network with ``partition`` (a FaultProxy
from tests/support/faultproxy.py stands at their ring address), and ``add_node`` grows a
running cluster (ring rebalanced and republished, the new node started); ``set_weight`` and
``remove_node`` drain a node and take it out. The timing the cluster runs with (node timeouts,
replication interval and rate, how often the gateway rereads the ring) are fields and
properties here, so tests derive their waits from them (tests/support/waiting.py).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from nimbus_storage.cluster.ec_layout import ECPolicy
from nimbus_storage.gateway.config import NODE_CONNECT_TIMEOUT, NODE_TIMEOUT
from nimbus_storage.node.replicator import ReplicatorSettings
from nimbus_storage.ring import RingBuilder
from nimbus_storage.ring.watch import RingFile

from tests.support.faultproxy import FaultProxy, Mode
from tests.support.tls import TlsFiles

ZONES = "abcdefghijklmnopqrstuvwxyz"
STATE_FILE = "cluster.json"
PROG = "python -m tests.support.storage_cluster"
GATEWAY_RING_CHECK: float = inspect.signature(RingFile).parameters["check_interval"].default
"""Seconds a gateway goes on with a ring before it looks at the file again (nodes look at
every use)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def layout_problems(nodes: int, replicas: int, ec: str | None, gateways: int = 1) -> list[str]:
    """What is wrong with a cluster of ``nodes`` single-device nodes holding ``replicas`` copies
    (erasure-coded ``ec`` = "K+M" when given) behind ``gateways`` gateways; [] when it can run."""
    problems = []
    if nodes < 1:
        problems.append(f"a cluster needs at least 1 node, not {nodes}")
    if gateways < 1:
        problems.append(f"a cluster needs at least 1 gateway, not {gateways}")
    if replicas < 1:
        problems.append(f"the ring needs at least 1 replica, not {replicas}")
    enough_nodes_checked = False
    if ec:
        try:
            policy = ECPolicy.parse(ec)
        except ValueError as exc:
            problems.append(str(exc))
        else:
            if replicas != policy.fragments:
                problems.append(
                    f"erasure coding {policy} stores {policy.fragments} fragment archives per"
                    f" object: the ring needs {policy.fragments} replicas, not {replicas}"
                )
            if nodes < policy.fragments:
                enough_nodes_checked = True
                problems.append(
                    f"erasure coding {policy} needs at least {policy.fragments} nodes (one per"
                    f" fragment archive), not {nodes}"
                )
    if not enough_nodes_checked and nodes >= 1 and replicas > nodes:
        problems.append(
            f"{replicas} replicas need at least {replicas} nodes (one device each), not {nodes}"
        )
    return problems


def _wait_http(
    url: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float,
    context: ssl.SSLContext | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(f"{url} exited with {process.returncode}:\n" + "\n".join(tail))
        try:
            with urllib.request.urlopen(url, timeout=1, context=context):
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
    """Seconds between the starts of two replication (or reconstruction) passes on a node."""
    replicate_items_per_second: float = ReplicatorSettings().items_per_second
    """Objects a node's replicator pushes per second (0: unlimited)."""
    node_connect_timeout: float = NODE_CONNECT_TIMEOUT
    """The gateways' ``--node-connect-timeout``: seconds to reach a node."""
    node_timeout: float = NODE_TIMEOUT
    """The gateways' ``--node-timeout``: seconds a node may stay silent mid-request."""
    start_timeout: float = 60.0
    """Seconds a started node or gateway has to answer its health check."""
    ec: str | None = None  # "K+M": the gateway erasure-codes blobs (replicas must be K+M)
    device_sizes: dict[int, str] = field(default_factory=dict)
    """Node index -> tmpfs size ("2m"): that node's device is a tiny filesystem of its own."""
    proxied: tuple[int, ...] = ()
    """Node indexes put behind a FaultProxy: the ring names the proxy; see ``partition``."""
    gateway_args: tuple[str, ...] = ()
    """More ``nimbus-storage serve`` options for every gateway, e.g. ("--no-janitor",)."""
    node_args: tuple[str, ...] = ()
    """More ``nimbus-storage node`` options for every node, e.g. ("--audit-interval", "1")."""
    proxies: dict[int, FaultProxy] = field(default_factory=dict)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    access_key: str = "NIMBUSCLUSTER"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    gateways: int = 1
    """S3 gateways serving the cluster at once (each with its own port and data dir)."""
    tls: TlsFiles | None = None
    """Gateways serve HTTPS with this certificate (``--tls-cert`` / ``--tls-key``); clients
    trust ``tls.ca``. None: plain HTTP."""
    members: list[NodeProcess] = field(default_factory=list)
    gateway_processes: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    gateway_ports: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        problems = layout_problems(self.nodes, self.replicas, self.ec, self.gateways)
        for what, indexes in (("proxied", self.proxied), ("device_sizes", self.device_sizes)):
            problems += [
                f"{what} names node {i}; the nodes are 0..{self.nodes - 1}"
                for i in indexes
                if not 0 <= i < self.nodes
            ]
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def gateway(self) -> subprocess.Popen[bytes] | None:
        return self.gateway_processes[0] if self.gateway_processes else None

    @property
    def gateway_port(self) -> int:
        return self.gateway_ports[0] if self.gateway_ports else 0

    @property
    def endpoints(self) -> list[str]:
        return [f"{self.scheme}://127.0.0.1:{port}" for port in self.gateway_ports]

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def ring_path(self) -> Path:
        return self.root / "ring.json"

    @property
    def builder_path(self) -> Path:
        return self.root / "builder.json"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.gateway_port}"

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

    @property
    def ring_reload_seconds(self) -> float:
        """The longest every process of the cluster takes to use a newly published ring."""
        return GATEWAY_RING_CHECK

    def replication_pass_seconds(self, items: int) -> float:
        """How long one node's replication pass over ``items`` objects takes at most, as
        configured: the wait for the pass to start, then pushing at the configured rate."""
        rate = self.replicate_items_per_second
        return self.replicate_interval + (items / rate if rate > 0 else 0.0)

    def replication_seconds(self, items: int, passes: int = 2) -> float:
        """How long the replicators (or reconstructors) take, as configured, to bring ``items``
        objects where they belong after a change: a pass already under way may have begun
        before the change and miss it, so ``passes`` (2) whole passes."""
        return passes * self.replication_pass_seconds(items)

    @property
    def request_seconds(self) -> float:
        """The longest one gateway request waits on the nodes when every node is slow or gone:
        reaching each node and its silence, for every node the gateway may try in turn."""
        return len(self.members or range(self.nodes)) * (
            self.node_connect_timeout + self.node_timeout
        )

    def start(self) -> None:
        """Build the ring (unless built), start the proxies, nodes and gateways. The state file
        is written before the first process starts and again as each one does; if anything fails
        to start, whatever was started is stopped before the error is raised."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            if not self.members:
                self.build_ring()
            self.save_state()
            for proxy in self.proxies.values():
                proxy.start()
            for index in range(len(self.members)):
                self.start_node(index)
            for index in range(self.gateways):
                self.start_gateway(index)
        except BaseException:
            self.stop()
            raise
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
        command += ["--replicate-items-per-second", str(self.replicate_items_per_second)]
        if not self.fsync:
            command.append("--no-fsync")
        command += self.node_args
        if index in self.device_sizes:
            command = in_tmpfs(member.data / "d0", self.device_sizes[index], command)
        with member.log.open("ab") as sink:
            member.process = subprocess.Popen(
                command, stdout=sink, stderr=sink, env=self._env(), start_new_session=True
            )
        self.save_state()
        listen = member.listen or member.address
        url = f"http://{listen}/_nimbus/healthz"
        _wait_http(url, member.process, member.log, self.start_timeout)

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
        command += ["--node-connect-timeout", str(self.node_connect_timeout)]
        command += ["--node-timeout", str(self.node_timeout)]
        if not self.fsync:
            command.append("--no-fsync")
        if self.ec:
            command += ["--ec", self.ec]
        if index:
            command.append("--no-janitor")  # lifecycle sweeps run on the first gateway only
        if self.tls:
            command += ["--tls-cert", str(self.tls.cert), "--tls-key", str(self.tls.key)]
        command += self.gateway_args
        with log.open("ab") as sink:
            process = subprocess.Popen(
                command, stdout=sink, stderr=sink, env=self._env(), start_new_session=True
            )
        self.gateway_processes[index] = process
        self.save_state()
        context = self.tls.client_context() if self.tls else None
        url = f"{self.scheme}://127.0.0.1:{port}/_nimbus/readyz"
        _wait_http(url, process, log, self.start_timeout, context)

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
        """Record how to reach the cluster and every process started so far (``down`` reads
        it), atomically."""
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
        path = self.root / STATE_FILE
        staged = path.with_name(f".{STATE_FILE}.tmp")
        staged.write_text(json.dumps(state, indent=2))
        staged.replace(path)


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


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _cluster_process(pid: int, root: Path) -> bool:
    """Whether ``pid`` is a node or gateway of the cluster in ``root`` (not a process that got
    a recorded PID after the cluster's process ended)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return "nimbus_storage.cli" in args and any(a.startswith(f"{root}/") for a in args)


def cluster_processes(root: Path) -> list[int]:
    """The running nodes and gateways of the cluster in ``root``, recorded or not (from /proc)."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return sorted(pid for pid in pids if _cluster_process(pid, root) and _alive(pid))


def stop_recorded(root: Path, grace: float = 15.0) -> list[int]:
    """Stop the processes ``root``'s state file records, and any other node or gateway running
    with its data under ``root`` (one an ``up`` killed mid-start had started but not recorded
    yet): SIGTERM, SIGKILL after ``grace`` seconds, and wait for them to end. Only processes of
    this cluster are signalled. Returns the PIDs that were running."""
    state = json.loads((root / STATE_FILE).read_text())
    recorded = [*state.get("gateway_pids", []), *(node.get("pid") for node in state["nodes"])]
    running = {int(pid) for pid in recorded if pid and _cluster_process(int(pid), root)}
    running.update(cluster_processes(root))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in running:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(pid) for pid in running):
            time.sleep(0.05)
        if not any(_alive(pid) for pid in running):
            break
    return sorted(running)


def _empty(directory: Path, *, keep: bool) -> None:
    if not keep:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _down(root: Path) -> int:
    if not (root / STATE_FILE).exists():
        if root.exists():
            print(f"{root} records no cluster ({STATE_FILE}): nothing to stop", file=sys.stderr)
        return 0
    stopped = stop_recorded(root)
    shutil.rmtree(root, ignore_errors=True)
    print(f"stopped {len(stopped)} processes; removed {root}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument(
        "--replicas",
        type=int,
        default=None,
        help="copies of each object (default 3; K+M with --ec)",
    )
    parser.add_argument("--ec", metavar="K+M", help="erasure-code blobs (needs K+M nodes)")
    parser.add_argument("--gateways", type=int, default=1, help="S3 gateways sharing the nodes")
    parser.add_argument(
        "--gateway-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more `nimbus-storage serve` argument for every gateway (repeatable), as"
        " --gateway-arg=--node-timeout=3",
    )
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "nimbus-storage-cluster"
    )
    args = parser.parse_args(argv)
    root: Path = args.dir.absolute()
    if args.command == "down":
        return _down(root)
    replicas = args.replicas
    if replicas is None:
        try:
            replicas = ECPolicy.parse(args.ec).fragments if args.ec else 3
        except ValueError:
            replicas = 3  # layout_problems says what is wrong with --ec
    problems = layout_problems(args.nodes, replicas, args.ec, args.gateways)
    if problems:
        for problem in problems:
            print(f"{PROG} up: {problem}", file=sys.stderr)
        print(f"{PROG} up: nothing started", file=sys.stderr)
        return 2
    if (root / STATE_FILE).exists():
        print(f"{root} holds a cluster; run `down` first", file=sys.stderr)
        return 1
    existed = root.exists()
    if existed and any(root.iterdir()):
        print(
            f"{root} is not empty and records no cluster ({STATE_FILE}): remove it or choose"
            " another --dir",
            file=sys.stderr,
        )
        return 1
    cluster = StorageCluster(
        root,
        nodes=args.nodes,
        replicas=replicas,
        ec=args.ec,
        gateways=args.gateways,
        gateway_args=tuple(args.gateway_arg),
    )
    try:
        cluster.start()  # stops whatever it started if a start fails
    except BaseException as exc:
        _empty(root, keep=existed)
        if not isinstance(exc, Exception):
            raise
        print(f"{PROG} up failed: {exc}", file=sys.stderr)
        print(
            f"nothing left running; {root} {'emptied' if existed else 'removed'}", file=sys.stderr
        )
        return 1
    print(
        f"S3 endpoint {' '.join(cluster.endpoints)} over {args.nodes} storage nodes,"
        f" {replicas} replicas{f' (erasure coded {args.ec})' if args.ec else ''}"
    )
    for member in cluster.members:
        print(f"  node {member.address} pid {member.pid} data {member.data}")
    print(
        f"export AWS_ACCESS_KEY_ID={cluster.access_key} AWS_SECRET_ACCESS_KEY={cluster.secret_key}"
    )
    print(f"stop with: .venv/bin/{PROG} down --dir {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
