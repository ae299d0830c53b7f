"""ObjectStore end to end: the operator (installed by Helm, running as a pod under its own
service account) turns one ObjectStore into storage nodes, rings, gateways that serve S3."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from mypy_boto3_s3 import S3Client
from nimbus_storage.ring import Ring

from e2e.cluster.catalog import BinaryPaths
from e2e.nodeagent.network import service_local_address
from tests.e2e.conftest import E2ECluster
from tests.e2e.operator_install import (
    IMAGE,
    Operator,
    leader_pod_name,
    operator_pods,
    scrape,
    scrape_url,
)
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

GROUP, VERSION = "storage.nimbus.dev", "v1alpha1"
# A store needs its pods scheduled, the rings built, every process started: on a busy 2-core
# machine that is tens of seconds.
STORE_TIMEOUT = 240.0


def store_manifest(name: str, nodes: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ObjectStore",
        "metadata": {"name": name},
        "spec": {
            "image": IMAGE,
            "nodes": {"count": nodes, "volumeSize": "1Gi"},
            "gateway": {"replicas": 1},
        },
    }


def get_store(api: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    found: Any = api.get_namespaced_custom_object(GROUP, VERSION, namespace, "objectstores", name)
    return dict(found)


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    for item in (obj.get("status") or {}).get("conditions") or []:
        if item["type"] == kind:
            return dict(item)
    return {}


def names(items: Any) -> list[str]:
    return [str(item.metadata.name) for item in items if item.metadata]


def secret_value(core_v1: client.CoreV1Api, namespace: str, name: str, key: str) -> str:
    secret = core_v1.read_namespaced_secret(name, namespace)
    return base64.b64decode((secret.data or {})[key]).decode()


def s3_client(core_v1: client.CoreV1Api, namespace: str, store: str) -> S3Client:
    service = core_v1.read_namespaced_service(store, namespace)
    address = service_local_address(service.spec.cluster_ip if service.spec else None)
    assert address is not None
    return boto3.client(
        "s3",
        endpoint_url=f"http://{address}:80",
        aws_access_key_id=secret_value(core_v1, namespace, f"{store}-admin", "accessKey"),
        aws_secret_access_key=secret_value(core_v1, namespace, f"{store}-admin", "secretKey"),
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 8, "mode": "standard"}, connect_timeout=5),
    )


@pytest.fixture(scope="module")
def store(
    nimbus_operator: Operator,
    core_v1: client.CoreV1Api,
    custom_objects: client.CustomObjectsApi,
) -> Iterator[tuple[str, str]]:
    """One Ready 3-node store in its own namespace: (namespace, name)."""
    namespace = f"e2e-store-{uuid.uuid4().hex[:6]}"
    core_v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "objectstores", store_manifest("store")
    )
    wait_until(
        lambda: get_store(custom_objects, namespace, "store"),
        lambda obj: obj.get("status", {}).get("phase") == "Ready",
        "the ObjectStore to become Ready",
        STORE_TIMEOUT,
    )
    yield namespace, "store"
    core_v1.delete_namespace(namespace)


def test_the_store_serves_s3_and_reports_its_status(
    store: tuple[str, str],
    core_v1: client.CoreV1Api,
    custom_objects: client.CustomObjectsApi,
    e2e_cluster: E2ECluster,
) -> None:
    namespace, name = store
    s3 = s3_client(core_v1, namespace, name)
    s3.create_bucket(Bucket="round-trip")
    s3.put_object(Bucket="round-trip", Key="hello.txt", Body=b"hello from an operated store")

    body = s3.get_object(Bucket="round-trip", Key="hello.txt")["Body"].read()

    assert body == b"hello from an operated store"
    status = get_store(custom_objects, namespace, name)["status"]
    assert status["endpoint"] == f"http://{name}.{namespace}.svc"
    assert status["nodesReady"] == "3/3"
    assert status["rings"] == {"default": 1}
    assert status["capacityBytes"] == 3 * 2**30
    assert condition({"status": status}, "Ready")["reason"] == "Serving"
    columns = subprocess.run(
        [str(BinaryPaths.from_cache().kubectl), "get", "objectstores", "-n", namespace],
        env=dict(os.environ, KUBECONFIG=str(e2e_cluster.kubeconfig)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert columns[:6] == ["NAME", "PHASE", "NODES", "ENDPOINT", "USED", "AGE"]
    assert columns[6:10] == [name, "Ready", "3/3", f"http://{name}.{namespace}.svc"]


def test_gateways_and_nodes_serve_prometheus_metrics_from_their_pods(
    store: tuple[str, str], core_v1: client.CoreV1Api
) -> None:
    namespace, name = store
    s3_client(core_v1, namespace, name).list_buckets()
    pods = {
        str(pod.metadata.name): pod.status.pod_ip
        for pod in core_v1.list_namespaced_pod(namespace).items
        if pod.metadata and pod.status and pod.status.pod_ip
    }
    gateway = next(ip for pod, ip in pods.items() if pod.startswith(f"{name}-gateway-"))
    node = pods[f"{name}-node-0"]

    served = scrape_url(f"http://{gateway}:9000/_nimbus/metrics")
    stored = scrape_url(f"http://{node}:6200/_nimbus/metrics")

    listed = [
        value
        for (metric, labels), value in served.items()
        if metric == "nimbus_s3_requests_total" and ("operation", "ListBuckets") in labels
    ]
    assert sum(listed) >= 1, "S3 operations are counted by operation and status"
    assert any(metric == "nimbus_s3_request_duration_seconds_bucket" for metric, _ in served)
    assert ("nimbus_s3_received_bytes_total", ()) in served
    space = {
        labels: value for (metric, labels), value in stored.items() if "device_bytes" in metric
    }
    assert space[(("device", "d0"), ("state", "total"))] > 0
    assert space[(("device", "d0"), ("state", "free"))] > 0
    for metric in (
        "nimbus_replicator_last_pass_completion_timestamp_seconds",
        "nimbus_auditor_quarantined_total",
        "nimbus_node_read_quarantined_total",
    ):
        assert (metric, ()) in stored, metric


def test_rings_put_every_replica_of_a_partition_in_another_zone(
    store: tuple[str, str], core_v1: client.CoreV1Api
) -> None:
    namespace, name = store
    rings = core_v1.read_namespaced_config_map(f"{name}-rings", namespace).data or {}
    ring = Ring.from_json(json.loads(rings["default.json"]))

    assert ring.replicas == 3
    assert {device.zone for device in ring.devices} == {"a", "b", "c"}
    for partition in range(ring.partition_count):
        zones = [device.zone for device in ring.primaries(partition)]
        assert len(set(zones)) == 3, (partition, zones)
    pods = core_v1.list_namespaced_pod(
        namespace, label_selector="app.kubernetes.io/component=storage-node"
    )
    nodes = {
        pod.metadata.name: pod.spec.node_name for pod in pods.items if pod.metadata and pod.spec
    }
    zone_of_node = {
        node.metadata.name: (node.metadata.labels or {})["topology.kubernetes.io/zone"]
        for node in core_v1.list_node().items
        if node.metadata
    }
    for device in ring.devices:
        pod = device.node.split(".")[0]
        assert device.zone == zone_of_node[nodes[pod]], "a device's zone is its pod's node's"


def test_everything_the_store_made_is_owned_by_it(
    store: tuple[str, str], core_v1: client.CoreV1Api, apps_v1: client.AppsV1Api
) -> None:
    namespace, name = store
    owned: list[Any] = [
        apps_v1.read_namespaced_stateful_set(f"{name}-node", namespace),
        apps_v1.read_namespaced_deployment(f"{name}-gateway", namespace),
        apps_v1.read_namespaced_deployment(f"{name}-janitor", namespace),
        core_v1.read_namespaced_service(name, namespace),
        core_v1.read_namespaced_service(f"{name}-nodes", namespace),
        core_v1.read_namespaced_config_map(f"{name}-rings", namespace),
        core_v1.read_namespaced_config_map(f"{name}-ring-builders", namespace),
        core_v1.read_namespaced_secret(f"{name}-admin", namespace),
        client.PolicyV1Api(core_v1.api_client).read_namespaced_pod_disruption_budget(
            f"{name}-node", namespace
        ),
    ]
    for obj in owned:
        owners = obj.metadata.owner_references or []
        assert [(o.kind, o.name, o.controller) for o in owners] == [("ObjectStore", name, True)]


# Writers are bounded: replication is paced (50 items/s per node by default), and a drain must
# hand every object a leaving node holds to every primary, so the data set stays small.
WRITES_PER_SECOND = 5
MAX_WRITES = 5000


def _writer(s3: S3Client, bucket: str, stop: threading.Event, acked: list[str]) -> None:
    for index in range(MAX_WRITES):
        if stop.wait(1 / WRITES_PER_SECOND):
            return
        key = f"object-{index:05d}"
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * 64)
        except (ClientError, EndpointConnectionError):
            pass  # not acknowledged: the client may retry or give up; either way not counted
        else:
            acked.append(key)


def test_a_storage_node_deleted_mid_write_loses_no_acknowledged_object(
    store: tuple[str, str], core_v1: client.CoreV1Api
) -> None:
    namespace, name = store
    s3 = s3_client(core_v1, namespace, name)
    s3.create_bucket(Bucket="under-fire")
    acked: list[str] = []
    stop = threading.Event()
    writer = threading.Thread(target=_writer, args=(s3, "under-fire", stop, acked))
    writer.start()
    try:
        wait_until(lambda: len(acked), lambda count: count >= 20, "writes before the fault")
        old = core_v1.read_namespaced_pod(f"{name}-node-1", namespace)
        core_v1.delete_namespaced_pod(
            f"{name}-node-1", namespace, body=client.V1DeleteOptions(grace_period_seconds=0)
        )
        wait_until(lambda: len(acked), lambda count: count >= 60, "writes during the fault")

        def replaced() -> bool:
            try:
                pod = core_v1.read_namespaced_pod(f"{name}-node-1", namespace)
            except ApiException:
                return False
            conditions = (pod.status.conditions if pod.status else None) or []
            ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
            return bool(
                pod.metadata and old.metadata and pod.metadata.uid != old.metadata.uid and ready
            )

        wait_until(replaced, bool, "the storage node to come back", STORE_TIMEOUT)
    finally:
        stop.set()
        writer.join()
    for key in acked:
        assert s3.get_object(Bucket="under-fire", Key=key)["Body"].read() == key.encode() * 64


def test_scaling_to_four_nodes_and_back_to_three_moves_data_and_loses_nothing(
    store: tuple[str, str], core_v1: client.CoreV1Api, custom_objects: client.CustomObjectsApi
) -> None:
    """Runs last of the store's tests: it grows the shared store, then drains it back."""
    namespace, name = store
    s3 = s3_client(core_v1, namespace, name)
    s3.create_bucket(Bucket="growing")
    acked: list[str] = []
    stop = threading.Event()
    writer = threading.Thread(target=_writer, args=(s3, "growing", stop, acked))
    writer.start()

    def status() -> dict[str, Any]:
        return dict(get_store(custom_objects, namespace, name).get("status") or {})

    def resize(count: int) -> None:
        custom_objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "objectstores", name, {"spec": {"nodes": {"count": count}}}
        )

    try:
        wait_until(lambda: len(acked), lambda count: count >= 20, "writes before growing")
        resize(4)
        grown = wait_until(
            status,
            lambda found: found.get("nodesReady") == "4/4" and found.get("phase") == "Ready",
            "4 ready storage nodes",
            STORE_TIMEOUT,
        )
        target = len(acked) + 20
        wait_until(lambda: len(acked), lambda count: count >= target, "writes after growing")
        assert len(ring_devices(core_v1, namespace, name)) == 4

        resize(3)
        draining = wait_until(
            status,
            lambda found: (
                condition({"status": found}, "Progressing").get("reason") == "DrainingNodes"
                or found.get("nodesReady") == "3/3"
            ),
            "the drain to start",
            STORE_TIMEOUT,
        )
        shrunk = wait_until(
            status,
            lambda found: found.get("nodesReady") == "3/3" and found.get("phase") == "Ready",
            "the drained node removed",
            STORE_TIMEOUT,
        )
        target = len(acked) + 20
        wait_until(lambda: len(acked), lambda count: count >= target, "writes after shrinking")
    finally:
        stop.set()
        writer.join()
    assert grown["rings"]["default"] >= 2, "the fourth node was added to the ring"
    assert shrunk["rings"]["default"] > grown["rings"]["default"]
    assert len(ring_devices(core_v1, namespace, name)) == 3
    assert f"{name}-node-3" not in names(core_v1.list_namespaced_pod(namespace).items)
    claims = names(core_v1.list_namespaced_persistent_volume_claim(namespace).items)
    assert f"data-{name}-node-3" not in claims, "a drained node's volume goes with it"
    if draining.get("nodesReady") != "3/3":
        message = condition({"status": draining}, "Progressing")["message"]
        assert f"draining {name}-node-3" in message
    for key in acked:
        assert s3.get_object(Bucket="growing", Key=key)["Body"].read() == key.encode() * 64


def ring_devices(core_v1: client.CoreV1Api, namespace: str, name: str) -> list[Any]:
    rings = core_v1.read_namespaced_config_map(f"{name}-rings", namespace).data or {}
    return list(Ring.from_json(json.loads(rings["default.json"])).devices)


def test_an_operator_killed_mid_reconcile_converges_without_duplicates(
    nimbus_operator: Operator,
    core_v1: client.CoreV1Api,
    apps_v1: client.AppsV1Api,
    custom_objects: client.CustomObjectsApi,
    namespace: str,
) -> None:
    custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "objectstores", store_manifest("phoenix")
    )
    selector = "app.kubernetes.io/component=operator"

    def operator_pods() -> list[Any]:
        return list(
            core_v1.list_namespaced_pod(nimbus_operator.namespace, label_selector=selector).items
        )

    # Kill the operator as soon as it has started on the store (its first objects exist).
    wait_until(
        lambda: core_v1.list_namespaced_secret(namespace).items,
        lambda secrets: any(s.metadata and s.metadata.name == "phoenix-admin" for s in secrets),
        "the reconcile to have begun",
        STORE_TIMEOUT,
    )
    killed = set(names(operator_pods()))
    for pod_name in killed:
        core_v1.delete_namespaced_pod(
            pod_name, nimbus_operator.namespace, body=client.V1DeleteOptions(grace_period_seconds=0)
        )

    wait_until(
        lambda: get_store(custom_objects, namespace, "phoenix").get("status", {}),
        lambda status: status.get("phase") == "Ready",
        "the store Ready under a new operator",
        STORE_TIMEOUT,
    )
    assert set(names(operator_pods())).isdisjoint(killed)
    assert names(apps_v1.list_namespaced_stateful_set(namespace).items) == ["phoenix-node"]
    deployments = sorted(names(apps_v1.list_namespaced_deployment(namespace).items))
    assert deployments == ["phoenix-gateway", "phoenix-janitor"]
    secrets = names(core_v1.list_namespaced_secret(namespace).items)
    assert secrets.count("phoenix-admin") == 1
    configmaps = sorted(names(core_v1.list_namespaced_config_map(namespace).items))
    assert configmaps == ["kube-root-ca.crt", "phoenix-ring-builders", "phoenix-rings"]
    s3 = s3_client(core_v1, namespace, "phoenix")
    s3.create_bucket(Bucket="after-the-crash")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["after-the-crash"]


def test_the_operator_counts_its_reconciles_in_prometheus_metrics(
    store: tuple[str, str], nimbus_operator: Operator, core_v1: client.CoreV1Api
) -> None:
    coordination = client.CoordinationV1Api(core_v1.api_client)
    leader = leader_pod_name(coordination)
    pod = next(p for p in operator_pods(core_v1) if p.name == leader)

    samples = scrape(pod)

    ok = samples[("nimbus_operator_reconciles_total", (("kind", "ObjectStore"), ("result", "ok")))]
    assert ok >= 1
    assert (
        "nimbus_operator_reconcile_duration_seconds_count",
        (("kind", "ObjectStore"),),
    ) in samples
    managed = samples[("nimbus_operator_objects", (("kind", "ObjectStore"), ("result", "ok")))]
    assert managed >= 1
    assert samples[("nimbus_operator_leader", ())] == 1
    assert ("nimbus_operator_queue_depth", ()) in samples
