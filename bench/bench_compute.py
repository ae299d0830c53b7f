"""Compute benchmark: VirtualServer -> VirtualMachine latency for N servers, and the operator's
memory.

    python -m bench.bench_compute [--servers 1000] [--address-block 4]

Starts its own local cluster (KubeVirt's CRDs and the harness's virt-controller stand-in come
with it), installs Nimbus from helm/nimbus, makes a Flavor and a containerDisk Image, then
creates N VirtualServers as fast as the API server takes them. The servers are created with
powerState Stopped, so the stand-in starts no launcher pod (N processes on 2 cores would
measure the machine, not the operator): what is measured is the operator's part, from the
VirtualServer's creation to its VirtualMachine appearing in a watch (``--rate`` paces the
creates: a burst measures the backlog, a steady rate the latency). Prints p50, p90, p99 and
max of that latency, the time until every server reports SHUTOFF, and the operator process's
resident memory (idle, and peak of samples every second). Target: p99 under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

from bench.bench_operator import MemorySampler, helm_install, operator_rss_kib
from e2e.cluster import Cluster, ensure_built

COMPUTE = ("compute.nimbus.dev", "v1alpha1")
KUBEVIRT = ("kubevirt.io", "v1")
NAMESPACE = "bench-compute"
TARGET_P99_SECONDS = 1.0


class VmWatcher(threading.Thread):
    """Records when each VirtualMachine is first seen (local monotonic time)."""

    def __init__(self, api: client.CustomObjectsApi) -> None:
        super().__init__(daemon=True)
        self.api = api
        self.seen: dict[str, float] = {}
        self.watch = watch.Watch()  # type: ignore[no-untyped-call]
        self.ready = threading.Event()

    def run(self) -> None:
        self.ready.set()
        stream = self.watch.stream(  # type: ignore[no-untyped-call]
            self.api.list_namespaced_custom_object, *KUBEVIRT, NAMESPACE, "virtualmachines"
        )
        try:
            for event in stream:
                name = event["object"]["metadata"]["name"]
                self.seen.setdefault(name, time.monotonic())
        except Exception:  # the cluster stopping ends the watch
            return


def shutoff_count(api: client.CustomObjectsApi) -> int:
    listed: Any = api.list_namespaced_custom_object(*COMPUTE, NAMESPACE, "virtualservers")
    return sum(1 for s in listed["items"] if (s.get("status") or {}).get("status") == "SHUTOFF")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _manifest(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "/".join(COMPUTE), "kind": kind, "metadata": {"name": name}, "spec": spec}


def setup(custom: client.CustomObjectsApi, core: client.CoreV1Api) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
    flavor = {"vcpus": 1, "memory": "512Mi", "rootDisk": "1Gi"}
    custom.create_cluster_custom_object(*COMPUTE, "flavors", _manifest("Flavor", "bench", flavor))
    image = {"source": {"containerDisk": {"image": "quay.io/containerdisks/debian:12"}}}
    custom.create_namespaced_custom_object(
        *COMPUTE, NAMESPACE, "images", _manifest("Image", "bench", image)
    )


def create_servers(custom: client.CustomObjectsApi, servers: int, rate: float) -> dict[str, float]:
    """Each server's name and the local time its create call returned; ``rate`` creates per
    second at most (0: as fast as the API server takes them)."""
    created: dict[str, float] = {}
    spec = {"flavor": "bench", "image": {"name": "bench"}, "powerState": "Stopped"}
    started = time.monotonic()
    for index in range(servers):
        if rate > 0:
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
        name = f"server-{index:05d}"
        body = _manifest("VirtualServer", name, spec)
        custom.create_namespaced_custom_object(*COMPUTE, NAMESPACE, "virtualservers", body)
        created[name] = time.monotonic()
        if index % 100 == 99:
            print(f"  created {index + 1}/{servers}", file=sys.stderr, flush=True)
    return created


def wait_for(what: str, count: Any, servers: int, started: float) -> float:
    """Seconds from ``started`` until ``count()`` reaches ``servers``."""
    while (done := count()) < servers:
        print(f"  {done}/{servers} {what}", file=sys.stderr, flush=True)
        if time.monotonic() - started > 30 * 60:
            raise SystemExit(f"only {done} of {servers} {what} after 30 minutes")
        time.sleep(2)
    return time.monotonic() - started


def run(servers: int, rate: float, kubeconfig: Path, run_dir: Path) -> None:
    api_client = config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]
    custom = client.CustomObjectsApi(api_client)
    helm_install(kubeconfig)
    setup(custom, client.CoreV1Api(api_client))
    time.sleep(5)  # the operator's first look at the Flavor and Image
    idle_kib = operator_rss_kib(run_dir)
    watcher = VmWatcher(custom)
    watcher.start()
    watcher.ready.wait()
    sampler = MemorySampler(run_dir)
    sampler.start()
    started = time.monotonic()
    created = create_servers(custom, servers, rate)
    creating = time.monotonic() - started
    all_vms = wait_for("VirtualMachines", lambda: len(watcher.seen), servers, started)
    all_status = wait_for("SHUTOFF", lambda: shutoff_count(custom), servers, started)
    sampler.stop.set()
    sampler.join()
    latencies = [watcher.seen[name] - created[name] for name in created]
    pace = f"at {rate:g}/s" if rate > 0 else "as fast as the API server takes them"
    print(f"\n{servers} VirtualServers (powerState Stopped) created {pace}, operator as a pod:")
    print(f"  created in            {creating:7.1f} s ({servers / creating:.0f}/s via the API)")
    print("  VirtualServer -> VirtualMachine (created to seen in a watch):")
    for label, value in (
        ("p50", statistics.median(latencies)),
        ("p90", percentile(latencies, 0.90)),
        ("p99", percentile(latencies, 0.99)),
        ("max", max(latencies)),
    ):
        print(f"    {label}                 {value:7.3f} s")
    print(f"  (target: p99 < {TARGET_P99_SECONDS:.0f} s)")
    print(f"  every VM after        {all_vms:7.1f} s")
    print(f"  every server SHUTOFF  {all_status:7.1f} s")
    idle, peak = idle_kib / 1024, sampler.peak_kib / 1024
    print(f"  operator RSS          {idle:7.1f} MiB idle, {peak:.1f} MiB peak")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_compute", description=__doc__)
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="creates per second (default: as fast as possible)"
    )
    parser.add_argument("--address-block", type=int, default=4)
    args = parser.parse_args()
    ensure_built()
    cluster = Cluster(
        Path(tempfile.mkdtemp(prefix="nimbus-bench-")), address_block=args.address_block
    )
    cluster.start()
    try:
        run(args.servers, args.rate, cluster.kubeconfig, cluster.run_dir)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
