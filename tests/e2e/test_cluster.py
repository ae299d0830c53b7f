"""The local control plane is a real Kubernetes: scheduler, controllers, validation, kwok nodes
whose pods the node agent runs."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from e2e.cluster.kwok import REGION, ZONES, node_name
from e2e.nodeagent.images import PROJECT_REPOSITORY
from e2e.nodeagent.network import POD_CIDR
from tests.e2e.conftest import E2ECluster
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

APP_LABEL = "app"
PROJECT_IMAGE = f"{PROJECT_REPOSITORY}:e2e"


def as_dict(obj: Any) -> dict[str, Any]:
    """A client model as a plain dict (snake_case keys): the models make every field Optional."""
    result: dict[str, Any] = obj.to_dict()
    return result


def _statefulset(name: str, replicas: int) -> client.V1StatefulSet:
    labels = {APP_LABEL: name}
    return client.V1StatefulSet(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1StatefulSetSpec(
            replicas=replicas,
            service_name=name,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="main", image=PROJECT_IMAGE, command=["sleep", "infinity"]
                        )
                    ],
                    termination_grace_period_seconds=1,
                ),
            ),
        ),
    )


def _create_running_statefulset(
    core_v1: client.CoreV1Api, apps_v1: client.AppsV1Api, namespace: str, name: str
) -> list[dict[str, Any]]:
    """Create a 3-replica StatefulSet (+ headless Service) and wait for 3 Running pods."""
    core_v1.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1ServiceSpec(cluster_ip="None", selector={APP_LABEL: name}),
        ),
    )
    apps_v1.create_namespaced_stateful_set(namespace, _statefulset(name, 3))

    def running_pods() -> list[dict[str, Any]]:
        pods = core_v1.list_namespaced_pod(namespace, label_selector=f"{APP_LABEL}={name}").items
        return [pod for pod in map(as_dict, pods) if pod["status"]["phase"] == "Running"]

    return wait_until(running_pods, lambda pods: len(pods) == 3, f"3 Running pods of {name}")


def _names(items: list[Any]) -> list[str]:
    return [as_dict(item)["metadata"]["name"] for item in items]


def _ready(node: dict[str, Any]) -> bool:
    conditions = node["status"]["conditions"] or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_three_ready_nodes_labelled_with_zones(core_v1: client.CoreV1Api) -> None:
    nodes = {n["metadata"]["name"]: n for n in map(as_dict, core_v1.list_node().items)}

    assert set(nodes) == {node_name(zone) for zone in ZONES}
    for zone in ZONES:
        node = nodes[node_name(zone)]
        assert _ready(node), node["status"]["conditions"]
        labels = node["metadata"]["labels"]
        assert labels["topology.kubernetes.io/zone"] == zone
        assert labels["topology.kubernetes.io/region"] == REGION
        assert labels["kubernetes.io/hostname"] == node_name(zone)
        assert labels["node.kubernetes.io/instance-type"]


def test_nodes_have_bare_metal_capacity(core_v1: client.CoreV1Api) -> None:
    for node in map(as_dict, core_v1.list_node().items):
        assert node["status"]["capacity"]["cpu"] == "32"
        assert node["status"]["capacity"]["memory"] == "128Gi"
        assert node["status"]["capacity"]["pods"] == "110"
        assert node["status"]["allocatable"]["cpu"] == "31500m"


def test_new_namespace_gets_default_service_account_and_root_ca(
    core_v1: client.CoreV1Api, namespace: str
) -> None:
    wait_until(
        lambda: _names(core_v1.list_namespaced_service_account(namespace).items),
        lambda names: "default" in names,
        "the default service account (serviceaccount controller)",
    )
    wait_until(
        lambda: _names(core_v1.list_namespaced_config_map(namespace).items),
        lambda names: "kube-root-ca.crt" in names,
        "kube-root-ca.crt (root-ca-cert-publisher controller)",
    )


def test_statefulset_pods_are_scheduled_and_run_with_loopback_ips(
    core_v1: client.CoreV1Api, apps_v1: client.AppsV1Api, namespace: str
) -> None:
    pods = _create_running_statefulset(core_v1, apps_v1, namespace, "store")

    assert sorted(pod["metadata"]["name"] for pod in pods) == ["store-0", "store-1", "store-2"]
    pod_cidr = ipaddress.ip_network(POD_CIDR)
    node_names = {node_name(zone) for zone in ZONES}
    for pod in pods:
        assert pod["spec"]["node_name"] in node_names, "bound by kube-scheduler"
        assert ipaddress.ip_address(pod["status"]["pod_ip"]) in pod_cidr
        assert pod["status"]["host_ip"].startswith("127.2.0.")
    assert len({pod["status"]["pod_ip"] for pod in pods}) == 3
    wait_until(
        lambda: as_dict(apps_v1.read_namespaced_stateful_set("store", namespace))["status"],
        lambda status: status["ready_replicas"] == 3,
        "the StatefulSet to report 3 ready replicas",
    )


def test_deleting_a_statefulset_garbage_collects_its_pods(
    core_v1: client.CoreV1Api, apps_v1: client.AppsV1Api, namespace: str
) -> None:
    _create_running_statefulset(core_v1, apps_v1, namespace, "doomed")

    apps_v1.delete_namespaced_stateful_set(
        "doomed", namespace, body=client.V1DeleteOptions(propagation_policy="Background")
    )

    wait_until(
        lambda: core_v1.list_namespaced_pod(namespace, label_selector=f"{APP_LABEL}=doomed").items,
        lambda pods: not pods,
        "the garbage collector (and the node agent) to remove the StatefulSet's pods",
    )


@pytest.fixture
def widget_crd(apiextensions_v1: client.ApiextensionsV1Api) -> Iterator[tuple[str, str]]:
    """A namespaced CRD with an OpenAPI schema and a CEL rule; returns (group, plural)."""
    group = f"e2e{uuid.uuid4().hex[:8]}.nimbus.dev"
    plural = "widgets"
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1},
                    "maxSize": {"type": "integer"},
                },
                "x-kubernetes-validations": [
                    {
                        "rule": "!has(self.maxSize) || self.size <= self.maxSize",
                        "message": "size must not exceed maxSize",
                    }
                ],
            }
        },
    }
    body: Any = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                }
            ],
        },
    }
    apiextensions_v1.create_custom_resource_definition(body)

    def established() -> bool:
        crd = as_dict(apiextensions_v1.read_custom_resource_definition(f"{plural}.{group}"))
        conditions = crd["status"]["conditions"] or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    wait_until(established, bool, "the CRD to be Established")
    yield group, plural
    apiextensions_v1.delete_custom_resource_definition(f"{plural}.{group}")


def _widget(group: str, name: str, spec: dict[str, object]) -> dict[str, object]:
    return {
        "apiVersion": f"{group}/v1alpha1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_api_server_enforces_crd_schema_and_cel_rules(
    custom_objects: client.CustomObjectsApi, namespace: str, widget_crd: tuple[str, str]
) -> None:
    group, plural = widget_crd

    def create(name: str, spec: dict[str, object]) -> Any:
        return custom_objects.create_namespaced_custom_object(
            group, "v1alpha1", namespace, plural, _widget(group, name, spec)
        )

    # Discovery of a just-established CRD can lag a moment behind; retry the valid create.
    created = wait_until(
        lambda: _try_create(lambda: create("good", {"size": 3, "maxSize": 5})),
        lambda result: result is not None,
        "a valid Widget to be accepted",
    )
    assert created is not None

    cases: list[tuple[str, dict[str, object], str]] = [
        ("wrong-type", {"size": "three"}, "spec.size"),
        ("too-small", {"size": 0}, "spec.size"),
        ("missing", {}, "spec.size"),
        ("cel", {"size": 9, "maxSize": 5}, "size must not exceed maxSize"),
    ]
    for name, spec, expected in cases:
        with pytest.raises(ApiException) as caught:
            create(name, spec)
        assert caught.value.status == 422, (name, caught.value.body)
        assert expected in str(caught.value.body), (name, caught.value.body)


def _try_create(create: Callable[[], Any]) -> Any:
    """``create()``, or None while the API server still answers 404 for the new resource."""
    try:
        return create()
    except ApiException as error:
        if error.status == 404:
            return None
        raise


def test_namespace_deletion_completes(core_v1: client.CoreV1Api, apps_v1: client.AppsV1Api) -> None:
    name = f"e2e-gone-{uuid.uuid4().hex[:8]}"
    core_v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core_v1.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"k": "v"})
    )
    _create_running_statefulset(core_v1, apps_v1, name, "tenant")

    core_v1.delete_namespace(name)

    def namespace_phase() -> str:
        try:
            return str(as_dict(core_v1.read_namespace(name))["status"]["phase"])
        except ApiException as error:
            if error.status == 404:
                return "Gone"
            raise

    wait_until(namespace_phase, lambda phase: phase == "Gone", f"namespace {name} to be deleted")


def test_status_reports_every_component_running(e2e_cluster: E2ECluster) -> None:
    if e2e_cluster.cluster is None:
        pytest.skip("reusing an external cluster (NIMBUS_KUBECONFIG): its processes are not ours")
    report = e2e_cluster.cluster.status()

    assert [item.name for item in report] == [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "node-agent",
        "kubevirt-standin",
    ]
    assert all(item.alive for item in report), [item.describe() for item in report]
