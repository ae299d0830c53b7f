"""A server's state in Nova's words from its VirtualMachine, VMI and DataVolumes: one test per
row of the mapping, then the actions in progress and when they settle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from nimbus_operator.models.compute.serverparts import PowerState
from nimbus_operator.models.compute.virtualserver import Address, IPFamily, ServerStatus
from nimbus_operator.render.compute.names import DISK_LABEL
from nimbus_operator.render.compute.server_status import (
    PendingAction,
    ServerAction,
    ServerState,
    server_state,
)

Obj = dict[str, Any]
RUNNING = PowerState.RUNNING
STOPPED = PowerState.STOPPED
T0 = "2024-05-01T12:00:00Z"
T1 = "2024-05-01T12:05:00Z"


def vm(printable: str | None, *conditions: Obj, **status: Any) -> Obj:
    body: Obj = {"metadata": {"name": "web-1", "uid": "vm-uid"}}
    if printable is not None:
        body["status"] = {"printableStatus": printable, **status}
        if conditions:
            body["status"]["conditions"] = list(conditions)
    return body


def cond(type_: str, status: str, reason: str = "", message: str = "") -> Obj:
    found: Obj = {"type": type_, "status": status, "lastTransitionTime": T0}
    if reason:
        found["reason"] = reason
    if message:
        found["message"] = message
    return found


def guest_failed_vmi(message: str) -> Obj:
    """A VMI whose guest failed before it ran: Ready=False says why."""
    failed = vmi("Failed", ready=False)
    failed["status"]["conditions"][0] = cond("Ready", "False", "GuestFailed", message)
    return failed


def vmi(
    phase: str = "Running",
    *,
    uid: str = "vmi-1",
    ready: bool = True,
    conditions: tuple[Obj, ...] = (),
    deleting: bool = False,
) -> Obj:
    metadata: Obj = {"name": "web-1", "uid": uid}
    if deleting:
        metadata["deletionTimestamp"] = T1
    status: Obj = {
        "phase": phase,
        "conditions": [cond("Ready", "True" if ready else "False"), *conditions],
        "phaseTransitionTimestamps": [
            {"phase": "Pending", "phaseTransitionTimestamp": T0},
            {"phase": phase, "phaseTransitionTimestamp": T1},
        ],
    }
    if phase in ("Scheduled", "Running"):
        status["nodeName"] = "node-a"
    if phase == "Running":
        status["interfaces"] = [
            {
                "name": "default",
                "ipAddress": "10.244.1.7",
                "ipAddresses": ["10.244.1.7", "fd00:10:244:1::7/64", "fe80::1"],
            }
        ]
    return {"metadata": metadata, "status": status}


def dv(
    name: str = "web-1-rootdisk",
    phase: str = "Succeeded",
    *,
    disk: str = "rootdisk",
    progress: str | None = None,
    error: str | None = None,
) -> Obj:
    status: Obj = {"phase": phase}
    if progress is not None:
        status["progress"] = progress
    if error is not None:
        status["conditions"] = [cond("Running", "False", "Error", error)]
    return {"metadata": {"name": name, "labels": {DISK_LABEL: disk}}, "status": status}


@dataclass(frozen=True)
class Row:
    vm: Obj | None
    vmi: Obj | None = None
    dvs: tuple[Obj, ...] = ()
    power: PowerState = RUNNING
    launched: bool = False
    pending: PendingAction | None = None
    expect: ServerStatus = ServerStatus.BUILD
    settled: bool = True
    reason: str | None = None
    has: tuple[str, ...] = field(default=())
    """Words the message (or the fault's message, for ERROR) must contain."""


def state(row: Row) -> ServerState:
    return server_state(
        row.vm,
        row.vmi,
        row.dvs,
        power_state=row.power,
        pending_action=row.pending,
        launched=row.launched,
    )


UNSCHEDULABLE = cond(
    "PodScheduled",
    "False",
    "Unschedulable",
    "0/3 nodes are available: 3 Insufficient memory.",
)
PULL_FAILED = "Back-off pulling image quay.io/containerdisks/nope:40"
PVC_MISSING = "PVC apps/web-logs does not exist, waiting for it to appear"
IMPORT_FAILED = "Unable to connect to http data source: expected status code 200, got 404"

ROWS: dict[str, Row] = {
    # -- being built
    "no VM yet": Row(None, reason="Creating"),
    "VM with no status yet": Row(vm(None), reason="Creating"),
    "root disk importing": Row(
        vm("Provisioning"),
        dvs=(dv(phase="ImportInProgress", progress="45.2%"),),
        reason="Provisioning",
        has=("root disk is being imported", "45.2%"),
    ),
    "extra disk provisioning": Row(
        vm("Provisioning"),
        dvs=(dv(), dv("web-1-data", "Pending", disk="data")),
        has=("web-1-data",),
    ),
    "waiting for volume binding": Row(vm("WaitingForVolumeBinding"), has=("bound",)),
    "starting, no VMI yet": Row(vm("Starting"), reason="Starting"),
    "starting, VMI scheduling": Row(vm("Starting"), vmi("Scheduling", ready=False)),
    "running, guest not ready yet": Row(
        vm("Running"), vmi(ready=False), reason="Booting", has=("node-a",)
    ),
    "stopped, never launched, about to start": Row(vm("Stopped")),
    "waiting for a migration source": Row(vm("WaitingForReceiver")),
    # -- steady
    "running and ready": Row(
        vm("Running"), vmi(), expect=ServerStatus.ACTIVE, reason="Running", has=("node-a",)
    ),
    "running, launched before, guest not ready": Row(
        vm("Running"), vmi(ready=False), launched=True, expect=ServerStatus.ACTIVE
    ),
    "migrating": Row(vm("Migrating"), vmi(), launched=True, expect=ServerStatus.ACTIVE),
    "stopping (powering off)": Row(
        vm("Stopping"), vmi(), power=STOPPED, launched=True, expect=ServerStatus.ACTIVE
    ),
    "stopped": Row(vm("Stopped"), power=STOPPED, launched=True, expect=ServerStatus.SHUTOFF),
    "created stopped": Row(vm("Stopped"), power=STOPPED, expect=ServerStatus.SHUTOFF),
    "stopped by the guest, KubeVirt restarts it": Row(
        vm("Stopped"), vmi("Succeeded"), launched=True, expect=ServerStatus.SHUTOFF
    ),
    "starting again (powering on)": Row(vm("Starting"), launched=True, expect=ServerStatus.SHUTOFF),
    "terminating": Row(vm("Terminating"), vmi(deleting=True), expect=ServerStatus.SHUTOFF),
    "paused by a user": Row(
        vm("Paused"),
        vmi(conditions=(cond("Paused", "True", "PausedByUser"),)),
        launched=True,
        expect=ServerStatus.SHUTOFF,
    ),
    "running with a failed new extra disk (degraded)": Row(
        vm("Running"),
        vmi(),
        dvs=(dv(), dv("web-1-data", "ImportInProgress", disk="data", error="no such class")),
        launched=True,
        expect=ServerStatus.ACTIVE,
    ),
    # -- errors
    "unschedulable": Row(
        vm("ErrorUnschedulable", UNSCHEDULABLE),
        vmi("Scheduling", ready=False, conditions=(UNSCHEDULABLE,)),
        expect=ServerStatus.ERROR,
        reason="Unschedulable",
        has=("No node can run the server", "Insufficient memory", "smaller flavor"),
    ),
    "image pull error": Row(
        vm("ErrImagePull", cond("Synchronized", "False", "ErrImagePull", PULL_FAILED)),
        vmi("Scheduled", ready=False),
        expect=ServerStatus.ERROR,
        reason="ImagePullFailed",
        has=("cannot be pulled", "quay.io/containerdisks/nope:40", "containerDisk.image"),
    ),
    "image pull back-off": Row(
        vm("ImagePullBackOff"),
        vmi(
            "Scheduled",
            ready=False,
            conditions=(cond("Synchronized", "False", "ImagePullBackOff", PULL_FAILED),),
        ),
        expect=ServerStatus.ERROR,
        reason="ImagePullFailed",
        has=("Back-off pulling image",),
    ),
    "claim not found": Row(
        vm("ErrorPvcNotFound", cond("Synchronized", "False", "FailedPvcNotFound", PVC_MISSING)),
        expect=ServerStatus.ERROR,
        reason="ClaimNotFound",
        has=("PersistentVolumeClaim", "web-logs", "spec.volumes"),
    ),
    "root disk import failed": Row(
        vm("DataVolumeError"),
        dvs=(dv(phase="ImportInProgress", error=IMPORT_FAILED),),
        expect=ServerStatus.ERROR,
        reason="RootDiskFailed",
        has=("root disk cannot be made from the Image", "got 404", "web-1-rootdisk"),
    ),
    "extra disk failed": Row(
        vm("DataVolumeError"),
        dvs=(dv(), dv("web-1-data", "Failed", disk="data")),
        expect=ServerStatus.ERROR,
        reason="VolumeFailed",
        has=("volume 'data'", "storageClassName"),
    ),
    "data volume error, the DataVolume not read": Row(
        vm("DataVolumeError"), expect=ServerStatus.ERROR, reason="DiskFailed"
    ),
    "a failed disk behind Provisioning": Row(
        vm("Provisioning"),
        dvs=(dv(phase="ImportInProgress", error=IMPORT_FAILED),),
        expect=ServerStatus.ERROR,
        reason="RootDiskFailed",
    ),
    "crash loop": Row(
        vm(
            "CrashLoopBackOff",
            startFailure={"consecutiveFailCount": 3, "retryAfterTimestamp": T1},
        ),
        expect=ServerStatus.ERROR,
        reason="CrashLoop",
        has=("3 times in a row", T1),
    ),
    "crash loop: the failed attempt says why": Row(
        vm(
            "CrashLoopBackOff",
            startFailure={"consecutiveFailCount": 1, "retryAfterTimestamp": T1},
        ),
        guest_failed_vmi("the guest did not boot: the firmware found no bootable disk"),
        expect=ServerStatus.ERROR,
        reason="CrashLoop",
        has=("failed to start:", "found no bootable disk", T1),
    ),
    "unknown (node lost)": Row(
        vm("Unknown"), vmi("Unknown"), expect=ServerStatus.ERROR, reason="StateUnknown"
    ),
    "KubeVirt cannot create the VMI": Row(
        vm(
            "Starting",
            cond("Failure", "True", "FailedCreate", 'admission webhook "x" denied the request'),
        ),
        expect=ServerStatus.ERROR,
        reason="StartFailed",
        has=("denied the request",),
    ),
    "paused by a disk I/O error": Row(
        vm("Paused"),
        vmi(conditions=(cond("Paused", "True", "PausedIOError", "low-level IO error"),)),
        expect=ServerStatus.ERROR,
        reason="DiskIOError",
        has=("I/O error", "reboot.request"),
    ),
}


@pytest.mark.parametrize("name", list(ROWS))
def test_mapping(name: str) -> None:
    row = ROWS[name]
    found = state(row)
    assert found.status == row.expect
    assert found.settled == row.settled
    if row.reason is not None:
        assert found.reason == row.reason
    text = found.fault.message if found.fault is not None else found.message
    for words in row.has:
        assert words in text
    assert (found.fault is not None) == (row.expect == ServerStatus.ERROR)
    assert found.message.endswith(".")


def test_a_fault_says_when_and_how_bad() -> None:
    unschedulable = state(ROWS["unschedulable"]).fault
    assert unschedulable is not None
    assert (unschedulable.code, unschedulable.created) == (500, T0)
    missing = state(ROWS["claim not found"]).fault
    assert missing is not None
    assert missing.code == 400


def test_a_very_long_kubevirt_message_is_cut_to_the_faults_limit() -> None:
    long = cond("PodScheduled", "False", "Unschedulable", "x" * 10_000)
    fault = server_state(vm("ErrorUnschedulable", long), None, [], power_state=RUNNING).fault
    assert fault is not None
    assert len(fault.message) == 4096
    assert fault.message.endswith("...")


def test_a_running_server_reports_its_addresses_node_and_launch() -> None:
    found = state(ROWS["running and ready"])
    assert found.addresses == (
        Address(network="default", ip="10.244.1.7", family=IPFamily.IPV4),
        Address(network="default", ip="fd00:10:244:1::7", family=IPFamily.IPV6),
    )
    assert found.ip == "10.244.1.7"
    assert (found.node, found.vm_status, found.power_state) == ("node-a", "Running", RUNNING)
    assert found.launched_at == T1


def test_a_stopped_or_missing_server_reports_no_address() -> None:
    stopped = state(ROWS["stopped"])
    assert (stopped.addresses, stopped.ip, stopped.node) == ((), None, None)
    assert (stopped.power_state, stopped.launched_at) == (STOPPED, None)
    missing = state(ROWS["no VM yet"])
    assert (missing.power_state, missing.vm_status) == (None, None)
    terminating = state(ROWS["terminating"])
    assert (terminating.addresses, terminating.power_state) == ((), STOPPED)


def test_a_failed_extra_disk_of_a_running_server_is_reported_as_degraded() -> None:
    found = state(ROWS["running with a failed new extra disk (degraded)"])
    assert found.degraded is not None
    assert "volume 'data'" in found.degraded
    assert "no such class" in found.degraded
    assert state(ROWS["running and ready"]).degraded is None


# -- actions in progress ------------------------------------------------------------------------

REBOOT = PendingAction(ServerAction.REBOOT, previous_vmi_uid="vmi-1")
HARD_REBOOT = PendingAction(ServerAction.HARD_REBOOT, previous_vmi_uid="vmi-1")
RESIZE = PendingAction(ServerAction.RESIZE, previous_vmi_uid="vmi-1")
REBUILD = PendingAction(
    ServerAction.REBUILD, previous_vmi_uid="vmi-1", data_volumes=("web-1-rootdisk-1a2b3c4d",)
)
NEW_ROOT = "web-1-rootdisk-1a2b3c4d"

ACTION_ROWS: dict[str, Row] = {
    "reboot: the old VMI still runs": Row(
        vm("Running"), vmi(), pending=REBOOT, expect=ServerStatus.REBOOT, settled=False
    ),
    "reboot: the old VMI stops": Row(
        vm("Stopping"),
        vmi(deleting=True),
        pending=REBOOT,
        expect=ServerStatus.REBOOT,
        settled=False,
    ),
    "reboot: no VMI for a moment": Row(
        vm("Starting"), pending=REBOOT, expect=ServerStatus.REBOOT, settled=False
    ),
    "reboot: the new VMI boots": Row(
        vm("Running"),
        vmi(uid="vmi-2", ready=False),
        pending=REBOOT,
        expect=ServerStatus.REBOOT,
        settled=False,
    ),
    "reboot: the new VMI is ready": Row(
        vm("Running"), vmi(uid="vmi-2"), pending=REBOOT, expect=ServerStatus.ACTIVE
    ),
    "reboot in place (no VMI uid to wait out)": Row(
        vm("Running"),
        vmi(),
        pending=PendingAction(ServerAction.REBOOT),
        expect=ServerStatus.ACTIVE,
    ),
    "hard reboot": Row(
        vm("Starting"), pending=HARD_REBOOT, expect=ServerStatus.HARD_REBOOT, settled=False
    ),
    "hard reboot done": Row(
        vm("Running"), vmi(uid="vmi-2"), pending=HARD_REBOOT, expect=ServerStatus.ACTIVE
    ),
    "reboot while stopped is ignored": Row(
        vm("Stopped"), power=STOPPED, launched=True, pending=REBOOT, expect=ServerStatus.SHUTOFF
    ),
    "resize: restarting": Row(
        vm("Starting"), pending=RESIZE, expect=ServerStatus.RESIZE, settled=False
    ),
    "resize: done": Row(
        vm("Running"), vmi(uid="vmi-2"), pending=RESIZE, expect=ServerStatus.ACTIVE
    ),
    "resize while stopping": Row(
        vm("Stopping"),
        vmi(),
        power=STOPPED,
        pending=RESIZE,
        expect=ServerStatus.RESIZE,
        settled=False,
    ),
    "resize while stopped: applies at the next start": Row(
        vm("Stopped"), power=STOPPED, launched=True, pending=RESIZE, expect=ServerStatus.SHUTOFF
    ),
    "resize that does not fit": Row(
        vm("ErrorUnschedulable", UNSCHEDULABLE),
        pending=RESIZE,
        expect=ServerStatus.ERROR,
        settled=False,
    ),
    "rebuild: the new root disk imports": Row(
        vm("Provisioning"),
        dvs=(dv(NEW_ROOT, "ImportInProgress", progress="10.0%"),),
        pending=REBUILD,
        expect=ServerStatus.REBUILD,
        settled=False,
    ),
    "rebuild: the new root disk is not there yet": Row(
        vm("Running"), vmi(uid="vmi-2"), pending=REBUILD, expect=ServerStatus.REBUILD, settled=False
    ),
    "rebuild: the new disk's import failed while the old VMI still runs": Row(
        vm("Running"),
        vmi(),
        dvs=(dv(NEW_ROOT, "ImportInProgress", error=IMPORT_FAILED),),
        pending=REBUILD,
        expect=ServerStatus.ERROR,
        settled=False,
        reason="RootDiskFailed",
    ),
    "rebuild: done": Row(
        vm("Running"),
        vmi(uid="vmi-2"),
        dvs=(dv(NEW_ROOT),),
        pending=REBUILD,
        expect=ServerStatus.ACTIVE,
    ),
    "rebuild while stopped: importing": Row(
        vm("Provisioning"),
        dvs=(dv(NEW_ROOT, "ImportInProgress"),),
        power=STOPPED,
        launched=True,
        pending=REBUILD,
        expect=ServerStatus.REBUILD,
        settled=False,
    ),
    "rebuild while stopped: done": Row(
        vm("Stopped"),
        dvs=(dv(NEW_ROOT),),
        power=STOPPED,
        launched=True,
        pending=REBUILD,
        expect=ServerStatus.SHUTOFF,
    ),
    "rebuild while stopped on a WaitForFirstConsumer class: as done as it gets": Row(
        vm("Stopped"),
        dvs=(dv(NEW_ROOT, "WaitForFirstConsumer"),),
        power=STOPPED,
        launched=True,
        pending=REBUILD,
        expect=ServerStatus.SHUTOFF,
    ),
    "an action before the VM exists": Row(
        None, pending=RESIZE, expect=ServerStatus.RESIZE, settled=False
    ),
}


@pytest.mark.parametrize("name", list(ACTION_ROWS))
def test_action(name: str) -> None:
    row = ACTION_ROWS[name]
    found = state(row)
    assert (found.status, found.settled) == (row.expect, row.settled)
    if row.reason is not None:
        assert found.reason == row.reason


@pytest.mark.parametrize(
    ("action", "status"),
    [
        (ServerAction.REBOOT, ServerStatus.REBOOT),
        (ServerAction.HARD_REBOOT, ServerStatus.HARD_REBOOT),
        (ServerAction.RESIZE, ServerStatus.RESIZE),
        (ServerAction.REBUILD, ServerStatus.REBUILD),
    ],
)
def test_each_action_has_its_nova_status_and_a_message(
    action: ServerAction, status: ServerStatus
) -> None:
    found = server_state(
        vm("Starting"), None, [], power_state=RUNNING, pending_action=PendingAction(action)
    )
    assert (found.status, found.reason) == (status, str(action))
    assert found.message.endswith(".")
