"""Operating the operator as an admin does: two replicas and one leader, least privilege,
``helm upgrade`` without a lost reconcile, JSON logs.

Reconciles here are of Buckets naming a store that does not exist: each reconcile answers
with a status that says so (Ready=False, StoreNotFound): cheap, and it shows who reconciled.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from typing import Any

import pytest
from kubernetes import client

from e2e.cluster.catalog import BinaryPaths
from e2e.nodeagent.logs import LogNotFound, read_log
from tests.e2e.bucket_helpers import GROUP, VERSION, bucket_manifest
from tests.e2e.conftest import E2ECluster
from tests.e2e.operator_install import (
    OPERATOR_NAMESPACE,
    Operator,
    OperatorPod,
    install,
    leader_pod_name,
    lease,
    operator_pods,
    reconciles,
    scrape,
)
from tests.e2e.waiting import wait_until
from tests.unit.helm.reviewed_rbac import LEASE_RULES, REVIEWED_RULES

pytestmark = pytest.mark.e2e

LEASE_DURATION = 15.0
"""The chart's Lease duration (the operator's default)."""
TAKEOVER_TIMEOUT = 4 * LEASE_DURATION
"""A dead leader's Lease expires, then a standby's next retry takes it (on a busy machine)."""
ROLLOUT_TIMEOUT = 180.0
RECONCILE_TIMEOUT = 60.0
BUCKET_RESYNC = 60.0
"""Buckets are resynced at most once a minute (a refused status waits for the next)."""
SERVICE_ACCOUNT = f"system:serviceaccount:{OPERATOR_NAMESPACE}:nimbus-operator"
EVERY_IDENTITY = {
    # system:basic-user, which every authenticated identity has.
    ("selfsubjectreviews.authentication.k8s.io", (), ("create",)),
    ("selfsubjectaccessreviews.authorization.k8s.io", (), ("create",)),
    ("selfsubjectrulesreviews.authorization.k8s.io", (), ("create",)),
}


@pytest.fixture
def coordination(api_client: client.ApiClient) -> client.CoordinationV1Api:
    return client.CoordinationV1Api(api_client)


def pending_reason(custom_objects: client.CustomObjectsApi, namespace: str, name: str) -> str:
    bucket: Any = custom_objects.get_namespaced_custom_object(
        GROUP, VERSION, namespace, "buckets", name
    )
    status = bucket.get("status") or {}
    if status.get("observedGeneration") != bucket["metadata"]["generation"]:
        return ""
    ready = [c for c in status.get("conditions") or [] if c["type"] == "Ready"]
    return str(ready[0]["message"]) if ready else ""


def wait_reconciled(
    custom_objects: client.CustomObjectsApi,
    namespace: str,
    name: str,
    timeout: float = RECONCILE_TIMEOUT,
) -> str:
    return wait_until(
        lambda: pending_reason(custom_objects, namespace, name),
        lambda message: "ObjectStore" in message and "absent does not exist" in message,
        f"Bucket {name} reconciled (its store is absent)",
        timeout,
    )


def lease_transitions(coordination: client.CoordinationV1Api) -> int:
    spec = lease(coordination)
    assert spec is not None, "the operator's Lease exists"
    return int(spec.lease_transitions or 0)


def orphan_bucket(name: str) -> dict[str, Any]:
    return bucket_manifest(name, "absent")


def wait_for_two_replicas_and_a_leader(
    core_v1: client.CoreV1Api, coordination: client.CoordinationV1Api
) -> tuple[OperatorPod, OperatorPod]:
    """(leader, standby), once both run and the Lease names one of them."""

    def observe() -> tuple[list[OperatorPod], str | None]:
        running = [p for p in operator_pods(core_v1) if p.phase == "Running"]
        return running, leader_pod_name(coordination)

    pods, leader = wait_until(
        observe,
        lambda seen: len(seen[0]) == 2 and seen[1] in {p.name for p in seen[0]},
        "two operator replicas, one of them holding the Lease",
        ROLLOUT_TIMEOUT,
    )
    by_name = {pod.name: pod for pod in pods}
    standby = next(pod for name, pod in by_name.items() if name != leader)
    return by_name[str(leader)], standby


def wait_for_successor(
    core_v1: client.CoreV1Api, coordination: client.CoordinationV1Api, leader: OperatorPod
) -> OperatorPod:
    """The live replica that took the Lease from ``leader``: the standby, or the pod the
    Deployment started in the leader's place, whichever asked first."""

    def observe() -> tuple[str | None, dict[str, OperatorPod]]:
        return leader_pod_name(coordination), {p.name: p for p in operator_pods(core_v1)}

    holder, pods = wait_until(
        observe,
        lambda seen: seen[0] not in (None, leader.name) and seen[0] in seen[1],
        f"another replica to take the Lease of {leader.name}",
        TAKEOVER_TIMEOUT,
    )
    return pods[str(holder)]


def test_one_replica_leads_and_a_standby_takes_over_when_it_dies(
    nimbus_operator: Operator,
    core_v1: client.CoreV1Api,
    coordination: client.CoordinationV1Api,
    custom_objects: client.CustomObjectsApi,
    namespace: str,
) -> None:
    leader, standby = wait_for_two_replicas_and_a_leader(core_v1, coordination)
    custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "buckets", orphan_bucket("before")
    )
    wait_reconciled(custom_objects, namespace, "before")

    leading, waiting = scrape(leader), scrape(standby)
    assert leading[("nimbus_operator_leader", ())] == 1
    assert waiting[("nimbus_operator_leader", ())] == 0
    assert reconciles(leading, "Bucket") >= 1
    assert reconciles(waiting, "Bucket") == 0, "the standby reconciles nothing"
    transitions = lease_transitions(coordination)

    core_v1.delete_namespaced_pod(
        leader.name,
        OPERATOR_NAMESPACE,
        body=client.V1DeleteOptions(grace_period_seconds=0),
    )
    died = time.monotonic()
    successor = wait_for_successor(core_v1, coordination, leader)
    print(f"takeover after an unannounced death: {time.monotonic() - died:.1f} s")
    assert (lease_transitions(coordination)) == transitions + 1

    custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "buckets", orphan_bucket("after")
    )
    wait_reconciled(custom_objects, namespace, "after")
    assert scrape(successor)[("nimbus_operator_leader", ())] == 1


def test_a_leader_stopped_gracefully_hands_its_lease_over(
    nimbus_operator: Operator,
    e2e_cluster: E2ECluster,
    core_v1: client.CoreV1Api,
    coordination: client.CoordinationV1Api,
) -> None:
    leader, _ = wait_for_two_replicas_and_a_leader(core_v1, coordination)

    core_v1.delete_namespaced_pod(leader.name, OPERATOR_NAMESPACE)  # SIGTERM, 30 s

    wait_for_successor(core_v1, coordination, leader)
    log = wait_until(
        lambda: operator_log(e2e_cluster, leader.name),
        lambda text: "released the leader Lease" in text,
        "the old leader to log its release",
        RECONCILE_TIMEOUT,
    )
    assert "Signal SIGTERM is received. Operator is stopping." in log


def operator_log(e2e_cluster: E2ECluster, pod: str) -> str:
    try:
        return read_log(e2e_cluster.kubeconfig.parent, OPERATOR_NAMESPACE, pod)
    except LogNotFound:
        return ""


def test_the_service_account_may_do_exactly_the_reviewed_things(
    nimbus_operator: Operator, e2e_cluster: E2ECluster
) -> None:
    kubectl = BinaryPaths.from_cache().kubectl
    result = subprocess.run(
        [
            *(str(kubectl), "--kubeconfig", str(e2e_cluster.kubeconfig), "auth", "can-i"),
            *("--list", "--as", SERVICE_ACCOUNT, "--namespace", OPERATOR_NAMESPACE),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    granted = can_i_rules(result.stdout)
    reviewed: set[tuple[str, tuple[str, ...], tuple[str, ...]]] = {
        (can_i_name(resource, group), (), tuple(sorted(verbs)))
        for groups, resources, verbs in REVIEWED_RULES
        for group in groups
        for resource in resources
    }
    reviewed |= {(r, names, tuple(sorted(verbs))) for r, names, verbs in LEASE_RULES}
    reviewed |= EVERY_IDENTITY
    assert granted - reviewed == set(), "granted but not reviewed"
    assert reviewed - granted == set(), "reviewed but not granted"


def can_i_name(resource: str, group: str) -> str:
    """``buckets/status`` of ``storage.nimbus.dev`` as can-i prints it:
    ``buckets.storage.nimbus.dev/status``."""
    plural, slash, subresource = resource.partition("/")
    return f"{plural}{'.' if group else ''}{group}{slash}{subresource}"


def can_i_rules(table: str) -> set[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Resource rules of ``kubectl auth can-i --list``: (resource.group, names, verbs).
    Non-resource URLs (discovery, health) are every identity's and are left out."""
    rules = set()
    for line in table.splitlines()[1:]:
        columns = re.split(r"\s{2,}", line.strip())
        if len(columns) != 4 or columns[1] != "[]":
            continue
        resource, _urls, names, verbs = columns
        rules.add(
            (
                resource,
                tuple(sorted(names.strip("[]").split())),
                tuple(sorted(verbs.strip("[]").split())),
            )
        )
    return rules


def test_without_its_status_grant_a_bucket_is_reconciled_but_cannot_say_so(  # noqa: PLR0917
    nimbus_operator: Operator,
    e2e_cluster: E2ECluster,
    core_v1: client.CoreV1Api,
    coordination: client.CoordinationV1Api,
    api_client: client.ApiClient,
    custom_objects: client.CustomObjectsApi,
    namespace: str,
) -> None:
    """The grant ``buckets/status: patch`` is needed (a removed grant breaks a named test):
    without it the reconcile runs and its status is refused; with it back, the status lands."""
    rbac = client.RbacAuthorizationV1Api(api_client)
    rules = rbac.read_cluster_role("nimbus-operator").rules or []
    original = [_rule(rule.to_dict()) for rule in rules]
    reduced = [
        {**rule, "resources": [r for r in rule["resources"] if r != "buckets/status"]}
        for rule in original
    ]
    refusal = (
        f'"mute" is forbidden: User "{SERVICE_ACCOUNT}" cannot patch resource "buckets/status"'
    )
    rbac.patch_cluster_role("nimbus-operator", {"rules": reduced})
    try:
        leader, _ = wait_for_two_replicas_and_a_leader(core_v1, coordination)
        custom_objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "buckets", orphan_bucket("mute")
        )
        wait_until(
            lambda: operator_log(e2e_cluster, leader.name),
            lambda log: refusal in log,
            "the API server to refuse the Bucket's status",
            RECONCILE_TIMEOUT,
        )
        assert pending_reason(custom_objects, namespace, "mute") == ""
    finally:
        rbac.patch_cluster_role("nimbus-operator", {"rules": original})
    wait_reconciled(custom_objects, namespace, "mute", RECONCILE_TIMEOUT + BUCKET_RESYNC)


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    names = {
        "api_groups": "apiGroups",
        "resources": "resources",
        "verbs": "verbs",
        "resource_names": "resourceNames",
        "non_resource_ur_ls": "nonResourceURLs",
    }
    return {names[key]: value for key, value in rule.items() if value is not None}


def test_helm_upgrade_rolls_the_operator_without_losing_a_reconcile(  # noqa: PLR0917
    nimbus_operator: Operator,
    e2e_cluster: E2ECluster,
    core_v1: client.CoreV1Api,
    coordination: client.CoordinationV1Api,
    custom_objects: client.CustomObjectsApi,
    namespace: str,
) -> None:
    wait_for_two_replicas_and_a_leader(core_v1, coordination)
    old_pods = {pod.name for pod in operator_pods(core_v1)}
    created: list[str] = []
    upgrading = threading.Event()
    upgrading.set()

    def keep_creating() -> None:
        while upgrading.is_set():
            name = f"during-{len(created)}"
            custom_objects.create_namespaced_custom_object(
                GROUP, VERSION, namespace, "buckets", orphan_bucket(name)
            )
            created.append(name)
            time.sleep(0.5)

    creator = threading.Thread(target=keep_creating)
    creator.start()
    try:
        install(e2e_cluster.kubeconfig, "operator.logFormat=json")
    finally:
        upgrading.clear()
        creator.join()

    new_pods = wait_until(
        lambda: {pod.name for pod in operator_pods(core_v1)},
        lambda names: len(names) == 2 and not names & old_pods,
        "the upgrade to replace both operator pods",
        ROLLOUT_TIMEOUT,
    )
    assert len(created) >= 2, "Buckets were created while the operator rolled"
    for name in created:
        wait_reconciled(custom_objects, namespace, name)
    leader = str(leader_pod_name(coordination))
    assert leader in new_pods
    lines = [line for line in operator_log(e2e_cluster, leader).splitlines() if line]
    assert lines, "the new leader logs"
    first = json.loads(lines[0])
    assert {"time", "level", "logger", "message"} <= set(first)

    install(e2e_cluster.kubeconfig)  # back to the session's values
    wait_until(
        lambda: {pod.name for pod in operator_pods(core_v1)},
        lambda names: len(names) == 2 and not names & new_pods,
        "the operator rolled back to text logs",
        ROLLOUT_TIMEOUT,
    )
