"""Bucket index benchmark: ListObjectsV2 pages over a million keys.

    python -m bench.bench_index [--keys 1000000] [--pages 50]

Builds one bucket index with keys shaped like ``logs/2026/11/25/host-0017/file-000123.gz``
(4 days x 2,500 hosts x 100 files for a million keys). Setup uses ``BucketIndex.bulk_load`` (one
transaction, keys in order, no per-write checks); the timed part uses the same code the gateway
calls. Reports p50/p99 per page of 1,000 for:

* no delimiter, paging from random start points (one range scan per page);
* a prefix covering one day (250,000 keys);
* delimiter "/" under a day: every entry of the page is a common prefix, i.e. 1,000 seeks;
* delimiter "/" under one host (100 plain keys);

and the latency of ``put_version`` into the full index. Target: < 50 ms per page.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from nimbus_storage.meta.api import ListPage, ObjectVersion
from nimbus_storage.meta.index import BucketIndex

DAYS = ("22", "23", "24", "25")
FILES_PER_HOST = 100
PAGE = 1000
TARGET_MS = 50.0


def key_for(day: str, host: int, file: int) -> str:
    return f"logs/2026/11/{day}/host-{host:04d}/file-{file:06d}.gz"


def generate(total: int) -> Iterator[ObjectVersion]:
    hosts = max(1, total // (len(DAYS) * FILES_PER_HOST))
    made = 0
    for day in DAYS:
        for host in range(hosts):
            for file in range(FILES_PER_HOST):
                if made == total:
                    return
                key = key_for(day, host, file)
                yield ObjectVersion(
                    key, "null", 1764028800.0 + made, f"{made:032x}", 4096, f"blob/{key}"
                )
                made += 1


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def time_pages(
    label: str, pages: int, next_page: Callable[[str], ListPage], starts: Callable[[], str]
) -> list[float]:
    """Time ``pages`` pages, following next_marker and restarting at ``starts()`` at the end."""
    samples: list[float] = []
    marker = starts()
    items = 0
    while len(samples) < pages:
        began = time.perf_counter()
        page = next_page(marker)
        samples.append((time.perf_counter() - began) * 1000)
        items += len(page.entries) + len(page.common_prefixes)
        marker = page.next_marker if page.is_truncated and page.next_marker else starts()
    p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
    verdict = "ok" if p99 < TARGET_MS else "OVER TARGET"
    print(
        f"{label:<34} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  "
        f"({items / len(samples):.0f} items/page)  {verdict}"
    )
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(7)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        index = BucketIndex(path)
        began = time.perf_counter()
        loaded = index.bulk_load(generate(args.keys))
        build = time.perf_counter() - began
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        print(f"built {loaded:,} keys in {build:.1f} s ({size_mb:.0f} MB on disk)")
        hosts = max(1, args.keys // (len(DAYS) * FILES_PER_HOST))

        def random_key() -> str:
            return key_for(rng.choice(DAYS), rng.randrange(hosts), rng.randrange(FILES_PER_HOST))

        time_pages(
            "no delimiter, random starts",
            args.pages,
            lambda m: index.list_objects(start_after=m, max_keys=PAGE),
            random_key,
        )
        time_pages(
            "prefix logs/2026/11/24/",
            args.pages,
            lambda m: index.list_objects("logs/2026/11/24/", start_after=m, max_keys=PAGE),
            lambda: "",
        )
        time_pages(
            "delimiter / under logs/2026/11/25/",
            args.pages,
            lambda m: index.list_objects("logs/2026/11/25/", "/", start_after=m, max_keys=PAGE),
            lambda: "",
        )
        host_prefix = "logs/2026/11/23/host-0017/"
        time_pages(
            "delimiter / under one host",
            args.pages,
            lambda m: index.list_objects(host_prefix, "/", start_after=m, max_keys=PAGE),
            lambda: "",
        )

        writes: list[float] = []
        for n in range(500):
            version = ObjectVersion(random_key(), "null", 1.0, f"{n:032x}", 1, "blob")
            began = time.perf_counter()
            index.put_version(version, "")
            writes.append((time.perf_counter() - began) * 1000)
        print(
            f"{'put_version (overwrite) x500':<34} p50 {percentile(writes, 0.5):7.2f} ms"
            f"  p99 {percentile(writes, 0.99):7.2f} ms"
        )
        index.close()


if __name__ == "__main__":
    main()
