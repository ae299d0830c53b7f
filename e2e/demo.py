"""``python -m e2e.demo up|down`` — the whole local system, started and shown working.

``up`` does what a new user of Nimbus does, on the local cluster: it builds what is missing,
starts the local Kubernetes (or reuses a running one), ``helm install``s Nimbus from
``helm/nimbus``, applies the manifests in ``examples/`` (a StoragePolicy, an ObjectStore, a
Bucket, a BucketAccess and an app that uses its bucket), waits for each to be ready, and shows
them working: the resources as ``kubectl`` lists them, the app's output, and an S3 round trip
from this machine with the keys of the BucketAccess Secret. Then the compute half
(``e2e.demo_compute``): an Image uploaded to a Bucket, and a VirtualServer that boots it.
``down`` stops everything.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from e2e.cluster import Cluster, build_all, default_run_dir, export_line
from e2e.cluster.catalog import BinaryPaths
from e2e.cluster.state import all_alive, component_health
from e2e.demo_compute import run_server
from e2e.nodeagent.logs import LogNotFound, read_log
from e2e.nodeagent.network import service_local_address

log = logging.getLogger("nimbus.demo")
REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CHART = REPO / "helm" / "nimbus"
MANIFESTS = ("storagepolicy.yaml", "objectstore.yaml", "bucket.yaml", "bucketaccess.yaml")
APP = "app.yaml"
NAMESPACE = "demo"
OPERATOR_NAMESPACE = "nimbus-system"
READY_TIMEOUT = 300.0


class DemoError(RuntimeError):
    pass


def start_cluster(run_dir: Path) -> Path:
    cluster = Cluster(run_dir, guests="all")
    state = cluster.state()
    if state is not None and all_alive(component_health(state)):
        log.info("local Kubernetes already running in %s; reusing it", run_dir)
        return Path(state.kubeconfig)
    if state is not None:
        cluster.stop()
    cluster.start()
    return cluster.kubeconfig


def tool(kubeconfig: Path, binary: Path, *args: str, stdin: str | None = None) -> str:
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    done = subprocess.run(
        [str(binary), *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise DemoError(f"{binary.name} {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def kubectl(kubeconfig: Path, *args: str) -> str:
    return tool(kubeconfig, BinaryPaths.from_cache().kubectl, *args)


def get_json(kubeconfig: Path, *args: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(kubectl(kubeconfig, "get", *args, "-o", "json"))
    return found


def wait(what: str, check: Callable[[], bool], timeout: float = READY_TIMEOUT) -> None:
    started = time.monotonic()
    last_report = started
    while not check():
        now = time.monotonic()
        if now - started > timeout:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")
        if now - last_report >= 15:
            log.info("still waiting for %s (%.0f s)", what, now - started)
            last_report = now
        time.sleep(1)
    log.info("%s (%.0f s)", what, time.monotonic() - started)


def install_nimbus(kubeconfig: Path) -> None:
    log.info("helm install nimbus helm/nimbus (namespace %s)", OPERATOR_NAMESPACE)
    tool(
        kubeconfig,
        BinaryPaths.from_cache().helm,
        "upgrade", "--install", "nimbus", str(CHART),
        "--namespace", OPERATOR_NAMESPACE, "--create-namespace", "--wait", "--timeout", "180s",
    )  # fmt: skip


def status_of(kubeconfig: Path, kind: str, name: str) -> dict[str, Any]:
    try:
        return dict(get_json(kubeconfig, kind, name, "-n", NAMESPACE).get("status") or {})
    except DemoError:
        return {}


def apply_examples(kubeconfig: Path) -> None:
    for manifest in MANIFESTS:
        print(kubectl(kubeconfig, "apply", "--server-side", "-f", str(EXAMPLES / manifest)), end="")
    wait(
        "ObjectStore store Ready",
        lambda: status_of(kubeconfig, "objectstore", "store").get("phase") == "Ready",
    )
    wait(
        "Bucket photos Ready",
        lambda: status_of(kubeconfig, "bucket", "photos").get("phase") == "Ready",
    )
    wait(
        "BucketAccess photos-app ready to use",
        lambda: bool(status_of(kubeconfig, "bucketaccess", "photos-app").get("readyToUse")),
    )
    print(kubectl(kubeconfig, "apply", "--server-side", "-f", str(EXAMPLES / APP)), end="")
    wait(
        "the app's Job complete",
        lambda: int(status_of(kubeconfig, "job", "photo-uploader").get("succeeded") or 0) >= 1,
    )


def secret_data(kubeconfig: Path, name: str) -> dict[str, str]:
    secret = get_json(kubeconfig, "secret", name, "-n", NAMESPACE)
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def show(kubeconfig: Path, run_dir: Path) -> dict[str, str]:
    print("\n$ kubectl get objectstores,buckets,bucketaccesses -n demo")
    print(
        kubectl(kubeconfig, "get", "objectstores,buckets,bucketaccesses", "-n", NAMESPACE), end=""
    )
    pods = get_json(kubeconfig, "pods", "-n", NAMESPACE, "-l", "job-name=photo-uploader")
    print("\nThe app (a Job with envFrom: the BucketAccess Secret) printed:")
    for pod in pods.get("items") or []:
        try:
            print("  " + read_log(run_dir, NAMESPACE, pod["metadata"]["name"]).strip())
        except LogNotFound as error:
            print(f"  ({error})")
    credentials = secret_data(kubeconfig, "photos-credentials")
    service = get_json(kubeconfig, "service", "store", "-n", NAMESPACE)
    address = service_local_address(service["spec"].get("clusterIP"))
    port = service["spec"]["ports"][0]["port"]
    endpoint = f"http://{address}:{port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        region_name=credentials.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    bucket = credentials["BUCKET_NAME"]
    body = b"Hello from Nimbus!\n"
    put = s3.put_object(Bucket=bucket, Key="hello.txt", Body=body, ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read()
    print(f"\nS3 from this machine ({credentials['AWS_ENDPOINT_URL']} is served at {endpoint}):")
    print(f"  PUT s3://{bucket}/hello.txt  ETag {put['ETag']}")
    print(f"  GET s3://{bucket}/hello.txt  -> {got.decode().strip()!r}")
    for entry in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        print(f"  LIST {entry['Key']:<12} {entry['Size']:>6} bytes")
    if got != body:
        raise DemoError("the object read back differs from the one written")
    return {"endpoint": endpoint, **credentials}


class LocalDemo:
    """What e2e.demo_compute needs of this demo: kubectl on the local cluster."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig

    def apply(self, manifest: Path) -> None:
        print(kubectl(self.kubeconfig, "apply", "--server-side", "-f", str(manifest)), end="")

    def wait(
        self, what: str, kind: str, name: str, ready: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        wait(what, lambda: ready(status_of(self.kubeconfig, kind, name)))
        return status_of(self.kubeconfig, kind, name)

    def secret(self, name: str) -> dict[str, str]:
        return secret_data(self.kubeconfig, name)

    def service_ip(self, name: str) -> str:
        service = get_json(self.kubeconfig, "service", name, "-n", NAMESPACE)
        return str(service["spec"]["clusterIP"])

    def kubectl(self, *args: str) -> str:
        return kubectl(self.kubeconfig, *args)


def cmd_up(run_dir: Path) -> int:
    started = time.monotonic()
    build_all(None)
    kubeconfig = start_cluster(run_dir)
    print("\n$ kubectl get nodes -L topology.kubernetes.io/zone")
    print(kubectl(kubeconfig, "get", "nodes", "-L", "topology.kubernetes.io/zone"), end="")
    install_nimbus(kubeconfig)
    apply_examples(kubeconfig)
    used = show(kubeconfig, run_dir)
    ssh = run_server(LocalDemo(kubeconfig), run_dir)
    print(f"\nReady in {time.monotonic() - started:.0f} s. Use it:")
    print(f"  {export_line(kubeconfig)}")
    print("  kubectl get objectstores,buckets,bucketaccesses -A")
    print("  kubectl get virtualservers -A")
    print(f"  {ssh}")
    print(
        f"  export AWS_ACCESS_KEY_ID={used['AWS_ACCESS_KEY_ID']} "
        f"AWS_SECRET_ACCESS_KEY={used['AWS_SECRET_ACCESS_KEY']} "
        f"AWS_DEFAULT_REGION={used.get('AWS_DEFAULT_REGION', 'us-east-1')}"
    )
    print(f"  .venv/bin/aws --endpoint-url {used['endpoint']} s3 ls s3://{used['BUCKET_NAME']}/")
    print("Stop everything with: make down")
    return 0


def cmd_down(run_dir: Path) -> int:
    cluster = Cluster(run_dir)
    if cluster.state() is not None or run_dir.exists():
        cluster.stop()
        log.info("stopped the local cluster in %s", run_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.demo", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=None, help="local cluster run directory")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    run_dir = args.dir or default_run_dir()
    try:
        return cmd_up(run_dir) if args.command == "up" else cmd_down(run_dir)
    except DemoError as error:
        log.error("%s", error)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
