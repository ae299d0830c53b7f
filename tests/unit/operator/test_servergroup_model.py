"""ServerGroup: Nova's four policies, maxPerHost only with anti-affinity, nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from nimbus_operator.models.common import SpecError
from nimbus_operator.models.compute.servergroup import (
    ServerGroup,
    ServerGroupPolicy,
    ServerGroupSpec,
    ServerGroupStatus,
)

from tests.unit.operator.compute_samples import SERVER_GROUPS


def test_anti_affinity_with_max_per_host() -> None:
    group = ServerGroup.from_body(SERVER_GROUPS["anti-affinity"])
    assert group.spec.policy is ServerGroupPolicy.ANTI_AFFINITY
    assert group.spec.max_per_host == 2


@pytest.mark.parametrize("policy", [policy.value for policy in ServerGroupPolicy])
def test_every_nova_policy(policy: str) -> None:
    spec = ServerGroupSpec.from_body({"spec": {"policy": policy}})
    assert (spec.policy, spec.max_per_host) == (ServerGroupPolicy(policy), None)


MAX_ONLY = "spec: maxPerHost is allowed only with policy anti-affinity (as in Nova)"


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({}, "spec.policy: is required"),
        (
            {"policy": "spread"},
            "spec.policy: must be one of affinity, anti-affinity, soft-affinity, "
            "soft-anti-affinity (got 'spread')",
        ),
        ({"policy": "Affinity"}, "spec.policy: must be one of"),
        ({"policy": "affinity", "maxPerHost": 2}, MAX_ONLY),
        ({"policy": "soft-anti-affinity", "maxPerHost": 2}, MAX_ONLY),
        ({"policy": "anti-affinity", "maxPerHost": 0}, "spec.maxPerHost: must be at least 1"),
    ],
)
def test_bad_groups_name_the_field(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as caught:
        ServerGroupSpec.from_body({"spec": spec})
    assert str(caught.value).startswith(error), str(caught.value)


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ({"policy": "affinity"}, {"policy": "anti-affinity"}, "policy cannot change"),
        (
            {"policy": "anti-affinity"},
            {"policy": "anti-affinity", "maxPerHost": 3},
            "maxPerHost cannot be added, changed or removed after creation",
        ),
        (
            {"policy": "anti-affinity", "maxPerHost": 2},
            {"policy": "anti-affinity", "maxPerHost": 3},
            "maxPerHost cannot be added",
        ),
    ],
)
def test_nothing_changes(old: dict[str, Any], new: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError, match=error):
        ServerGroupSpec.check_update({"spec": old}, {"spec": new})
    ServerGroupSpec.check_update({"spec": old}, {"spec": dict(old)})


def test_status_lists_members() -> None:
    status = ServerGroupStatus(members=("web-1", "web-2"), member_count=2)
    assert status.to_body() == {"conditions": [], "members": ["web-1", "web-2"], "memberCount": 2}
    assert ServerGroupStatus.from_body({"status": status.to_body()}) == status
    with pytest.raises(SpecError, match=r"status.members\[1\]: repeats"):
        ServerGroupStatus.from_body({"status": {"members": ["a", "a"]}})
