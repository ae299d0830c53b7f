"""Operator benchmark: how long N Buckets take to become Ready, and the operator's memory.

    python -m bench.bench_operator [--buckets 1000] [--address-block 3]

Starts its own local cluster (an address block of its own, so it can run beside another),
installs Nimbus from helm/nimbus, makes a one-node ObjectStore (one replica: the store is not
what is measured), then creates N Buckets as fast as the API server takes them and polls until
every one reports ``phase: Ready``. Prints the time to the first and to the last Ready, Buckets
per second, and the operator process's resident memory (peak of samples every second, read
from /proc: the operator runs as a local process under the node agent). Target: 1,000 Buckets
Ready in under 60 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config

from e2e.cluster import Cluster, ensure_built
from e2e.cluster.catalog import BinaryPaths

REPO = Path(__file__).resolve().parents[1]
GROUP, VERSION = "storage.nimbus.dev", "v1alpha1"
NAMESPACE = "bench"
TARGET_SECONDS = 60.0


def operator_rss_kib(run_dir: Path) -> int:
    """Resident memory of this cluster's nimbus-operator process, in KiB (its root directory,
    a container's, is under the cluster's run directory)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            status = (entry / "status").read_text()
            root = os.readlink(entry / "root")
        except OSError:
            continue
        ours = root.startswith(str(run_dir))
        if ours and any(arg.endswith(b"nimbus-operator") for arg in cmdline[:2]):
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


class MemorySampler(threading.Thread):
    def __init__(self, run_dir: Path) -> None:
        super().__init__(daemon=True)
        self.run_dir = run_dir
        self.peak_kib = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak_kib = max(self.peak_kib, operator_rss_kib(self.run_dir))
            self.stop.wait(1.0)


def helm_install(kubeconfig: Path) -> None:
    subprocess.run(
        [
            str(BinaryPaths.from_cache().helm), "upgrade", "--install", "nimbus",
            str(REPO / "helm" / "nimbus"), "--namespace", "nimbus-system", "--create-namespace",
            "--wait", "--timeout", "180s",
        ],
        env=dict(os.environ, KUBECONFIG=str(kubeconfig)),
        check=True,
        capture_output=True,
    )  # fmt: skip


def wait_store(api: client.CustomObjectsApi) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        store: Any = api.get_namespaced_custom_object(
            GROUP, VERSION, NAMESPACE, "objectstores", "store"
        )
        if (store.get("status") or {}).get("phase") == "Ready":
            return
        time.sleep(1)
    raise SystemExit("the ObjectStore did not become Ready in 300 s")


def ready_count(api: client.CustomObjectsApi) -> int:
    listed: Any = api.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "buckets")
    return sum(1 for item in listed["items"] if (item.get("status") or {}).get("phase") == "Ready")


def run(buckets: int, kubeconfig: Path, run_dir: Path) -> None:
    api_client = config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]
    core = client.CoreV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    helm_install(kubeconfig)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    store = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ObjectStore",
        "metadata": {"name": "store"},
        "spec": {"nodes": {"count": 1, "volumeSize": "1Gi"}, "gateway": {"replicas": 1}},
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "objectstores", store)
    wait_store(custom)
    idle_kib = operator_rss_kib(run_dir)
    sampler = MemorySampler(run_dir)
    sampler.start()
    started = time.monotonic()
    for index in range(buckets):
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Bucket",
            "metadata": {"name": f"bucket-{index:05d}"},
            "spec": {"storeRef": {"name": "store"}},
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "buckets", body)
        if index % 100 == 99:
            print(f"  created {index + 1}/{buckets}", file=sys.stderr, flush=True)
    created = time.monotonic() - started
    first_ready: float | None = None
    done = 0
    while done < buckets:
        done = ready_count(custom)
        elapsed = time.monotonic() - started
        if done and first_ready is None:
            first_ready = elapsed
        print(f"  {done}/{buckets} Ready after {elapsed:.0f} s", file=sys.stderr, flush=True)
        if elapsed > 30 * 60:
            raise SystemExit(f"only {done} of {buckets} Ready after 30 minutes")
        if done < buckets:
            time.sleep(2)
    total = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    rate = buckets / total
    print(f"\n{buckets} Buckets on a 1-node store, operator as a pod (kopf), 2 cores:")
    print(f"  created in         {created:7.1f} s ({buckets / created:.0f}/s via the API server)")
    print(f"  first Ready after  {first_ready or 0:7.1f} s")
    print(f"  all Ready after    {total:7.1f} s ({rate:.1f}/s; target < {TARGET_SECONDS:.0f} s)")
    idle, peak = idle_kib / 1024, sampler.peak_kib / 1024
    print(f"  operator RSS       {idle:7.1f} MiB idle, {peak:.1f} MiB peak")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_operator", description=__doc__)
    parser.add_argument("--buckets", type=int, default=1000)
    parser.add_argument("--address-block", type=int, default=3)
    args = parser.parse_args()
    ensure_built()
    cluster = Cluster(
        Path(tempfile.mkdtemp(prefix="nimbus-bench-")), address_block=args.address_block
    )
    cluster.start()
    try:
        run(args.buckets, cluster.kubeconfig, cluster.run_dir)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
