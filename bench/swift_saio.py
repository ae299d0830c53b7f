"""OpenStack Swift "all in one" on 127.0.0.1, the baseline that bench/bench_compare.py measures
Nimbus against.

Swift is installed on demand, pinned, into its own virtualenv outside the repository
(``$XDG_CACHE_HOME/nimbus/swift-venv-<version>``, default ``~/.cache/nimbus/...``): it needs
eventlet and never shares an interpreter with Nimbus. ``SwiftServer`` then lays out a temporary
SAIO: ``swift.conf`` and account/container/object rings built with ``swift-ring-builder``
(part power 8; N "nodes", one device each, one zone each, R replicas on every ring), one account,
container and object server per node, a memcached, and one proxy whose pipeline carries
``s3api`` + ``tempauth`` (user ``test:tester``, key ``testing``), so that the same SigV4 client
drives it. Every server runs ``workers = 1`` (a parent and one worker process, as Swift forks
them) and Swift's defaults otherwise: the object server fsyncs each object and its directory,
the account and container servers keep SQLite databases. No background daemon (replicator,
updater, auditor) runs: the cluster is healthy and short-lived. Object data lands on
directories under the temporary root, which must support user xattrs (ext4 does; tmpfs on old
kernels, and some overlay setups, do not: ``SwiftServer`` checks and says so).

Logs go to a Unix datagram socket that ``SwiftServer`` reads into ``<root>/swift.log`` (this
machine has no ``/dev/log``; Swift would otherwise send syslog over UDP).

    python -m bench.swift_saio [--nodes 3 --replicas 3]   # start, print the endpoint, wait
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.bench_s3 import _peak_rss_mib

SWIFT_VERSION = "2.38.3"
# Swift and the dependencies that matter for its speed, pinned so runs compare.
SWIFT_REQUIREMENTS = (
    f"swift=={SWIFT_VERSION}",
    "eventlet==0.41.3",
    "greenlet==3.5.6",
    "PasteDeploy==3.1.0",
    "lxml==6.1.3",
    "xattr==1.3.0",
    "pyeclib==1.8.0",
)
S3_ACCESS_KEY = "test:tester"
S3_SECRET_KEY = "testing"
PART_POWER = 8
SERVER_KINDS = ("account", "container", "object")


def swift_venv() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "nimbus" / f"swift-venv-{SWIFT_VERSION}"


def ensure_swift() -> Path:
    """The ``bin`` directory of a virtualenv with Swift installed; creates it when missing."""
    venv = swift_venv()
    marker = venv / "installed.txt"
    wanted = "\n".join(SWIFT_REQUIREMENTS) + "\n"
    if marker.is_file() and marker.read_text() == wanted:
        return venv / "bin"
    print(f"installing OpenStack Swift {SWIFT_VERSION} into {venv} ...", file=sys.stderr)
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *SWIFT_REQUIREMENTS],
        check=True,
    )
    marker.write_text(wanted)
    return venv / "bin"


def ensure_memcached() -> str | None:
    """Path of ``memcached`` (every real Swift proxy has one: it caches account and container
    info and would otherwise HEAD both on every request); installs Debian's package when root."""
    found = shutil.which("memcached")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing memcached (apt-get) ...", file=sys.stderr)
        install = ["apt-get", "install", "-y", "-q", "memcached"]
        subprocess.run(install, check=False, capture_output=True)
        found = shutil.which("memcached")
        if found is None:  # a stale package list
            subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
            subprocess.run(install, check=False, capture_output=True)
            found = shutil.which("memcached")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check_xattrs(directory: Path) -> None:
    probe = directory / ".xattr-probe"
    probe.touch()
    try:
        os.setxattr(probe, "user.swift.probe", b"x" * 254)
    except OSError as error:
        raise RuntimeError(
            f"{directory} has no user xattrs ({error}); Swift stores object metadata in them:"
            " put the data on ext4/xfs (for example a loop-mounted ext4 image)"
        ) from error
    finally:
        probe.unlink()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text()
            found.extend(int(child) for child in text.split())
    return found


def _conf(sections: dict[str, dict[str, str]]) -> str:
    lines: list[str] = []
    for section, options in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in options.items())
        lines.append("")
    return "\n".join(lines)


class _LogSink:
    """A syslog socket for Swift's loggers (``log_address``), copied into a file."""

    def __init__(self, path: Path, output: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.output = output.open("ab")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                message = self.sock.recv(65536)
            except OSError:
                return
            if not message:  # shut down
                return
            self.output.write(message.rstrip(b"\0") + b"\n")
            self.output.flush()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=2)
        self.output.close()


class SwiftServer:
    """A Swift SAIO on ``root``: ``nodes`` account/container/object server triples, rings of
    ``replicas`` replicas, memcached and an s3api proxy. Same interface as bench_s3's
    ``Server``: ``endpoint``, ``access_key``/``secret_key``, ``peak_rss_mib()``, ``stop()``."""

    access_key = S3_ACCESS_KEY
    secret_key = S3_SECRET_KEY

    def __init__(self, root: Path, nodes: int = 1, replicas: int = 1) -> None:
        if replicas > nodes:
            raise ValueError(f"{replicas} replicas need at least as many nodes, not {nodes}")
        self.root = root
        self.bin = ensure_swift()
        check_xattrs(root)
        self.etc = root / "etc"
        self.etc.mkdir(parents=True, exist_ok=True)
        self.log = root / "swift.log"
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.children: list[int] = []
        self.sink = _LogSink(root / "log.sock", self.log)
        self.user = pwd.getpwuid(os.getuid()).pw_name
        try:
            self._start(nodes, replicas)
        except BaseException:
            self.stop()
            raise

    def _start(self, nodes: int, replicas: int) -> None:
        (self.etc / "swift.conf").write_text(
            _conf(
                {
                    "swift-hash": {
                        "swift_hash_path_prefix": "nimbus-bench-prefix",
                        "swift_hash_path_suffix": "nimbus-bench-suffix",
                    },
                    "storage-policy:0": {"name": "gold", "default": "yes"},
                }
            )
        )
        ports = {kind: [free_port() for _ in range(nodes)] for kind in SERVER_KINDS}
        for kind in SERVER_KINDS:
            self._build_ring(kind, replicas, ports[kind])
        memcached = ensure_memcached()
        cache_servers = ""
        if memcached is not None:
            cache_port = free_port()
            cache_servers = f"127.0.0.1:{cache_port}"
            command = [memcached, "-l", "127.0.0.1", "-p", str(cache_port), "-U", "0", "-m", "64"]
            if os.geteuid() == 0:
                command += ["-u", self.user]
            self._spawn("memcached", command)
            self._wait_tcp(cache_port)
        self.memcached = memcached is not None
        backends: list[str] = []
        for node in range(nodes):
            devices = self.root / f"node{node + 1}"
            (devices / f"d{node + 1}").mkdir(parents=True, exist_ok=True)
            for kind in SERVER_KINDS:
                port = ports[kind][node]
                conf = self.etc / f"{kind}-server-{node + 1}.conf"
                conf.write_text(self._backend_conf(kind, node, port, devices))
                server = str(self.bin / f"swift-{kind}-server")
                self._spawn(f"{kind}-{node + 1}", [server, str(conf)])
                backends.append(f"http://127.0.0.1:{port}/healthcheck")
        proxy_port = free_port()
        conf = self.etc / "proxy-server.conf"
        conf.write_text(self._proxy_conf(proxy_port, cache_servers))
        self._spawn("proxy", [str(self.bin / "swift-proxy-server"), str(conf)])
        for url in [*backends, f"http://127.0.0.1:{proxy_port}/healthcheck"]:
            self._wait_http(url)
        self.endpoint = f"http://127.0.0.1:{proxy_port}"
        for _name, process in self.processes:
            self.children.extend(_children(process.pid))

    def _build_ring(self, kind: str, replicas: int, ports: list[int]) -> None:
        builder = str(self.etc / f"{kind}.builder")
        ring_builder = str(self.bin / "swift-ring-builder")
        quiet = subprocess.DEVNULL
        create = [ring_builder, builder, "create", str(PART_POWER), str(replicas), "1"]
        subprocess.run(create, check=True, stdout=quiet)
        for index, port in enumerate(ports):
            device = f"r1z{index + 1}-127.0.0.1:{port}/d{index + 1}"
            subprocess.run([ring_builder, builder, "add", device, "100"], check=True, stdout=quiet)
        # Exit status 1 is a warning (e.g. "balance could be better"), 2 an error.
        done = subprocess.run([ring_builder, builder, "rebalance"], check=False, stdout=quiet)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"swift-ring-builder {kind} rebalance failed")

    def _default(self, name: str, port: int) -> dict[str, str]:
        return {
            "bind_ip": "127.0.0.1",
            "bind_port": str(port),
            "workers": "1",
            "user": self.user,
            "swift_dir": str(self.etc),
            "log_address": str(self.sink.path),
            "log_name": name,
            "log_level": "WARNING",
        }

    def _backend_conf(self, kind: str, node: int, port: int, devices: Path) -> str:
        defaults = self._default(f"{kind}-server-{node + 1}", port)
        defaults |= {"devices": str(devices), "mount_check": "false"}
        return _conf(
            {
                "DEFAULT": defaults,
                "pipeline:main": {"pipeline": f"healthcheck {kind}-server"},
                f"app:{kind}-server": {"use": f"egg:swift#{kind}"},
                "filter:healthcheck": {"use": "egg:swift#healthcheck"},
            }
        )

    def _proxy_conf(self, port: int, cache_servers: str) -> str:
        middlewares = [
            "catch_errors",
            "gatekeeper",
            "healthcheck",
            "proxy-logging",
            *(["cache"] if cache_servers else []),
            "listing_formats",
            "s3api",
            "tempauth",
            "copy",
            "slo",
            "dlo",
            "proxy-logging",
        ]
        sections: dict[str, dict[str, str]] = {
            "DEFAULT": self._default("proxy-server", port),
            "pipeline:main": {"pipeline": " ".join([*middlewares, "proxy-server"])},
            "app:proxy-server": {"use": "egg:swift#proxy", "account_autocreate": "true"},
        }
        for name in dict.fromkeys(middlewares):
            sections[f"filter:{name}"] = {"use": f"egg:swift#{name.replace('-', '_')}"}
        sections["filter:cache"] = {"use": "egg:swift#memcache", "memcache_servers": cache_servers}
        sections["filter:s3api"] |= {"location": "us-east-1"}
        sections["filter:tempauth"] |= {"user_test_tester": f"{S3_SECRET_KEY} .admin"}
        if not cache_servers:
            del sections["filter:cache"]
        return _conf(sections)

    def _spawn(self, name: str, command: list[str]) -> None:
        with (self.root / f"{name}.out").open("wb") as out:
            # Own session: Swift's parent signals its whole process group when it stops.
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append((name, process))

    def _check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                out = (self.root / f"{name}.out").read_text(errors="replace")
                tail = "\n".join(out.splitlines()[-20:])
                raise RuntimeError(f"swift {name} exited with {process.returncode}:\n{tail}")

    def _wait_tcp(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                return
            time.sleep(0.05)
        raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")

    def _wait_http(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{url} did not answer within {timeout:.0f} s; see {self.log}")

    def pids(self) -> list[int]:
        pids = [process.pid for _name, process in self.processes if process.poll() is None]
        return pids + [child for pid in pids for child in _children(pid)]

    def peak_rss_mib(self) -> float:
        """The peak RSS of the largest Swift process (as bench_s3 reports Nimbus's)."""
        peaks = []
        for pid in self.pids():
            with contextlib.suppress(OSError):
                peaks.append(_peak_rss_mib(pid))
        return max(peaks, default=0.0)

    def stop(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for _name, process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        # Workers are in their parent's process group, which the parent signals on SIGTERM;
        # any left over (still in a group we created) is killed by its recorded PID.
        groups = {process.pid for _name, process in self.processes}
        for child in self.children:
            with contextlib.suppress(OSError):
                if os.getpgid(child) in groups:
                    os.kill(child, signal.SIGKILL)
        self.processes = []
        self.sink.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swift-saio-") as root:
        server = SwiftServer(Path(root), args.nodes, args.replicas)
        try:
            print(f"{server.endpoint} access key {server.access_key} secret {server.secret_key}")
            print(f"data and logs under {root}; Ctrl-C stops", flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()


if __name__ == "__main__":
    main()
