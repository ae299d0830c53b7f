"""ObjectStore: defaults, every refusal with the field it names, and the model's helpers."""

from __future__ import annotations

from typing import Any

import pytest
from nimbus_operator.models.common import SpecError
from nimbus_operator.models.objectstore import (
    ObjectStore,
    ObjectStorePhase,
    ObjectStoreSpec,
    ObjectStoreStatus,
    ServiceType,
)

from tests.unit.operator.samples import OBJECT_STORES


def test_an_empty_spec_gets_every_default() -> None:
    spec = ObjectStoreSpec.from_body({"spec": {}})
    assert spec.image is None
    assert spec.region == "us-east-1"
    assert spec.part_power == 10
    assert (spec.nodes.count, spec.nodes.volume_size) == (3, "10Gi")
    assert spec.nodes.storage_class_name is None
    assert spec.nodes.zones is None
    assert spec.nodes.resources is None
    assert (spec.gateway.replicas, spec.gateway.port, spec.gateway.service_port) == (2, None, 80)
    assert spec.gateway.service_type is ServiceType.CLUSTER_IP
    assert spec.gateway.tls is None
    assert spec.gateway.trust_forwarded_proto is False
    assert spec.encryption is None
    assert spec.force_delete is False
    assert ObjectStoreSpec.from_body({}) == spec


def test_a_full_spec_is_read_as_written() -> None:
    store = ObjectStore.from_body(OBJECT_STORES["full"])
    assert store.metadata.name == "sample"
    assert store.metadata.namespace == "apps"
    assert store.metadata.generation == 2
    spec = store.spec
    assert spec.nodes.zones == ("zone-a", "zone-b", "zone-c")
    assert spec.nodes.volume_size_bytes == 2**40
    assert spec.nodes.resources is not None
    assert spec.nodes.resources.requests == {"cpu": "500m", "memory": "1Gi"}
    assert spec.gateway.service_type is ServiceType.LOAD_BALANCER
    assert spec.encryption is not None
    assert spec.encryption.key_secret_name == "sample-sse-keys"
    assert spec.gateway.tls is not None
    assert spec.gateway.tls.secret_name == "sample-tls"
    assert spec.gateway.trust_forwarded_proto is True
    assert spec.gateway.service_port == 8080


@pytest.mark.parametrize(
    ("gateway", "port"),
    [
        ({}, 80),
        ({"tls": {"secretName": "store-tls"}}, 443),
        ({"tls": {"secretName": "store-tls"}, "port": 8443}, 8443),
        ({"port": 8080}, 8080),
    ],
)
def test_the_service_port_defaults_to_the_schemes_own(gateway: dict[str, Any], port: int) -> None:
    assert ObjectStoreSpec.from_body({"spec": {"gateway": gateway}}).gateway.service_port == port


def test_numbers_are_accepted_as_quantities() -> None:
    spec = ObjectStoreSpec.from_body({"spec": {"nodes": {"volumeSize": 1073741824}}})
    assert spec.nodes.volume_size == "1073741824"
    assert spec.nodes.volume_size_bytes == 2**30


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"nodes": {"count": 0}}, "spec.nodes.count: must be at least 1 (got 0)"),
        ({"nodes": {"count": "3"}}, "spec.nodes.count: must be a whole number (got '3')"),
        ({"nodes": {"count": 2.5}}, "spec.nodes.count: must be a whole number (got 2.5)"),
        ({"nodes": {"volumeSize": "10GB"}}, "spec.nodes.volumeSize: must be a quantity"),
        ({"nodes": {"volumeSize": "0"}}, "spec.nodes.volumeSize: must be more than 0 bytes"),
        ({"nodes": {"volumeSize": "-1Gi"}}, "spec.nodes.volumeSize: must not be negative"),
        ({"nodes": {"zones": []}}, "spec.nodes.zones: must have at least 1 item(s) (got 0)"),
        ({"nodes": {"zones": ["a", "a"]}}, "spec.nodes.zones[1]: repeats 'a'"),
        ({"nodes": {"zones": "a"}}, "spec.nodes.zones: must be a list (got 'a')"),
        ({"nodes": {"storageClassName": "Fast"}}, "spec.nodes.storageClassName: must be a"),
        (
            {"nodes": {"resources": {"limits": {"memory": "lots"}}}},
            "spec.nodes.resources.limits.memory: must be a quantity",
        ),
        ({"nodes": []}, "spec.nodes: must be an object (got [])"),
        ({"partPower": 3}, "spec.partPower: must be at least 4 (got 3)"),
        ({"partPower": 21}, "spec.partPower: must be at most 20 (got 21)"),
        ({"partPower": True}, "spec.partPower: must be a whole number (got true)"),
        ({"region": "EU"}, "spec.region: must be lowercase letters, digits and '-'"),
        ({"region": ""}, "spec.region: must not be empty"),
        ({"gateway": {"replicas": 0}}, "spec.gateway.replicas: must be at least 1 (got 0)"),
        ({"gateway": {"port": 65536}}, "spec.gateway.port: must be at most 65535 (got 65536)"),
        (
            {"gateway": {"serviceType": "External"}},
            "spec.gateway.serviceType: must be one of ClusterIP, NodePort, LoadBalancer "
            "(got 'External')",
        ),
        ({"forceDelete": "yes"}, "spec.forceDelete: must be true or false (got 'yes')"),
        ({"image": ""}, "spec.image: must not be empty"),
        ({"encryption": {}}, "spec.encryption.keySecretName: "),
        ({"encryption": {"keySecretName": ""}}, "spec.encryption.keySecretName: must not be"),
        (
            {"encryption": {"keySecretName": "SSE_Keys"}},
            "spec.encryption.keySecretName: must be a Kubernetes object name",
        ),
        (
            {"encryption": {"keySecretName": "keys-"}},
            "spec.encryption.keySecretName: must be a Kubernetes object name",
        ),
        (
            {"encryption": {"keySecretName": "k" * 254}},
            "spec.encryption.keySecretName: must be at most 253 characters",
        ),
        ({"encryption": "sse-keys"}, "spec.encryption: must be an object (got 'sse-keys')"),
        ({"gateway": {"tls": {}}}, "spec.gateway.tls.secretName: "),
        (
            {"gateway": {"tls": {"secretName": "Store_TLS"}}},
            "spec.gateway.tls.secretName: must be a Kubernetes object name",
        ),
        ({"gateway": {"tls": "store-tls"}}, "spec.gateway.tls: must be an object"),
        (
            {"gateway": {"trustForwardedProto": "yes"}},
            "spec.gateway.trustForwardedProto: must be true or false (got 'yes')",
        ),
    ],
)
def test_bad_specs_name_the_field(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as raised:
        ObjectStoreSpec.from_body({"spec": spec})
    assert str(raised.value).startswith(error)


def test_a_spec_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(SpecError, match=r"^spec: must be an object"):
        ObjectStoreSpec.from_body({"spec": ["nodes"]})


def test_nulls_mean_absent_as_the_api_server_prunes_them() -> None:
    spec = ObjectStoreSpec.from_body({"spec": {"image": None, "nodes": {"count": None}}})
    assert spec.image is None
    assert spec.nodes.count == 3


def test_unknown_fields_are_ignored_as_the_api_server_prunes_them() -> None:
    assert ObjectStoreSpec.from_body({"spec": {"replicas": 3}}) == ObjectStoreSpec()


def test_part_power_cannot_change() -> None:
    old = {"spec": {"partPower": 10}}
    ObjectStoreSpec.check_update(old, {"spec": {"partPower": 10, "region": "x"}})
    with pytest.raises(SpecError, match=r"^spec.partPower: partPower cannot change"):
        ObjectStoreSpec.check_update(old, {"spec": {"partPower": 12}})


def test_status_dumps_for_a_patch_and_parses_back() -> None:
    status = ObjectStoreStatus(
        observed_generation=2,
        phase=ObjectStorePhase.READY,
        endpoint="http://s3.apps.svc:80",
        nodes_ready="3/3",
        nodes_ready_count=3,
        capacity_bytes=3 * 10 * 2**30,
        used_bytes=0,
        objects=0,
        rings={"default": 4},
        admin_secret_name="store-admin",
        buckets=1,
    )
    body = status.to_body()
    assert body["phase"] == "Ready"
    assert body["conditions"] == []
    assert body["rings"] == {"default": 4}
    assert "kopf" not in body
    assert ObjectStoreStatus.from_body({"status": {**body, "kopf": {"progress": {}}}}) == status
    assert ObjectStoreStatus.from_body({}) == ObjectStoreStatus()


def test_a_bad_status_names_the_status_field() -> None:
    with pytest.raises(SpecError, match=r"^status.phase: must be one of"):
        ObjectStoreStatus.from_body({"status": {"phase": "Sleeping"}})
