"""ListObjectsV2 over HTTP against a bucket of a million keys: the end-to-end listing target.

    python -m bench.bench_list_http [--keys 1000000] [--pages 50]

Loads the keys of ``bench.bench_index`` into a bucket's index (bulk load, as that benchmark
does), starts ``nimbus-storage serve`` on the data directory, and times full ListObjectsV2
requests for pages of 1,000 — signature check, index walk, XML rendering and transfer — from one
client. Target (DESIGN section 6): under 50 ms per page.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
from nimbus_storage.store.catalog import Catalog

from bench.bench_index import DAYS, generate, percentile
from bench.bench_s3 import ACCESS_KEY, Server, Signer

BUCKET = "million"


def load(data: Path, keys: int) -> float:
    started = time.perf_counter()
    catalog = Catalog(data / "catalog")
    catalog.create_bucket(BUCKET, ACCESS_KEY)
    catalog.index(BUCKET).bulk_load(generate(keys))
    catalog.close()
    return time.perf_counter() - started


async def time_requests(
    session: aiohttp.ClientSession, endpoint: str, queries: list[str]
) -> list[float]:
    signer = Signer()
    samples = []
    for query in queries:
        url = f"{endpoint}/{BUCKET}?{query}"
        started = time.perf_counter()
        async with session.get(url, headers=signer.headers("GET", url)) as response:
            response.raise_for_status()
            body = await response.read()
        samples.append((time.perf_counter() - started) * 1000)
        if b"<KeyCount>" not in body:
            raise RuntimeError(f"unexpected answer to {query}: {body[:200]!r}")
    return samples


def scenarios(pages: int, keys: int) -> dict[str, list[str]]:
    hosts = max(1, keys // (len(DAYS) * 100))
    rng = random.Random(7)

    def after() -> str:
        day, host = rng.choice(DAYS), rng.randrange(hosts)
        return quote(f"logs/2026/11/{day}/host-{host:04d}/", safe="")

    return {
        "no delimiter, random start": [
            f"list-type=2&max-keys=1000&start-after={after()}" for _ in range(pages)
        ],
        "prefix of one day": [
            f"list-type=2&max-keys=1000&prefix=logs%2F2026%2F11%2F{rng.choice(DAYS)}%2F"
            for _ in range(pages)
        ],
        "delimiter / under a day": [
            f"list-type=2&max-keys=1000&delimiter=%2F&prefix=logs%2F2026%2F11%2F{rng.choice(DAYS)}%2F"
            for _ in range(pages)
        ],
    }


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="nimbus-bench-list-") as tmp:
        data = Path(tmp)
        print(f"loading {args.keys:,} keys ...", flush=True)
        print(f"  loaded in {load(data, args.keys):.1f} s")
        server = Server(data)
        try:
            print(f"gateway {server.endpoint}; {args.pages} requests per case, one client")
            print(f"{'case':<30}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
            async with aiohttp.ClientSession() as session:
                for name, queries in scenarios(args.pages, args.keys).items():
                    samples = await time_requests(session, server.endpoint, queries)
                    print(
                        f"{name:<30}{percentile(samples, 0.5):>10.1f}"
                        f"{percentile(samples, 0.99):>10.1f}{statistics.fmean(samples):>10.1f}"
                    )
            print(f"server peak RSS: {server.peak_rss_mib():.1f} MiB")
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=50)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
