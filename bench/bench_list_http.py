"""ListObjectsV2 over HTTP against a bucket of a million keys: the end-to-end listing target.

    python -m bench.bench_list_http [--keys 1000000] [--pages 50] [--cluster 3]

Loads the keys of ``bench.bench_index`` into a bucket's index (bulk load, as that benchmark
does), starts ``nimbus-storage serve`` on the data directory, and times full ListObjectsV2
requests for pages of 1,000 — signature check, index walk, XML rendering and transfer — from one
client. Target (DESIGN section 6): under 50 ms per page.

With ``--cluster N`` the index is replicated on N storage nodes (3 replicas): the load writes
one replica and copies it to the other primaries, and every page travels node -> gateway ->
client.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
import boto3
from nimbus_storage.meta.catalog import Catalog
from nimbus_storage.meta.db_names import bucket_db
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.ring import Ring

from bench.bench_index import DAYS, generate, percentile
from bench.bench_s3 import ACCESS_KEY, SECRET_KEY, ClusterServer, Server, Signer
from tests.support.storage_cluster import StorageCluster

BUCKET = "million"


def load_replicas(cluster: StorageCluster, keys: int) -> float:
    """Create the bucket through the gateway, then bulk-load its index replicas on the nodes."""
    started = time.perf_counter()
    boto3.client(
        "s3",
        endpoint_url=cluster.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    ).create_bucket(Bucket=BUCKET)
    ring = Ring.load(cluster.ring_path)
    name = bucket_db(BUCKET)
    partition = ring.partition(name)
    paths = [
        member.data / device.device / "dbs" / str(partition) / f"{name}.sqlite"
        for device in ring.primaries(partition)
        for member in cluster.members
        if member.address == device.node
    ]
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    index = BucketIndex(paths[0])
    index.bulk_load(generate(keys))
    index.close()
    for path in paths[1:]:  # identical replicas: the replicator has nothing to send
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(paths[0], path)
    return time.perf_counter() - started


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
        server: Server | ClusterServer
        print(f"loading {args.keys:,} keys ...", flush=True)
        if args.cluster:
            server = ClusterServer(data / "cluster", args.cluster, 3, None)
            print(f"  loaded 3 replicas in {load_replicas(server.cluster, args.keys):.1f} s")
        else:
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
            print(f"largest server process, peak RSS: {server.peak_rss_mib():.1f} MiB")
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument(
        "--cluster", type=int, default=0, help="replicate the index on N storage nodes"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
