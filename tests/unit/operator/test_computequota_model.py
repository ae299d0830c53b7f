"""ComputeQuota: limits on instances, vCPUs and memory, and usage as people read it."""

from __future__ import annotations

from typing import Any

import pytest
from nimbus_operator.models.common import SpecError
from nimbus_operator.models.compute.quota import (
    ComputeQuota,
    ComputeQuotaSpec,
    ComputeQuotaStatus,
    QuotaUsage,
    QuotaUsed,
    usage_text,
)

from tests.unit.operator.compute_samples import COMPUTE_QUOTAS


def test_limits() -> None:
    quota = ComputeQuota.from_body(COMPUTE_QUOTAS["full"])
    assert (quota.spec.instances, quota.spec.vcpus) == (10, 40)
    assert quota.spec.memory_bytes == 64 * 2**30
    only = ComputeQuotaSpec.from_body(COMPUTE_QUOTAS["instances"])
    assert (only.instances, only.vcpus, only.memory, only.memory_bytes) == (10, None, None, None)
    assert ComputeQuotaSpec.from_body({"spec": {"instances": 0}}).instances == 0


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({}, "spec: set at least one of instances, vcpus and memory"),
        ({"instances": -1}, "spec.instances: must be at least 0 (got -1)"),
        ({"vcpus": 1.5}, "spec.vcpus: must be a whole number (got 1.5)"),
        ({"memory": "lots"}, "spec.memory: must be a quantity such as 10Gi"),
    ],
)
def test_bad_quotas_name_the_field(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as caught:
        ComputeQuotaSpec.from_body({"spec": spec})
    assert str(caught.value).startswith(error), str(caught.value)


def test_usage_for_people() -> None:
    spec = ComputeQuotaSpec.from_body({"spec": {"instances": 10, "memory": "64Gi"}})
    used = QuotaUsed(instances=3, vcpus=6, memory="12Gi")
    usage = QuotaUsage.of(used, spec)
    assert (usage.instances, usage.vcpus, usage.memory) == ("3/10", "6/unlimited", "12Gi/64Gi")
    assert usage_text(0, 0) == "0/0"
    status = ComputeQuotaStatus(used=used, usage=usage, observed_generation=1)
    assert status.to_body() == {
        "observedGeneration": 1,
        "conditions": [],
        "used": {"instances": 3, "vcpus": 6, "memory": "12Gi"},
        "usage": {"instances": "3/10", "vcpus": "6/unlimited", "memory": "12Gi/64Gi"},
        "reservations": [],
    }
    assert ComputeQuotaStatus.from_body({"status": status.to_body()}) == status
