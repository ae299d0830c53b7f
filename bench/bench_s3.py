"""S3 throughput and latency of a Nimbus gateway: PUT, GET, LIST, DELETE.

Starts ``nimbus-storage serve`` as a subprocess on a fresh data directory (fsync on, as in
production) — or, with ``--cluster N``, a gateway over N storage nodes from one ring — drives
it with concurrent SigV4-signed aiohttp requests, and prints ops/s, MB/s and p50/p99 latency
per phase and object size (and the CPU time the server's processes spent per operation, a
figure less disturbed by other load on the machine), plus the peak RSS after each size (the
memory-is-flat-in-object-size check). A benchmark, not a test: it prints figures, never fails
on them.

    python -m bench.bench_s3 [--sizes 4KiB,1MiB,16MiB] [--concurrency 8] [--budget 512MiB]
                             [--cluster 3 --replicas 3 [--ec 2+1]] [--sse none|sse-s3|sse-c]

``--sse``: every PUT asks for server-side encryption (SSE-S3 from a key store the benchmark
generates, or SSE-C with a fixed key every GET sends too), to measure what encryption costs.
SSE-C needs a secure connection: the gateway runs with ``--trust-forwarded-proto`` and the
requests say ``X-Forwarded-Proto: https``, as behind a proxy ending TLS, so the figures hold
the encryption's cost and not TLS's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ACCESS_KEY = "BENCHACCESSKEY"
SECRET_KEY = "bench-secret-key-not-for-production"
UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
SSE_MODES = ("none", "sse-s3", "sse-c")
_SSE_C_KEY = bytes(range(32))


def sse_headers(sse: str, method: str) -> dict[str, str]:
    """The SSE headers of a request of the benchmark: SSE-S3 on PUTs, SSE-C on PUTs and GETs."""
    if sse == "sse-s3" and method == "PUT":
        return {"x-amz-server-side-encryption": "AES256"}
    if sse == "sse-c" and method in ("PUT", "GET"):
        return {
            "X-Forwarded-Proto": "https",  # the gateway trusts it (--trust-forwarded-proto)
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": base64.b64encode(_SSE_C_KEY).decode(),
            "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(
                hashlib.md5(_SSE_C_KEY).digest()
            ).decode(),
        }
    return {}


def make_key_store(directory: Path) -> Path:
    """A key file with one SSE-S3 master key, for ``serve --sse-keys``."""
    from nimbus_storage.sse.keystore import main as keystore_tool

    path = directory / "sse-keys.json"
    keystore_tool(["generate", str(path)])
    return path


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+)(KiB|MiB|GiB)?", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"bad size {text!r}")
    return int(match.group(1)) * UNITS.get(match.group(2) or "", 1)


def human(size: int) -> str:
    for unit in ("GiB", "MiB", "KiB"):
        if size >= UNITS[unit] and size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]}{unit}"
    return f"{size}B"


@dataclass
class PhaseResult:
    name: str
    size: int
    latencies: list[float]
    elapsed: float
    bytes_moved: int
    cpu_seconds: float | None = None  # the server's processes' CPU time during the phase

    def row(self) -> str:
        ops = len(self.latencies) / self.elapsed if self.elapsed else 0.0
        mbs = self.bytes_moved / self.elapsed / 1e6 if self.elapsed else 0.0
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000 if ordered else 0.0
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else 0.0
        cpu = ""
        if self.cpu_seconds is not None and self.latencies:
            cpu = f"{self.cpu_seconds / len(self.latencies) * 1000:>10.2f}"
        return (
            f"{self.name:<7}{human(self.size):>7}{len(self.latencies):>8}{ops:>10.1f}"
            f"{mbs:>10.1f}{p50:>10.2f}{p99:>10.2f}{cpu}"
        )


class Signer:
    def __init__(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> None:
        self.auth = S3SigV4Auth(Credentials(access_key, secret_key), "s3", "us-east-1")
        self.unsigned_payload = Config(s3={"payload_signing_enabled": False})

    def headers(self, method: str, url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, headers=extra or {})
        # Sign UNSIGNED-PAYLOAD (as SDKs do for streaming uploads) so bodies are not hashed twice.
        request.context["client_config"] = self.unsigned_payload
        self.auth.add_auth(request)
        return dict(request.headers.items())


class Server:
    def __init__(self, data: Path, extra_args: tuple[str, ...] = ()) -> None:
        env = dict(os.environ, NIMBUS_ROOT_ACCESS_KEY=ACCESS_KEY, NIMBUS_ROOT_SECRET_KEY=SECRET_KEY)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nimbus_storage.cli",
                "serve",
                "--data",
                str(data),
                "--port",
                "0",
                "--log-level",
                "WARNING",
                *extra_args,
            ],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        match = re.search(r"(http://\S+)", first)
        if match is None:
            self.process.kill()
            raise RuntimeError(f"gateway did not start: {first!r}")
        self.endpoint = match.group(1)

    def peak_rss_mib(self) -> float:
        return _peak_rss_mib(self.process.pid)

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


async def run_phase(
    name: str,
    size: int,
    keys: list[str],
    concurrency: int,
    operation: Callable[[str], Awaitable[int]],
    *,
    cpu: Callable[[], float] | None = None,
) -> PhaseResult:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for key in keys:
        queue.put_nowait(key)
    latencies: list[float] = []
    moved = 0

    async def worker() -> None:
        nonlocal moved
        while not queue.empty():
            key = queue.get_nowait()
            started = time.perf_counter()
            count = await operation(key)  # read `moved` only after the await: no lost update
            moved += count
            latencies.append(time.perf_counter() - started)

    cpu_before = cpu() if cpu is not None else 0.0
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    used = cpu() - cpu_before if cpu is not None else None
    return PhaseResult(name, size, latencies, elapsed, moved, used)


async def bench_size(
    session: aiohttp.ClientSession,
    endpoint: str,
    size: int,
    count: int,
    concurrency: int,
    *,
    signer: Signer | None = None,
    sse: str = "none",
    cpu: Callable[[], float] | None = None,
) -> list[PhaseResult]:
    signer = signer or Signer()
    bucket = f"bench-{human(size).lower()}-{os.getpid()}"
    async with session.put(
        f"{endpoint}/{bucket}", headers=signer.headers("PUT", f"{endpoint}/{bucket}")
    ) as r:
        r.raise_for_status()
    payload = os.urandom(size)
    keys = [f"obj/{index:06d}" for index in range(count)]

    async def put(key: str) -> int:
        url = f"{endpoint}/{bucket}/{key}"
        encryption = sse_headers(sse, "PUT")
        headers = signer.headers("PUT", url, encryption) | {"Content-Length": str(size)}
        async with session.put(url, data=payload, headers=headers | encryption) as response:
            response.raise_for_status()
        return size

    async def get(key: str) -> int:
        url = f"{endpoint}/{bucket}/{key}"
        received = 0
        encryption = sse_headers(sse, "GET")
        headers = signer.headers("GET", url, encryption) | encryption
        async with session.get(url, headers=headers) as response:
            response.raise_for_status()
            async for chunk in response.content.iter_chunked(1024 * 1024):
                received += len(chunk)
        return received

    async def list_page(_key: str) -> int:
        url = f"{endpoint}/{bucket}?list-type=2&max-keys=1000"
        async with session.get(url, headers=signer.headers("GET", url)) as response:
            response.raise_for_status()
            return len(await response.read())

    async def delete(key: str) -> int:
        url = f"{endpoint}/{bucket}/{key}"
        async with session.delete(url, headers=signer.headers("DELETE", url)) as response:
            response.raise_for_status()
        return 0

    results = [
        await run_phase("PUT", size, keys, concurrency, put, cpu=cpu),
        await run_phase("GET", size, keys, concurrency, get, cpu=cpu),
        await run_phase(
            "LIST", size, keys[: max(20, count // 10)], concurrency, list_page, cpu=cpu
        ),
        await run_phase("DELETE", size, keys, concurrency, delete, cpu=cpu),
    ]
    url = f"{endpoint}/{bucket}"
    async with session.delete(url, headers=signer.headers("DELETE", url)) as response:
        response.raise_for_status()
    return results


def object_count(size: int, budget_bytes: int) -> int:
    return max(16, min(2000, budget_bytes // size))


class ClusterServer:
    """The same benchmark against a gateway over N storage nodes (tests.support.storage_cluster)."""

    def __init__(
        self,
        data: Path,
        nodes: int,
        replicas: int,
        ec: str | None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        from tests.support.storage_cluster import StorageCluster

        self.cluster = StorageCluster(
            data,
            nodes=nodes,
            replicas=replicas,
            fsync=True,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            ec=ec,
            gateway_args=extra_args,
        )
        self.cluster.start()
        self.endpoint = self.cluster.endpoint

    def peak_rss_mib(self) -> float:
        pids = [m.pid for m in self.cluster.members] + [
            self.cluster.gateway.pid if self.cluster.gateway else None
        ]
        return max(_peak_rss_mib(pid) for pid in pids if pid is not None)

    def cpu_seconds(self) -> float:
        pids = [m.pid for m in self.cluster.members] + [
            self.cluster.gateway.pid if self.cluster.gateway else None
        ]
        return sum(_cpu_seconds(pid) for pid in pids if pid is not None)

    def stop(self) -> None:
        self.cluster.stop()


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="nimbus-bench-") as data:
        server: Server | ClusterServer
        extra: tuple[str, ...] = ()
        if args.sse == "sse-s3":
            extra = ("--sse-keys", str(make_key_store(Path(data))))
        elif args.sse == "sse-c":
            extra = ("--trust-forwarded-proto",)  # SSE-C over "TLS ended at a proxy"
        if args.cluster:
            server = ClusterServer(Path(data) / "c", args.cluster, args.replicas, args.ec, extra)
            scheme = f"erasure coded {args.ec}" if args.ec else f"{args.replicas} replicas"
            layout = f"{args.cluster} storage nodes, {scheme}"
        else:
            server = Server(Path(data) / "s", extra)
            layout = "standalone"
        try:
            print(
                f"gateway {server.endpoint} ({layout}), concurrency {args.concurrency}, fsync on,"
                f" encryption {args.sse}"
            )
            print(
                f"{'phase':<7}{'size':>7}{'ops':>8}{'ops/s':>10}{'MB/s':>10}"
                f"{'p50 ms':>10}{'p99 ms':>10}{'CPU ms/op':>10}"
            )
            connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
            async with aiohttp.ClientSession(connector=connector) as session:
                for size in args.sizes:
                    count = object_count(size, args.budget)
                    for result in await bench_size(
                        session,
                        server.endpoint,
                        size,
                        count,
                        args.concurrency,
                        sse=args.sse,
                        cpu=server.cpu_seconds,
                    ):
                        print(result.row(), flush=True)
                    print(
                        f"  peak RSS (largest process) after {human(size)}:"
                        f" {server.peak_rss_mib():.1f} MiB"
                    )
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [parse_size(part) for part in text.split(",")],
        default=[4 * 1024, 1024**2, 16 * 1024**2],
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--cluster", type=int, default=0, help="run over N storage nodes (0: standalone)"
    )
    parser.add_argument("--replicas", type=int, default=3, help="with --cluster")
    parser.add_argument(
        "--ec", metavar="K+M", default=None, help="with --cluster: erasure-code (K+M = replicas)"
    )
    parser.add_argument(
        "--sse",
        choices=SSE_MODES,
        default="none",
        help="server-side encryption of every PUT (SSE-C: GETs send the key too)",
    )
    parser.add_argument(
        "--budget",
        type=parse_size,
        default=parse_size("512MiB"),
        help="bytes written per object size (sets the object count, 16..2000)",
    )
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
