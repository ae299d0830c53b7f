"""What the chart's optional parts render, and that the pieces point at each other: the
metrics Service at the operator's port, the ServiceMonitor at the Service, the ObjectStore and
StoragePolicy valid for their CRDs and the operator's models, the helm test at the store."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml
from nimbus_operator.models.crdgen import KINDS
from nimbus_operator.models.objectstore import ObjectStore
from nimbus_operator.models.storagepolicy import StoragePolicy

from tests.unit.helm.chart import CHART, FULL_VALUES, NAMESPACE, find, manifests
from tests.unit.operator.crdtools import root_schema, schema_nodes

FULL = ("--values", str(FULL_VALUES))
FULL_VALUES_DATA: dict[str, Any] = yaml.safe_load(FULL_VALUES.read_text())
ROUNDTRIP = CHART / "files" / "s3_roundtrip.py"


def operator_container(documents: list[dict[str, Any]]) -> dict[str, Any]:
    [container] = find(documents, "Deployment")["spec"]["template"]["spec"]["containers"]
    return dict(container)


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def field_paths(value: Any, path: str = "") -> set[str]:
    """``nodes.count``-style paths of every field of a spec (what a CRD schema must name)."""
    if not isinstance(value, dict):
        return set()
    paths = set()
    for key, child in value.items():
        child_path = f"{path}.{key}" if path else key
        paths |= {child_path} | field_paths(child, child_path)
    return paths


def test_by_default_only_the_operator_and_its_metrics_service_are_installed(helm: Path) -> None:
    kinds = sorted(doc["kind"] for doc in manifests(helm))

    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ]


def test_the_metrics_service_reaches_the_operators_metrics_port(helm: Path) -> None:
    for values in ((), FULL):
        documents = manifests(helm, *values)
        deployment = find(documents, "Deployment")
        service = find(documents, "Service")
        container = operator_container(documents)
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}

        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        [service_port] = service["spec"]["ports"]
        assert service_port["name"] == service_port["targetPort"] == "metrics"
        assert service_port["port"] == ports["metrics"]
        assert env_of(container)["NIMBUS_METRICS_PORT"] == str(ports["metrics"])
    assert ports["metrics"] == FULL_VALUES_DATA["metrics"]["port"]


def test_metrics_disabled_means_no_service(helm: Path) -> None:
    documents = manifests(helm, "--set", "metrics.enabled=false")

    assert "Service" not in {doc["kind"] for doc in documents}


def test_the_service_monitor_scrapes_the_metrics_service(helm: Path) -> None:
    documents = manifests(helm, *FULL)
    monitor = find(documents, "ServiceMonitor")
    service = find(documents, "Service")

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {
        "matchNames": [service["metadata"]["namespace"]]
    }
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint == {
        "port": "metrics",
        "path": "/metrics",
        "interval": "15s",
        "scrapeTimeout": "5s",
    }
    assert monitor["metadata"]["labels"]["release"] == "prometheus"


def test_log_level_debug_makes_the_operator_verbose(helm: Path) -> None:
    default_command = operator_container(manifests(helm))["command"]
    debug_command = operator_container(manifests(helm, *FULL))["command"]

    assert "--verbose" not in default_command
    assert debug_command == [*default_command, "--verbose"]


def test_the_object_store_and_policy_are_valid_for_their_crds_and_models(helm: Path) -> None:
    documents = manifests(helm, *FULL)
    store_body = find(documents, "ObjectStore")
    policy_body = find(documents, "StoragePolicy")

    for body in (store_body, policy_body):
        kind = next(kind for kind in KINDS if kind.kind == body["kind"])
        spec_schema = root_schema(kind)["properties"]["spec"]
        known = {path for path, _ in schema_nodes(spec_schema) if path}
        assert field_paths(body["spec"]) <= known, f"{body['kind']} fields its CRD does not have"
        assert body["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert "helm.sh/hook" not in body["metadata"]["annotations"]

    store = ObjectStore.from_body(store_body)
    assert (store.metadata.name, store.metadata.namespace) == ("media", "storage")
    assert store.spec.nodes.count == 6
    assert store.spec.nodes.volume_size_bytes == 100 * 2**30
    assert store.spec.nodes.storage_class_name == "fast-local"
    assert store.spec.gateway.replicas == 3
    assert store.spec.gateway.tls is not None
    assert store.spec.gateway.tls.secret_name == "media-tls"
    assert store.spec.gateway.trust_forwarded_proto is True
    assert store.spec.gateway.service_port == 443
    assert store.spec.region == "eu-west-1"
    policy = StoragePolicy.from_body(policy_body)
    assert (policy.metadata.name, policy.spec.replicas, policy.spec.default) == (
        "three-copies",
        3,
        True,
    )


def test_the_object_store_goes_to_the_release_namespace_unless_one_is_named(helm: Path) -> None:
    documents = manifests(helm, "--set", "objectStore.enabled=true")

    store = find(documents, "ObjectStore")
    test_pod = find(documents, "Pod")
    assert store["metadata"]["namespace"] == test_pod["metadata"]["namespace"] == NAMESPACE
    assert "storageClassName" not in store["spec"]["nodes"]
    # Plain HTTP unless TLS is asked for; the helm test then trusts the system's authorities.
    assert store["spec"]["gateway"] == {"replicas": 2}
    assert "encryption" not in store["spec"]
    [container] = test_pod["spec"]["containers"]
    assert env_of(container)["NIMBUS_S3_ENDPOINT"] == f"http://store.{NAMESPACE}.svc"
    assert "NIMBUS_S3_CA_DIRECTORY" not in env_of(container)
    assert "volumes" not in test_pod["spec"]
    assert "volumeMounts" not in container


def test_the_helm_test_runs_against_the_store_with_its_admin_secret(helm: Path) -> None:
    documents = manifests(helm, *FULL)
    pod = find(documents, "Pod")
    [container] = pod["spec"]["containers"]
    env = env_of(container)

    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert pod["metadata"]["namespace"] == "storage"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert container["image"] == "registry.example/nimbus:0.2.0-rc.1"
    assert container["command"][:2] == ["python", "-c"]
    assert env["NIMBUS_S3_ENDPOINT"] == "https://media.storage.svc"
    assert env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "media-admin", "key": "accessKey"}}
    assert env["AWS_SECRET_ACCESS_KEY"] == {
        "secretKeyRef": {"name": "media-admin", "key": "secretKey"}
    }


def test_with_tls_the_helm_test_trusts_the_stores_authority_and_never_sees_its_key(
    helm: Path,
) -> None:
    documents = manifests(
        helm, "--set", "objectStore.enabled=true", "--set", "objectStore.tls.secretName=store-tls"
    )
    store = find(documents, "ObjectStore")
    pod = find(documents, "Pod")
    [container] = pod["spec"]["containers"]
    env = env_of(container)

    assert store["spec"]["gateway"] == {"replicas": 2, "tls": {"secretName": "store-tls"}}
    assert env["NIMBUS_S3_ENDPOINT"] == f"https://store.{NAMESPACE}.svc"
    assert env["NIMBUS_S3_CA_DIRECTORY"] == "/etc/nimbus/tls"
    assert container["volumeMounts"] == [
        {"name": "tls", "mountPath": "/etc/nimbus/tls", "readOnly": True}
    ]
    [volume] = pod["spec"]["volumes"]
    assert volume == {
        "name": "tls",
        "secret": {
            "secretName": "store-tls",
            # ca.crt is optional in a kubernetes.io/tls Secret: the pod starts without it.
            "optional": True,
            "items": [{"key": "ca.crt", "path": "ca.crt"}, {"key": "tls.crt", "path": "tls.crt"}],
        },
    }


def test_trust_forwarded_proto_alone_keeps_plain_http(helm: Path) -> None:
    documents = manifests(
        helm, "--set", "objectStore.enabled=true", "--set", "objectStore.trustForwardedProto=true"
    )
    store = ObjectStore.from_body(find(documents, "ObjectStore"))
    [container] = find(documents, "Pod")["spec"]["containers"]

    assert store.spec.gateway.trust_forwarded_proto is True
    assert store.spec.gateway.tls is None
    assert env_of(container)["NIMBUS_S3_ENDPOINT"] == f"http://store.{NAMESPACE}.svc"


def test_the_helm_test_trusts_ca_crt_else_tls_crt(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("s3_roundtrip", ROUNDTRIP)
    assert spec is not None
    assert spec.loader is not None
    roundtrip = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(roundtrip)

    assert roundtrip.trusted_authority("") is True
    with pytest.raises(SystemExit, match=r"no ca\.crt or tls\.crt"):
        roundtrip.trusted_authority(str(tmp_path))
    (tmp_path / "tls.crt").write_text("CERT")
    assert roundtrip.trusted_authority(str(tmp_path)) == str(tmp_path / "tls.crt")
    (tmp_path / "ca.crt").write_text("CA")
    assert roundtrip.trusted_authority(str(tmp_path)) == str(tmp_path / "ca.crt")


def test_no_store_means_no_helm_test(helm: Path) -> None:
    documents = manifests(helm, "--set", "defaultStoragePolicy.enabled=true")

    assert {doc["kind"] for doc in documents} >= {"StoragePolicy"}
    assert not [doc for doc in documents if doc["kind"] in {"Pod", "ObjectStore"}]


def test_the_operator_runs_as_pod_security_restricted_asks(helm: Path) -> None:
    documents = manifests(helm)
    pod_spec = find(documents, "Deployment")["spec"]["template"]["spec"]
    container = operator_container(documents)

    assert pod_spec["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
