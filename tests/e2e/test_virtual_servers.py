"""VirtualServers end to end: the operator (installed by Helm) turns them into KubeVirt
VirtualMachines that the real KubeVirt CRDs accept, and reports Nova's status from what the
harness's virt-controller stand-in makes of them (instances, launcher pods on kwok nodes).
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from e2e.cluster.catalog import BinaryPaths
from tests.e2e.compute_helpers import (
    ACTIVE_TIMEOUT,
    KUBEVIRT,
    PUBLIC_KEY,
    Compute,
    cluster_flavors,
    image_manifest,
    server_manifest,
)
from tests.e2e.conftest import E2ECluster
from tests.e2e.operator_install import Operator
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

REASON_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def flavors(custom_objects: client.CustomObjectsApi) -> Iterator[list[str]]:
    """A small (1 vCPU, 1Gi) and a medium (2 vCPUs, 2Gi) flavor."""
    yield from cluster_flavors(custom_objects, (1, "1Gi"), (2, "2Gi"))


@pytest.fixture
def compute(
    nimbus_operator: Operator, custom_objects: client.CustomObjectsApi, namespace: str
) -> Compute:
    """The namespace's compute objects, with an Image ``debian`` and a KeyPair ``mine``."""
    found = Compute(custom_objects, namespace)
    found.create("images", image_manifest("debian"))
    found.create("images", image_manifest("other", "quay.io/containerdisks/fedora:41"))
    found.create(
        "keypairs",
        {
            "apiVersion": "compute.nimbus.dev/v1alpha1",
            "kind": "KeyPair",
            "metadata": {"name": "mine"},
            "spec": {"publicKey": PUBLIC_KEY},
        },
    )
    return found


def fault(compute: Compute, name: str) -> str:
    status = wait_until(
        lambda: compute.server_status(name),
        lambda seen: seen.get("status") == "ERROR",
        f"VirtualServer {name} to be in ERROR",
        REASON_TIMEOUT,
    )
    return str(status["fault"]["message"])


def template_spec(vm: dict[str, Any]) -> dict[str, Any]:
    return dict(vm["spec"]["template"]["spec"])


def test_a_server_becomes_an_active_virtual_machine(
    compute: Compute, flavors: list[str], e2e_cluster: E2ECluster
) -> None:
    small, _ = flavors
    user_data = "#cloud-config\nwrite_files:\n  - path: /etc/hello\n    content: hi\n"
    compute.create(
        "virtualservers",
        server_manifest("web", small, "debian", keyPairs=["mine"], userData=user_data),
    )

    status = compute.wait_status("web", "ACTIVE")

    vm = compute.existing_vm("web")
    assert vm["spec"]["runStrategy"] == "Always"
    domain = template_spec(vm)["domain"]
    assert domain["cpu"]["cores"] == 1
    assert domain["memory"]["guest"] == "1Gi"
    cloud_init = next(v for v in template_spec(vm)["volumes"] if "cloudInitNoCloud" in v)
    seed = cloud_init["cloudInitNoCloud"]["userData"]
    assert PUBLIC_KEY in seed
    assert "/etc/hello" in seed
    assert status["ip"].startswith("127.")
    assert status["node"].startswith("nimbus-node-")
    assert status["zone"] in {"a", "b", "c"}
    assert status["flavor"] == small
    assert status["phase"] == "Ready"
    columns = subprocess.run(
        [str(BinaryPaths.from_cache().kubectl), "get", "virtualservers", "-n", compute.namespace],
        env=dict(os.environ, KUBECONFIG=str(e2e_cluster.kubeconfig)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert columns[:8] == ["NAME", "STATUS", "FLAVOR", "IMAGE", "IP", "NODE", "ZONE", "AGE"]
    assert columns[8:14] == ["web", "ACTIVE", small, "debian", status["ip"], status["node"]]


def test_stop_start_reboot_resize_and_rebuild(compute: Compute, flavors: list[str]) -> None:
    small, medium = flavors
    compute.create("virtualservers", server_manifest("life", small, "debian"))
    compute.wait_status("life", "ACTIVE")

    compute.patch_server("life", {"powerState": "Stopped"})
    compute.wait_status("life", "SHUTOFF")
    assert compute.existing_vm("life")["spec"]["runStrategy"] == "Halted"
    assert compute.instance_uid("life") is None

    compute.patch_server("life", {"powerState": "Running"})
    compute.wait_status("life", "ACTIVE")

    first = compute.instance_uid("life")
    compute.patch_server("life", {"reboot": {"request": "first"}})
    wait_until(
        lambda: compute.server_status("life").get("status"),
        lambda seen: seen in ("REBOOT", "ACTIVE") and compute.instance_uid("life") != first,
        "the reboot to start",
        ACTIVE_TIMEOUT,
    )
    rebooted = compute.wait_status("life", "ACTIVE")
    assert rebooted["lastRebootRequest"] == "first"
    assert compute.instance_uid("life") not in (None, first), "a new instance runs"

    compute.patch_server("life", {"flavor": medium})
    resized = compute.wait_status("life", "ACTIVE")
    while resized.get("flavor") != medium:
        resized = compute.wait_status("life", "ACTIVE")
    assert template_spec(compute.existing_vm("life"))["domain"]["cpu"]["cores"] == 2

    before = compute.instance_uid("life")
    compute.patch_server("life", {"image": {"name": "other"}, "rebuild": {"request": "r1"}})
    rebuilt = wait_until(
        lambda: compute.server_status("life"),
        lambda seen: seen.get("lastRebuildRequest") == "r1" and seen.get("status") == "ACTIVE",
        "the rebuild to finish",
        ACTIVE_TIMEOUT,
    )
    assert rebuilt["image"].endswith("/other")
    assert compute.instance_uid("life") != before
    volumes = template_spec(compute.existing_vm("life"))["volumes"]
    root = next(v for v in volumes if v["name"] == "rootdisk")
    assert root["containerDisk"]["image"] == "quay.io/containerdisks/fedora:41"


def test_the_image_cannot_change_without_a_rebuild(compute: Compute, flavors: list[str]) -> None:
    compute.create("virtualservers", server_manifest("fixed", flavors[0], "debian"))

    with pytest.raises(ApiException) as refused:
        compute.patch_server("fixed", {"image": {"name": "other"}})

    assert refused.value.status == 422
    assert "rebuild" in str(refused.value.body)


def test_deleting_a_server_removes_what_it_made_and_frees_its_flavor(
    compute: Compute, custom_objects: client.CustomObjectsApi, core_v1: client.CoreV1Api
) -> None:
    flavors = cluster_flavors(custom_objects, (1, "512Mi"))
    (flavor,) = next(flavors)
    ports = [{"name": "default", "ports": [{"name": "ssh", "port": 22}]}]
    big = "#!/bin/sh\n" + "echo nimbus >/dev/null\n" * 200  # over KubeVirt's 2048 inline bytes
    compute.create(
        "virtualservers",
        server_manifest("gone", flavor, "debian", networks=ports, userData=big),
    )
    compute.wait_status("gone", "ACTIVE")
    assert core_v1.read_namespaced_secret("gone-cloud-init", compute.namespace).data
    service: Any = core_v1.read_namespaced_service("gone", compute.namespace)
    assert [port.port for port in service.spec.ports] == [22]

    compute.delete("flavors", flavor)
    in_use = wait_until(
        lambda: compute.get("flavors", flavor) or {},
        lambda seen: "InUse" in str((seen.get("status") or {}).get("conditions")),
        "the Flavor to say it is in use",
        REASON_TIMEOUT,
    )
    assert f"{compute.namespace}/gone" in str(in_use["status"]["conditions"])

    compute.delete("virtualservers", "gone")
    wait_until(
        lambda: (compute.vm("gone"), compute.get("flavors", flavor)),
        lambda seen: seen == (None, None),
        "the VirtualMachine and then the Flavor to go",
        ACTIVE_TIMEOUT,
    )
    wait_until(
        lambda: [
            s.metadata.name
            for s in core_v1.list_namespaced_secret(compute.namespace).items
            if s.metadata and s.metadata.name == "gone-cloud-init"
        ],
        lambda left: not left,
        "the cloud-init Secret to be collected",
        REASON_TIMEOUT,
    )


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"flavor": "no-such-flavor"}, "Flavor no-such-flavor does not exist"),
        ({"image": {"name": "no-such-image"}}, "does not exist: `kubectl get images"),
        ({"keyPairs": ["nobody"]}, "KeyPair nobody does not exist"),
        ({"serverGroup": "nogroup"}, "ServerGroup nogroup does not exist"),
    ],
)
def test_a_server_naming_what_does_not_exist_is_in_error(
    compute: Compute, flavors: list[str], spec: dict[str, Any], reason: str
) -> None:
    manifest = server_manifest("broken", flavors[0], "debian")
    manifest["spec"].update(spec)
    compute.create("virtualservers", manifest)

    assert reason in fault(compute, "broken")
    assert compute.vm("broken") is None


def test_user_data_over_novas_limit_is_refused_by_the_api(
    compute: Compute, flavors: list[str]
) -> None:
    manifest = server_manifest("huge", flavors[0], "debian", userData="x" * 65536)

    with pytest.raises(ApiException) as refused:
        compute.create("virtualservers", manifest)

    assert refused.value.status == 422
    assert "65535" in str(refused.value.body)


def test_concurrent_creates_past_the_quota_leave_the_losers_in_error_with_nothing_made(
    compute: Compute, flavors: list[str]
) -> None:
    compute.create(
        "computequotas",
        {
            "apiVersion": "compute.nimbus.dev/v1alpha1",
            "kind": "ComputeQuota",
            "metadata": {"name": "team"},
            "spec": {"instances": 2},
        },
    )
    names = [f"rush-{i}" for i in range(5)]
    barrier = threading.Barrier(len(names))

    def create(name: str) -> None:
        barrier.wait()
        compute.create("virtualservers", server_manifest(name, flavors[0], "debian"))

    threads = [threading.Thread(target=create, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    outcome = wait_until(
        lambda: {name: compute.server_status(name).get("status") for name in names},
        lambda seen: sorted(map(str, seen.values())) == ["ACTIVE", "ACTIVE", *["ERROR"] * 3],
        "two servers ACTIVE and three in ERROR",
        ACTIVE_TIMEOUT,
    )
    losers = [name for name, status in outcome.items() if status == "ERROR"]
    for name in losers:
        assert "Quota exceeded for instances" in compute.server_status(name)["fault"]["message"]
        assert compute.vm(name) is None, f"{name} lost the race and made nothing"
    quota = compute.get("computequotas", "team") or {}
    assert quota["status"]["used"]["instances"] == 2
    assert sorted(r["server"] for r in quota["status"]["reservations"]) == sorted(
        set(names) - set(losers)
    )


def test_anti_affinity_spreads_a_group_over_the_three_zones(
    compute: Compute, flavors: list[str]
) -> None:
    compute.create(
        "servergroups",
        {
            "apiVersion": "compute.nimbus.dev/v1alpha1",
            "kind": "ServerGroup",
            "metadata": {"name": "spread"},
            "spec": {"policy": "anti-affinity"},
        },
    )
    for index in range(4):
        compute.create(
            "virtualservers",
            server_manifest(f"member-{index}", flavors[0], "debian", serverGroup="spread"),
        )

    placed = wait_until(
        lambda: [compute.server_status(f"member-{i}") for i in range(4)],
        lambda seen: sorted(str(s.get("status")) for s in seen) == [*["ACTIVE"] * 3, "ERROR"],
        "three members ACTIVE, one per node, and the fourth unschedulable",
        ACTIVE_TIMEOUT,
    )
    running = [s for s in placed if s["status"] == "ACTIVE"]
    assert len({s["node"] for s in running}) == 3
    assert {s["zone"] for s in running} == {"a", "b", "c"}
    (stuck,) = [s for s in placed if s["status"] == "ERROR"]
    assert "didn't match pod anti-affinity rules" in stuck["fault"]["message"]
    group = wait_until(
        lambda: compute.get("servergroups", "spread") or {},
        lambda seen: (seen.get("status") or {}).get("memberCount") == 4,
        "the group to count its members",
        REASON_TIMEOUT,
    )
    assert group["status"]["members"] == [f"member-{i}" for i in range(4)]


def test_a_vm_of_the_operator_is_one_kubevirt_accepts_with_a_bad_field_refused(
    compute: Compute, flavors: list[str], custom_objects: client.CustomObjectsApi
) -> None:
    """The schema is KubeVirt's own: a field of the wrong type is refused by the API server."""
    compute.create("virtualservers", server_manifest("checked", flavors[0], "debian"))
    vm = wait_until(lambda: compute.vm("checked"), bool, "the VirtualMachine", REASON_TIMEOUT)
    assert vm is not None
    broken = {"spec": {"template": {"spec": {"domain": {"cpu": {"cores": "two"}}}}}}

    with pytest.raises(ApiException) as refused:
        custom_objects.patch_namespaced_custom_object(
            *KUBEVIRT, compute.namespace, "virtualmachines", "checked", broken
        )

    assert refused.value.status == 422


def test_max_per_host_puts_at_most_that_many_members_on_a_node(
    compute: Compute, flavors: list[str]
) -> None:
    compute.create(
        "servergroups",
        {
            "apiVersion": "compute.nimbus.dev/v1alpha1",
            "kind": "ServerGroup",
            "metadata": {"name": "pairs"},
            "spec": {"policy": "anti-affinity", "maxPerHost": 2},
        },
    )
    names = [f"pair-{index}" for index in range(7)]
    for name in names:
        compute.create(
            "virtualservers", server_manifest(name, flavors[0], "debian", serverGroup="pairs")
        )

    placed = wait_until(
        lambda: [compute.server_status(name) for name in names],
        lambda seen: sorted(str(s.get("status")) for s in seen) == [*["ACTIVE"] * 6, "ERROR"],
        "six members ACTIVE, two per node, and the seventh unschedulable",
        ACTIVE_TIMEOUT,
    )

    per_node: dict[str, int] = {}
    for status in placed:
        if status["status"] == "ACTIVE":
            per_node[status["node"]] = per_node.get(status["node"], 0) + 1
    assert sorted(per_node.values()) == [2, 2, 2]


def test_an_availability_zone_places_the_server_in_it(compute: Compute, flavors: list[str]) -> None:
    compute.create(
        "virtualservers", server_manifest("zoned", flavors[0], "debian", availabilityZone="b")
    )

    status = compute.wait_status("zoned", "ACTIVE")

    assert status["zone"] == "b"
    assert status["node"] == "nimbus-node-b"
