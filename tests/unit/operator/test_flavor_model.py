"""Flavor: sizes, extra specs, hugepages, devices, node selectors, immutability."""

from __future__ import annotations

from typing import Any

import pytest
from nimbus_operator.models.common import SpecError
from nimbus_operator.models.compute.flavor import (
    Device,
    Flavor,
    FlavorSpec,
    FlavorStatus,
    HugepageSize,
)

from tests.unit.operator.compute_samples import FLAVORS

SMALL = {"vcpus": 1, "memory": "2Gi", "rootDisk": "20Gi"}


def test_small_flavor_with_defaults() -> None:
    flavor = Flavor.from_body(FLAVORS["small"])
    assert flavor.metadata.name == "sample"
    spec = flavor.spec
    assert (spec.vcpus, spec.memory_bytes, spec.root_disk_bytes) == (1, 2 * 2**30, 20 * 2**30)
    extra = spec.extra_specs
    assert extra.dedicated_cpus is False
    assert (extra.hugepages, extra.gpus, extra.host_devices, extra.node_selector) == (
        None,
        (),
        (),
        None,
    )


def test_full_flavor() -> None:
    spec = FlavorSpec.from_body(FLAVORS["full"])
    extra = spec.extra_specs
    assert extra.dedicated_cpus is True
    assert extra.hugepages is not None
    assert extra.hugepages.page_size is HugepageSize.SIZE_1GI
    assert extra.hugepages.page_size.bytes == 2**30
    assert extra.gpus == (Device(name="gpu1", device_name="nvidia.com/TU104GL_Tesla_T4"),)
    assert [device.name for device in extra.host_devices] == ["vf1", "vf2"]
    assert extra.node_selector == {"node.kubernetes.io/instance-type": "metal", "gpu": "true"}


def spec_with(**changes: Any) -> dict[str, Any]:
    return {"spec": {**SMALL, **changes}}


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"memory": "2Gi", "rootDisk": "20Gi"}, "spec.vcpus: is required"),
        ({"vcpus": 1, "rootDisk": "20Gi"}, "spec.memory: is required"),
        ({"vcpus": 1, "memory": "2Gi"}, "spec.rootDisk: is required"),
        ({**SMALL, "vcpus": 0}, "spec.vcpus: must be at least 1 (got 0)"),
        ({**SMALL, "vcpus": 513}, "spec.vcpus: must be at most 512 (got 513)"),
        ({**SMALL, "vcpus": "2"}, "spec.vcpus: must be a whole number (got '2')"),
        ({**SMALL, "memory": "2 GB"}, "spec.memory: must be a quantity such as 10Gi"),
        ({**SMALL, "memory": "32Mi"}, "spec.memory: must be at least 64Mi (got '32Mi')"),
        ({**SMALL, "rootDisk": 0}, "spec.rootDisk: must be more than 0 bytes"),
        ({**SMALL, "rootDisk": "-1Gi"}, "spec.rootDisk: must not be negative"),
        (
            {**SMALL, "extraSpecs": {"dedicatedCpus": "yes"}},
            "spec.extraSpecs.dedicatedCpus: must be true or false",
        ),
        (
            {**SMALL, "extraSpecs": {"hugepages": {"pageSize": "4Ki"}}},
            "spec.extraSpecs.hugepages.pageSize: must be one of 2Mi, 1Gi (got '4Ki')",
        ),
        (
            {**SMALL, "extraSpecs": {"hugepages": {}}},
            "spec.extraSpecs.hugepages.pageSize: is required",
        ),
        (
            {**SMALL, "memory": "1536Mi", "extraSpecs": {"hugepages": {"pageSize": "1Gi"}}},
            "spec.memory: must be a whole number of 1Gi hugepages (extraSpecs.hugepages.pageSize)"
            " (got '1536Mi')",
        ),
        (
            {**SMALL, "extraSpecs": {"gpus": [{"name": "gpu1", "deviceName": "TeslaT4"}]}},
            "spec.extraSpecs.gpus[0].deviceName: must be a resource name as a device plugin "
            "advertises it, <vendor domain>/<name>",
        ),
        (
            {**SMALL, "extraSpecs": {"gpus": [{"name": "GPU", "deviceName": "nvidia.com/t4"}]}},
            "spec.extraSpecs.gpus[0].name: must be a DNS label",
        ),
        (
            {
                **SMALL,
                "extraSpecs": {
                    "hostDevices": [
                        {"name": "a", "deviceName": "x.io/a"},
                        {"name": "a", "deviceName": "x.io/b"},
                    ]
                },
            },
            "spec.extraSpecs.hostDevices[1]: repeats name 'a': each item must be unique",
        ),
        (
            {
                **SMALL,
                "extraSpecs": {
                    "gpus": [{"name": f"g{i}", "deviceName": "x.io/g"} for i in range(9)]
                },
            },
            "spec.extraSpecs.gpus: must have at most 8 items (got 9)",
        ),
        (
            {**SMALL, "extraSpecs": {"nodeSelector": {"bad key": "x"}}},
            "spec.extraSpecs.nodeSelector: every key must be a label key",
        ),
        (
            {**SMALL, "extraSpecs": {"nodeSelector": {"disktype": "not ok"}}},
            "spec.extraSpecs.nodeSelector.disktype: must be a label value",
        ),
        (
            {**SMALL, "extraSpecs": {"nodeSelector": {f"k{i}": "v" for i in range(17)}}},
            "spec.extraSpecs.nodeSelector: must have at most 16 entries",
        ),
    ],
)
def test_bad_flavors_name_the_field(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as caught:
        FlavorSpec.from_body({"spec": spec})
    assert str(caught.value).startswith(error), str(caught.value)


@pytest.mark.parametrize(
    ("memory", "page_size"), [("2Gi", "1Gi"), ("3Gi", "1Gi"), ("130Mi", "2Mi"), ("2Gi", "2Mi")]
)
def test_memory_in_whole_hugepages(memory: str, page_size: str) -> None:
    spec = FlavorSpec.from_body(
        spec_with(memory=memory, extraSpecs={"hugepages": {"pageSize": page_size}})
    )
    assert spec.extra_specs.hugepages is not None


@pytest.mark.parametrize(
    "key", ["gpu", "node.kubernetes.io/instance-type", "example.com/a_b.c-d", "A9"]
)
def test_label_keys(key: str) -> None:
    spec = FlavorSpec.from_body(spec_with(extraSpecs={"nodeSelector": {key: ""}}))
    assert spec.extra_specs.node_selector == {key: ""}


@pytest.mark.parametrize("key", ["", "a/", "/a", "Example.com/a", "a" * 64, "-a", "a b"])
def test_bad_label_keys(key: str) -> None:
    with pytest.raises(SpecError, match="every key must be a label key"):
        FlavorSpec.from_body(spec_with(extraSpecs={"nodeSelector": {key: "x"}}))


@pytest.mark.parametrize("field", ["vcpus", "memory", "rootDisk"])
def test_sizes_cannot_change(field: str) -> None:
    old = {"spec": dict(SMALL)}
    new = {"spec": {**SMALL, field: {"vcpus": 2, "memory": "4Gi", "rootDisk": "40Gi"}[field]}}
    with pytest.raises(SpecError, match=f"{field} cannot change: create another Flavor"):
        FlavorSpec.check_update(old, new)
    FlavorSpec.check_update(old, spec_with(extraSpecs={"dedicatedCpus": True}))


def test_status_round_trips() -> None:
    status = FlavorStatus.from_body({"status": {"observedGeneration": 1, "servers": 3}})
    assert status.servers == 3
    assert status.to_body() == {"observedGeneration": 1, "conditions": [], "servers": 3}
