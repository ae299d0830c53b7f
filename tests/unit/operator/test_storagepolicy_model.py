"""StoragePolicy: exactly one of replicas and erasureCoding, EC bounds, immutability."""

from __future__ import annotations

from typing import Any

import pytest
from nimbus_operator.models.common import SpecError
from nimbus_operator.models.storagepolicy import (
    ErasureCoding,
    FailureDomain,
    StoragePolicy,
    StoragePolicySpec,
    StoragePolicyStatus,
)

from tests.unit.operator.samples import STORAGE_POLICIES


def test_replicas_with_defaults() -> None:
    spec = StoragePolicySpec.from_body(STORAGE_POLICIES["replicas"])
    assert spec == StoragePolicySpec(replicas=3)
    assert spec.failure_domain is FailureDomain.ZONE
    assert spec.default is False
    assert spec.durability == "3 replicas"
    assert StoragePolicySpec(replicas=1).durability == "1 replica"


def test_erasure_coding() -> None:
    policy = StoragePolicy.from_body(STORAGE_POLICIES["erasure-coded"])
    assert policy.metadata.name == "sample"
    assert policy.spec.erasure_coding == ErasureCoding(data=4, parity=2)
    assert policy.spec.failure_domain is FailureDomain.NODE
    assert policy.spec.default is True
    assert policy.spec.durability == "EC 4+2"


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({}, "spec: set exactly one of replicas and erasureCoding"),
        (
            {"replicas": 3, "erasureCoding": {"data": 4, "parity": 2}},
            "spec: set exactly one of replicas and erasureCoding",
        ),
        ({"replicas": 0}, "spec.replicas: must be at least 1 (got 0)"),
        ({"replicas": 11}, "spec.replicas: must be at most 10 (got 11)"),
        ({"erasureCoding": {"data": 4}}, "spec.erasureCoding.parity: is required"),
        ({"erasureCoding": {"parity": 2}}, "spec.erasureCoding.data: is required"),
        (
            {"erasureCoding": {"data": 0, "parity": 2}},
            "spec.erasureCoding.data: must be at least 1",
        ),
        (
            {"erasureCoding": {"data": 33, "parity": 1}},
            "spec.erasureCoding.data: must be at most 32",
        ),
        (
            {"erasureCoding": {"data": 4, "parity": 17}},
            "spec.erasureCoding.parity: must be at most",
        ),
        (
            {"erasureCoding": {"data": 20, "parity": 13}},
            "spec.erasureCoding: data + parity must be at most 32 fragments",
        ),
        ({"replicas": 3, "failureDomain": "rack"}, "spec.failureDomain: must be one of zone, node"),
        ({"replicas": 3, "default": 1}, "spec.default: must be true or false (got 1)"),
    ],
)
def test_bad_specs_name_the_field(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as raised:
        StoragePolicySpec.from_body({"spec": spec})
    assert str(raised.value).startswith(error)


def test_the_largest_erasure_code_is_accepted() -> None:
    spec = StoragePolicySpec.from_body({"spec": {"erasureCoding": {"data": 16, "parity": 16}}})
    assert spec.durability == "EC 16+16"


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ({"replicas": 3}, {"replicas": 2}, "spec: replicas cannot be added, changed or removed"),
        (
            {"replicas": 3},
            {"erasureCoding": {"data": 4, "parity": 2}},
            "spec: replicas cannot be added, changed or removed",
        ),
        (
            {"erasureCoding": {"data": 4, "parity": 2}},
            {"erasureCoding": {"data": 4, "parity": 3}},
            "spec: erasureCoding cannot be added, changed or removed",
        ),
    ],
)
def test_durability_cannot_change(old: dict[str, Any], new: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as raised:
        StoragePolicySpec.check_update({"spec": old}, {"spec": new})
    assert str(raised.value).startswith(error)


def test_placement_and_default_can_change() -> None:
    StoragePolicySpec.check_update(
        {"spec": {"replicas": 3, "failureDomain": "zone", "default": False}},
        {"spec": {"replicas": 3, "failureDomain": "node", "default": True}},
    )


def test_status_dump() -> None:
    status = StoragePolicyStatus(observed_generation=1, durability="EC 4+2", in_use_by=0)
    assert status.to_body() == {
        "observedGeneration": 1,
        "conditions": [],
        "durability": "EC 4+2",
        "inUseBy": 0,
    }
