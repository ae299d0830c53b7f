"""``python -m e2e.demo up|down`` — the whole local system, started and shown working.

``up`` builds what is missing, starts the local Kubernetes control plane (or reuses a running
one), starts a standalone Nimbus S3 endpoint, and then proves both work: it lists the cluster's
nodes through the API server and round-trips an object through the S3 endpoint with boto3.
``down`` stops everything ``up`` started, by PID.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import boto3
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from e2e.cluster import Cluster, build_all, default_run_dir, export_line
from e2e.cluster.state import all_alive, component_health

log = logging.getLogger("nimbus.demo")
DEFAULT_PORT = 9000


@dataclass(frozen=True)
class GatewayState:
    pid: int
    endpoint: str
    access_key: str
    secret_key: str
    data_dir: str
    log_file: str


def demo_dir() -> Path:
    override = os.environ.get("NIMBUS_DEMO_DIR")
    return Path(override) if override else Path(tempfile.gettempdir()) / "nimbus-demo"


def _state_file() -> Path:
    return demo_dir() / "gateway.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _free_port(preferred: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])


def _running_gateway() -> GatewayState | None:
    if not _state_file().exists():
        return None
    state = GatewayState(**json.loads(_state_file().read_text()))
    return state if _alive(state.pid) else None


def start_gateway() -> GatewayState:
    existing = _running_gateway()
    if existing is not None:
        log.info(
            "S3 endpoint already running at %s (pid %d); reusing it",
            existing.endpoint,
            existing.pid,
        )
        return existing
    root = demo_dir()
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    port = _free_port(DEFAULT_PORT)
    access_key, secret_key = "NIMBUSDEMO", secrets.token_urlsafe(24)
    log_file = root / "gateway.log"
    env = dict(os.environ, NIMBUS_ROOT_ACCESS_KEY=access_key, NIMBUS_ROOT_SECRET_KEY=secret_key)
    with log_file.open("ab") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "nimbus_storage.cli",
                "serve",
                "--data",
                str(data),
                "--port",
                str(port),
            ],
            stdout=sink,
            stderr=sink,
            env=env,
            start_new_session=True,
        )
    state = GatewayState(
        process.pid, f"http://127.0.0.1:{port}", access_key, secret_key, str(data), str(log_file)
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the S3 endpoint exited; see {log_file}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    _state_file().write_text(json.dumps(asdict(state), indent=2))
    log.info("S3 endpoint started at %s (pid %d, data in %s)", state.endpoint, state.pid, data)
    return state


def stop_gateway() -> None:
    state_file = _state_file()
    if not state_file.exists():
        return
    state = GatewayState(**json.loads(state_file.read_text()))
    if _alive(state.pid):
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(state.pid):
            os.kill(state.pid, signal.SIGKILL)
        log.info("stopped the S3 endpoint (pid %d)", state.pid)
    state_file.unlink()


def start_cluster(run_dir: Path) -> Path:
    cluster = Cluster(run_dir)
    state = cluster.state()
    if state is not None and all_alive(component_health(state)):
        log.info("control plane already running in %s; reusing it", run_dir)
        return Path(state.kubeconfig)
    if state is not None:
        cluster.stop()
    cluster.start()
    return cluster.kubeconfig


def show_cluster(kubeconfig: Path) -> None:
    api_client = k8s_config.new_client_from_config(str(kubeconfig))  # type: ignore[no-untyped-call]
    api = k8s.CoreV1Api(api_client)
    raw = api.list_node(_preload_content=False)  # plain JSON: no Optional-laden models
    nodes = json.loads(raw.data)["items"]  # type: ignore[attr-defined]
    print("\nKubernetes nodes (real kube-apiserver, kwok-managed bare-metal nodes):")
    print(f"  {'NAME':<16}{'ZONE':<6}{'CPU':>5}{'MEMORY':>12}  READY")
    for node in nodes:
        labels = node["metadata"].get("labels", {})
        conditions = node["status"].get("conditions", [])
        ready = next((c["status"] for c in conditions if c["type"] == "Ready"), "Unknown")
        allocatable = node["status"].get("allocatable", {})
        print(
            f"  {node['metadata']['name']:<16}{labels.get('topology.kubernetes.io/zone', '-'):<6}"
            f"{allocatable.get('cpu', '?'):>5}{allocatable.get('memory', '?'):>12}  {ready}"
        )


def show_s3(state: GatewayState) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=state.endpoint,
        aws_access_key_id=state.access_key,
        aws_secret_access_key=state.secret_key,
        region_name="us-east-1",
    )
    existing = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    if "demo" not in existing:
        s3.create_bucket(Bucket="demo")
    body = b"Hello from Nimbus!\n"
    put = s3.put_object(Bucket="demo", Key="hello.txt", Body=body, ContentType="text/plain")
    got = s3.get_object(Bucket="demo", Key="hello.txt")["Body"].read()
    listed = s3.list_objects_v2(Bucket="demo")
    print(f"\nS3 endpoint {state.endpoint}:")
    print(f"  PUT s3://demo/hello.txt  ETag {put['ETag']}")
    print(f"  GET s3://demo/hello.txt  -> {got.decode().strip()!r}")
    for entry in listed.get("Contents", []):
        print(f"  LIST {entry['Key']:<12} {entry['Size']:>6} bytes  {entry['LastModified']}")
    if got != body:
        raise RuntimeError("the object read back differs from the one written")


def cmd_up(run_dir: Path) -> int:
    started = time.monotonic()
    build_all(None)
    kubeconfig = start_cluster(run_dir)
    gateway = start_gateway()
    show_cluster(kubeconfig)
    show_s3(gateway)
    print(f"\nReady in {time.monotonic() - started:.0f} s. Use it:")
    print(f"  {export_line(kubeconfig)}; kubectl get nodes")
    print(
        f"  export AWS_ACCESS_KEY_ID={gateway.access_key} "
        f"AWS_SECRET_ACCESS_KEY={gateway.secret_key}"
    )
    print(f"  aws --endpoint-url {gateway.endpoint} s3 ls s3://demo/")
    print("Stop everything with: make down")
    return 0


def cmd_down(run_dir: Path) -> int:
    stop_gateway()
    cluster = Cluster(run_dir)
    if cluster.state() is not None:
        cluster.stop()
        log.info("stopped the control plane in %s", run_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.demo", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--dir", type=Path, default=None, help="control-plane run directory")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    run_dir = args.dir or default_run_dir()
    return cmd_up(run_dir) if args.command == "up" else cmd_down(run_dir)


if __name__ == "__main__":
    raise SystemExit(main())
