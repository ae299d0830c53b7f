"""Pure parts of the KubeVirt stand-in (no cluster): KubeVirt's status precedence, run
strategies, the objects it builds. tests/e2e/test_kubevirt_standin.py exercises the same code
against a real API server."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.kubevirt_standin import manifests, status
from e2e.kubevirt_standin.vm import SyncError, run_strategy

VM: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "apps", "uid": "vm-uid", "generation": 3},
    "spec": {
        "runStrategy": "Always",
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "domain": {"memory": {"guest": "1Gi"}, "devices": {}},
                "nodeSelector": {"topology.kubernetes.io/zone": "b"},
                "tolerations": [{"key": "dedicated", "operator": "Exists"}],
                "volumes": [{"name": "root", "dataVolume": {"name": "web-root"}}],
            },
        },
    },
}


def _vmi(phase: str, **extra: Any) -> dict[str, Any]:
    vmi = manifests.vmi_for(VM)
    vmi["metadata"]["uid"] = "vmi-uid"
    vmi["status"] = {"phase": phase, **extra}
    return vmi


def _printable(vmi: dict[str, Any] | None, dvs: dict[str, Any] | None = None, **kw: bool) -> str:
    return status.printable_status(
        VM,
        vmi,
        dvs or {},
        start_expected=kw.get("start", False),
        stop_expected=kw.get("stop", False),
    )


def test_printable_status_follows_kubevirts_precedence() -> None:
    failed_dv = {"web-root": {"status": {"phase": "Failed"}}}
    importing_dv = {"web-root": {"status": {"phase": "ImportInProgress"}}}
    unschedulable = {
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]
    }

    assert _printable(None) == "Stopped"
    assert _printable(None, start=True) == "Starting"
    assert _printable(None, importing_dv, start=True) == "Provisioning"
    assert _printable(None, failed_dv, start=True) == "DataVolumeError"
    assert _printable(_vmi("Scheduling", **unschedulable)) == "ErrorUnschedulable"
    assert _printable(_vmi("Scheduled")) == "Starting"
    assert _printable(_vmi("Running")) == "Running"
    assert _printable(_vmi("Running"), stop=True) == "Stopping"
    assert _printable(_vmi("Succeeded"), stop=True) == "Stopped"
    deleting = {**VM, "metadata": {**VM["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert (
        status.printable_status(
            deleting, _vmi("Running"), {}, start_expected=False, stop_expected=False
        )
        == "Terminating"
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"runStrategy": "RerunOnFailure"}, "RerunOnFailure"),
        ({"running": True}, "Always"),
        ({"running": False}, "Halted"),
        ({}, "Halted"),
    ],
)
def test_run_strategy_reads_run_strategy_or_the_deprecated_running(
    spec: dict[str, Any], expected: str
) -> None:
    assert run_strategy({"spec": spec}) == expected


@pytest.mark.parametrize(
    "spec", [{"running": True, "runStrategy": "Always"}, {"runStrategy": "Sometimes"}]
)
def test_an_impossible_run_strategy_is_a_sync_error(spec: dict[str, Any]) -> None:
    with pytest.raises(SyncError):
        run_strategy({"spec": spec})


def test_the_vmi_is_the_vms_template_owned_by_the_vm() -> None:
    vmi = manifests.vmi_for(VM)

    assert vmi["metadata"]["name"] == "web"
    assert vmi["metadata"]["labels"] == {"app": "web"}
    assert vmi["metadata"]["annotations"]["kubevirt.io/vm-generation"] == "3"
    assert vmi["metadata"]["ownerReferences"][0]["uid"] == "vm-uid"
    assert vmi["spec"] == VM["spec"]["template"]["spec"]
    assert vmi["spec"] is not VM["spec"]["template"]["spec"]


def test_the_launcher_pod_carries_the_vmis_placement_and_memory() -> None:
    vmi = _vmi("Pending")

    pod = manifests.launcher_pod(vmi)

    assert pod["metadata"]["name"] == manifests.launcher_pod_name(vmi)
    assert pod["metadata"]["name"].startswith("virt-launcher-web-")
    assert pod["metadata"]["labels"]["kubevirt.io/created-by"] == "vmi-uid"
    assert pod["spec"]["nodeSelector"] == {"topology.kubernetes.io/zone": "b"}
    assert pod["spec"]["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert pod["spec"]["containers"][0]["resources"] == {"requests": {"memory": "1Gi"}}
    assert pod["spec"]["restartPolicy"] == "Never"


def test_vmi_phases_advance_one_step_at_a_time_with_the_pod() -> None:
    scheduled_pod = {
        "spec": {"nodeName": "nimbus-node-b", "containers": [{"image": "x"}]},
        "status": {
            "phase": "Running",
            "podIP": "127.1.0.9",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    pending_pod: dict[str, Any] = {"spec": {}, "status": {"phase": "Pending"}}

    assert status.next_vmi_phase(_vmi("Pending"), None) == "Pending"
    assert status.next_vmi_phase(_vmi("Pending"), pending_pod) == "Scheduling"
    assert status.next_vmi_phase(_vmi("Scheduling"), scheduled_pod) == "Scheduled"
    assert status.next_vmi_phase(_vmi("Scheduled"), scheduled_pod) == "Running"
    assert status.next_vmi_phase(_vmi("Running"), None) == "Failed"
    running = status.vmi_status(_vmi("Scheduled"), scheduled_pod, "Running", "now")
    assert running["nodeName"] == "nimbus-node-b"
    assert running["interfaces"][0]["ipAddress"] == "127.1.0.9"


def test_an_unchanged_status_is_not_written_again() -> None:
    conditions: list[dict[str, Any]] = [
        {"type": "Ready", "status": "True", "lastTransitionTime": "t0"}
    ]
    current = {"phase": "Running", "conditions": conditions}
    merged = status.merge_conditions(conditions, [{"type": "Ready", "status": "True"}], "t1")
    same = {"phase": "Running", "conditions": merged}

    assert merged[0]["lastTransitionTime"] == "t0"
    assert status.status_patch(current, same) is None
    assert status.status_patch(current, {"phase": "Failed"}) == {
        "phase": "Failed",
        "conditions": None,
    }
