"""KubeVirt's and CDI's CRDs in the local cluster are the real ones: built from KubeVirt v1.7.0's
own CRD builders and CDI v1.63.1's API types, Established by ``up``, and validating for real."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.kubevirt_helpers import KubeVirtApi, vm_manifest

pytestmark = pytest.mark.e2e

VM_CRD = "virtualmachines.kubevirt.io"
VMI_CRD = "virtualmachineinstances.kubevirt.io"
DV_CRD = "datavolumes.cdi.kubevirt.io"


def _crd(api: client.ApiextensionsV1Api, name: str) -> dict[str, Any]:
    found: dict[str, Any] = api.read_custom_resource_definition(name).to_dict()
    return found


def _established(crd: dict[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


def _columns(version: dict[str, Any]) -> list[str]:
    return [column["name"] for column in version.get("additional_printer_columns") or []]


def test_kubevirt_and_cdi_crds_are_established_with_their_names_and_columns(
    apiextensions_v1: client.ApiextensionsV1Api,
) -> None:
    vm, vmi, dv = (_crd(apiextensions_v1, name) for name in (VM_CRD, VMI_CRD, DV_CRD))

    assert all(_established(crd) for crd in (vm, vmi, dv))
    assert vm["spec"]["names"]["short_names"] == ["vm", "vms"]
    assert vmi["spec"]["names"]["short_names"] == ["vmi", "vmis"]
    assert dv["spec"]["names"]["short_names"] == ["dv", "dvs"]
    for crd in (vm, vmi, dv):
        assert crd["spec"]["names"]["categories"] == ["all"]
    # KubeVirt serves v1 (storage) and the deprecated v1alpha3, as virt-operator installs them.
    versions = {v["name"]: v for v in vm["spec"]["versions"]}
    assert set(versions) == {"v1", "v1alpha3"}
    assert versions["v1"]["storage"]
    assert versions["v1alpha3"]["deprecated"]
    assert _columns(versions["v1"]) == ["Age", "Status", "Ready"]
    vmi_v1 = next(v for v in vmi["spec"]["versions"] if v["name"] == "v1")
    assert _columns(vmi_v1) == [
        "Age",
        "Phase",
        "IP",
        "NodeName",
        "Ready",
        "Live-Migratable",
        "Paused",
    ]
    # The status subresource exists on VirtualMachine only (not on VirtualMachineInstance).
    assert versions["v1"]["subresources"]["status"] is not None
    assert vmi_v1.get("subresources") is None
    dv_v1beta1 = dv["spec"]["versions"][0]
    assert dv_v1beta1["name"] == "v1beta1"
    assert _columns(dv_v1beta1) == ["Phase", "Progress", "Restarts", "Age"]
    assert dv_v1beta1["subresources"]["status"] is not None


def _rejection(error: ApiException) -> str:
    body = json.loads(error.body or "{}")
    return str(body.get("message", ""))


def test_a_vm_with_a_wrongly_typed_field_is_rejected_by_the_api_server(
    custom_objects: client.CustomObjectsApi, namespace: str
) -> None:
    manifest = vm_manifest("bad-type")
    manifest["spec"]["template"]["spec"]["domain"]["cpu"]["cores"] = "two"

    with pytest.raises(ApiException) as caught:
        KubeVirtApi(custom_objects, namespace).create_vm(manifest)

    assert caught.value.status == 422
    message = _rejection(caught.value)
    assert "spec.template.spec.domain.cpu.cores" in message
    assert "must be of type integer" in message


def test_a_vm_without_a_domain_is_rejected(
    custom_objects: client.CustomObjectsApi, namespace: str
) -> None:
    manifest = vm_manifest("no-domain")
    del manifest["spec"]["template"]["spec"]["domain"]

    with pytest.raises(ApiException) as caught:
        KubeVirtApi(custom_objects, namespace).create_vm(manifest)

    assert caught.value.status == 422
    assert "spec.template.spec.domain: Required value" in _rejection(caught.value)


def test_unknown_vm_fields_are_refused_when_strict_and_pruned_otherwise(
    custom_objects: client.CustomObjectsApi, namespace: str
) -> None:
    """A structural schema with no escape hatch: an unknown field is an error under strict
    field validation (kubectl's default) and is dropped from the stored object otherwise."""
    kubevirt = KubeVirtApi(custom_objects, namespace)
    manifest = vm_manifest("unknown-field", run_strategy="Halted")
    manifest["spec"]["template"]["spec"]["domain"]["bogusField"] = True

    with pytest.raises(ApiException) as caught:
        kubevirt.create_vm(manifest, field_validation="Strict")
    assert caught.value.status == 400
    assert 'unknown field "spec.template.spec.domain.bogusField"' in _rejection(caught.value)

    stored = kubevirt.create_vm(manifest, field_validation="Ignore")
    assert "bogusField" not in stored["spec"]["template"]["spec"]["domain"]
    assert stored["spec"]["template"]["spec"]["domain"]["cpu"] == {"cores": 1}
