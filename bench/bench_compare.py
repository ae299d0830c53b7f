"""Nimbus next to OpenStack Swift: the same S3 phases, client and machine, in one run.

For each layout, starts Nimbus (as bench_s3 does), runs PUT/GET/LIST/DELETE per object size,
stops it, then does the same against a Swift all-in-one (bench/swift_saio.py: s3api + tempauth
proxy, Swift installed on demand into a cached virtualenv), and prints one table with ops/s,
MB/s and p50 of both and the Nimbus/Swift ratio of ops/s. Layouts:

* ``standalone``: Nimbus ``serve`` on one data directory vs Swift with 1 replica on 1 device
  (one account, container, object server and a proxy);
* ``cluster``: a Nimbus gateway over 3 storage nodes, 3 replicas, vs Swift with 3 replicas on
  3 nodes (3 account, 3 container, 3 object servers, one proxy).

Both fsync object data (Nimbus: fsync on, as in production; Swift: its defaults). A benchmark,
not a test: it prints figures, never fails on them.

    python -m bench.bench_compare [--layout standalone|cluster|both] [--sizes 4KiB,1MiB,16MiB]
                                  [--concurrency 8] [--budget 256MiB]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp

from bench.bench_s3 import (
    ClusterServer,
    PhaseResult,
    Server,
    Signer,
    bench_size,
    human,
    object_count,
    parse_size,
)
from bench.swift_saio import SWIFT_VERSION, SwiftServer


class Target(Protocol):
    endpoint: str

    def peak_rss_mib(self) -> float: ...

    def stop(self) -> None: ...


@dataclass
class Figures:
    ops: float
    mbs: float
    p50: float

    @classmethod
    def of(cls, result: PhaseResult) -> Figures:
        ops = len(result.latencies) / result.elapsed if result.elapsed else 0.0
        mbs = result.bytes_moved / result.elapsed / 1e6 if result.elapsed else 0.0
        p50 = statistics.median(result.latencies) * 1000 if result.latencies else 0.0
        return cls(ops, mbs, p50)


@dataclass
class Run:
    results: dict[tuple[str, int], Figures]
    peak_rss: dict[int, float]


async def measure(target: Target, signer: Signer, label: str, args: argparse.Namespace) -> Run:
    sizes: list[int] = args.sizes
    concurrency: int = args.concurrency
    run = Run({}, {})
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        for size in sizes:
            count = object_count(size, args.budget)
            for result in await bench_size(
                session, target.endpoint, size, count, concurrency, signer=signer
            ):
                figures = Figures.of(result)
                run.results[(result.name, size)] = figures
                print(
                    f"  {label:<7}{result.name:<7}{human(size):>7}{len(result.latencies):>6} ops"
                    f"{figures.ops:>9.1f} ops/s{figures.mbs:>8.1f} MB/s p50 {figures.p50:.2f} ms",
                    flush=True,
                )
            run.peak_rss[size] = target.peak_rss_mib()
    return run


def table(title: str, nimbus: Run, swift: Run, sizes: list[int]) -> str:
    columns = f"{'ops/s':>8}{'MB/s':>8}{'p50 ms':>8}"
    lines = [
        title,
        f"{'':<13} | {'Nimbus':^24} | {'Swift ' + SWIFT_VERSION:^24} |",
        f"{'phase':<7}{'size':>6} | {columns} | {columns} | {'N/S':>5}",
    ]
    lines.append("-" * len(lines[-1]))
    for size in sizes:
        for phase in ("PUT", "GET", "LIST", "DELETE"):
            n = nimbus.results[(phase, size)]
            s = swift.results[(phase, size)]
            ratio = n.ops / s.ops if s.ops else float("inf")
            lines.append(
                f"{phase:<7}{human(size):>6} | {n.ops:>8.1f}{n.mbs:>8.1f}{n.p50:>8.2f} |"
                f" {s.ops:>8.1f}{s.mbs:>8.1f}{s.p50:>8.2f} | {ratio:>5.2f}"
            )
    rss_n = max(nimbus.peak_rss.values(), default=0.0)
    rss_s = max(swift.peak_rss.values(), default=0.0)
    lines.append(f"peak RSS of the largest process: Nimbus {rss_n:.1f} MiB, Swift {rss_s:.1f} MiB")
    return "\n".join(lines)


async def compare(layout: str, args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="nimbus-compare-") as data:
        nimbus: Target
        if layout == "cluster":
            nimbus = ClusterServer(Path(data) / "nimbus", nodes=3, replicas=3, ec=None)
            description = "3 nodes, 3 replicas"
        else:
            (Path(data) / "nimbus").mkdir()
            nimbus = Server(Path(data) / "nimbus")
            description = "standalone / 1 replica on 1 device"
        print(f"{layout}: Nimbus at {nimbus.endpoint}", flush=True)
        try:
            nimbus_run = await measure(nimbus, Signer(), "nimbus", args)
        finally:
            nimbus.stop()
        (Path(data) / "swift").mkdir()
        nodes = 3 if layout == "cluster" else 1
        swift = SwiftServer(Path(data) / "swift", nodes=nodes, replicas=nodes)
        memcache = "with memcached" if swift.memcached else "NO memcached"
        print(f"{layout}: Swift at {swift.endpoint} ({memcache})", flush=True)
        try:
            swift_signer = Signer(swift.access_key, swift.secret_key)
            swift_run = await measure(swift, swift_signer, "swift", args)
        finally:
            swift.stop()
    return table(
        f"{layout} ({description}), concurrency {args.concurrency}, fsync on; N/S = ops/s ratio",
        nimbus_run,
        swift_run,
        args.sizes,
    )


async def main_async(args: argparse.Namespace) -> None:
    layouts = ["standalone", "cluster"] if args.layout == "both" else [args.layout]
    tables = [await compare(layout, args) for layout in layouts]
    print()
    print("\n\n".join(tables))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=["standalone", "cluster", "both"], default="both")
    parser.add_argument(
        "--sizes",
        type=lambda text: [parse_size(part) for part in text.split(",")],
        default=[4 * 1024, 1024**2, 16 * 1024**2],
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--budget",
        type=parse_size,
        default=parse_size("256MiB"),
        help="bytes written per object size and system (sets the object count, 16..2000)",
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
