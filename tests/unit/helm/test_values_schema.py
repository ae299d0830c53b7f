"""values.schema.json: every value described, nothing else accepted, and a wrong value refused
by ``helm template`` (so by ``helm install``) with a message that names it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.helm.chart import CHART, FULL_VALUES, run_helm, template

SCHEMA: dict[str, Any] = json.loads((CHART / "values.schema.json").read_text())
DEFAULTS: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
HELM_OWN_KEYS = {"global"}  # a parent chart may pass global values down


def object_schemas(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every object schema with named properties, with its path in the values."""
    found = [(path, schema)] if "properties" in schema else []
    for key, child in schema.get("properties", {}).items():
        found += object_schemas(child, f"{path}.{key}")
    return found


@pytest.mark.parametrize(("path", "schema"), object_schemas(SCHEMA))
def test_each_object_of_values_refuses_unknown_keys(path: str, schema: dict[str, Any]) -> None:
    assert schema.get("additionalProperties") is False, f"{path or 'values'} accepts any key"


def described_keys(schema: dict[str, Any], defaults: dict[str, Any], path: str = "") -> set[str]:
    """Keys the schema names, down to where values.yaml has an empty map (affinity: {} is
    Kubernetes' type, described only at its top)."""
    keys = set()
    for key, child in schema.get("properties", {}).items():
        keys.add(f"{path}{key}")
        default = defaults.get(key)
        if isinstance(default, dict) and default:
            keys |= described_keys(child, default, f"{path}{key}.")
    return keys


def value_keys(values: dict[str, Any], schema: dict[str, Any], path: str = "") -> set[str]:
    """Keys of values.yaml, down to where the schema stops naming properties (free-form maps
    such as resources.requests or nodeSelector)."""
    keys = set()
    for key, value in values.items():
        keys.add(f"{path}{key}")
        child = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict) and "properties" in child:
            keys |= value_keys(value, child, f"{path}{key}.")
    return keys


def test_the_schema_describes_exactly_the_values_of_values_yaml() -> None:
    described = described_keys(SCHEMA, DEFAULTS) - HELM_OWN_KEYS

    assert value_keys(DEFAULTS, SCHEMA) == described


def test_every_described_value_says_what_it_is() -> None:
    undescribed = [
        path
        for path, schema in object_schemas(SCHEMA)
        for key, child in schema["properties"].items()
        if "description" not in child and "$ref" not in child
    ]
    assert undescribed == []


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("operator.replicas=-1", "at '/operator/replicas': minimum: got -1, want 0"),
        ("operator.replicas=6", "at '/operator/replicas': maximum: got 6, want 5"),
        ("image.pullPolicy=Sometimes", "at '/image/pullPolicy': value must be one of"),
        ("operator.colour=blue", "at '/operator': additional properties 'colour' not allowed"),
        ("colour=blue", "additional properties 'colour' not allowed"),
        ("operator.affinity.nodeAfinity.x=1", "at '/operator/affinity': additional properties"),
        ("operator.logLevel=trace", "at '/operator/logLevel': value must be one of"),
        ("operator.resyncSeconds=0", "at '/operator/resyncSeconds'"),
        ("operator.resources.requests.cpu=lots", "at '/operator/resources/requests/cpu'"),
        ("metrics.port=70000", "at '/metrics/port': maximum"),
        ("metrics.serviceMonitor.interval=often", "at '/metrics/serviceMonitor/interval'"),
        ("defaultStoragePolicy.replicas=11", "at '/defaultStoragePolicy/replicas': maximum"),
        ("objectStore.name=My_Store", "at '/objectStore/name'"),
        ("objectStore.nodes=0", "at '/objectStore/nodes': minimum"),
        ("objectStore.volumeSize=lots", "at '/objectStore/volumeSize'"),
        ("objectStore.gatewayReplicas=many", "at '/objectStore/gatewayReplicas'"),
        ("objectStore.tls.secretName=My_Cert", "at '/objectStore/tls/secretName'"),
        ("objectStore.tls.certificate=x", "at '/objectStore/tls': additional properties"),
        ("objectStore.trustForwardedProto=maybe", "at '/objectStore/trustForwardedProto'"),
    ],
)
def test_a_wrong_value_fails_naming_it(helm: Path, setting: str, message: str) -> None:
    result = run_helm(helm, "template", "nimbus", str(CHART), "--set", setting)

    assert result.returncode != 0, f"--set {setting} was accepted"
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr


def test_a_service_monitor_without_the_metrics_service_is_refused(helm: Path) -> None:
    result = run_helm(
        helm,
        "template",
        "nimbus",
        str(CHART),
        "--set",
        "metrics.enabled=false",
        "--set",
        "metrics.serviceMonitor.enabled=true",
    )

    assert result.returncode != 0
    assert "metrics.serviceMonitor.enabled needs metrics.enabled" in result.stderr


def test_the_full_values_file_sets_every_value() -> None:
    full = yaml.safe_load(FULL_VALUES.read_text())

    assert value_keys(DEFAULTS, SCHEMA) <= value_keys(full, SCHEMA)


def test_the_values_tests_rely_on_are_accepted(helm: Path) -> None:
    # The e2e install's settings (tests/e2e/operator_install.py) and a parent chart's globals.
    template(helm, "--set", "image.tag=dev", "--set", "operator.resyncSeconds=3")
    template(helm, "--set", "global.imageRegistry=registry.example")
