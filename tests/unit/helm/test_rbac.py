"""The operator's ClusterRole grants exactly the reviewed rules below.

A grant added to or removed from templates/rbac.yaml fails here until this list is changed
with it, so every change of the operator's powers is a reviewed change (docs/operator.md,
"RBAC", says why each is needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.unit.helm.chart import NAMESPACE, find, manifests
from tests.unit.helm.reviewed_rbac import REVIEWED_RULES, Rule


def normalised(groups: Any, resources: Any, verbs: Any) -> Rule:
    return tuple(sorted(groups)), tuple(sorted(resources)), tuple(sorted(verbs))


def granted_rule(rule: dict[str, Any]) -> Rule:
    # resourceNames or nonResourceURLs would change what a rule means: review them here first.
    assert set(rule) == {"apiGroups", "resources", "verbs"}, f"unreviewed rule fields: {rule}"
    return normalised(rule["apiGroups"], rule["resources"], rule["verbs"])


def test_the_cluster_role_grants_exactly_the_reviewed_rules(helm: Path) -> None:
    role = find(manifests(helm), "ClusterRole")
    granted = sorted(granted_rule(rule) for rule in role["rules"])
    reviewed = sorted(normalised(*rule) for rule in REVIEWED_RULES)

    added = [rule for rule in granted if rule not in reviewed]
    removed = [rule for rule in reviewed if rule not in granted]
    assert (added, removed) == ([], []), f"granted but not reviewed: {added}; gone: {removed}"


def test_no_rule_grants_everything(helm: Path) -> None:
    role = find(manifests(helm), "ClusterRole")

    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"wildcard in {rule}"


def test_the_role_is_bound_to_the_operators_service_account(helm: Path) -> None:
    documents = manifests(helm)
    role = find(documents, "ClusterRole")
    binding = find(documents, "ClusterRoleBinding")
    deployment = find(documents, "Deployment")

    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": deployment["spec"]["template"]["spec"]["serviceAccountName"],
            "namespace": NAMESPACE,
        }
    ]


def test_leader_election_may_touch_only_its_own_lease(helm: Path) -> None:
    documents = manifests(helm)
    role = find(documents, "Role")
    binding = find(documents, "RoleBinding")
    deployment = find(documents, "Deployment")
    lease_name = deployment["metadata"]["name"]
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }

    assert env["NIMBUS_LEADER_ELECTION_LEASE"] == f"{NAMESPACE}/{lease_name}"
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [lease_name],
            "verbs": ["get", "update"],
        },
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert (
        binding["subjects"][0]["name"]
        == deployment["spec"]["template"]["spec"]["serviceAccountName"]
    )
