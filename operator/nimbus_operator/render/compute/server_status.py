"""A server's state in Nova's words, from its KubeVirt objects (pure: dicts in, a state out).

The reconciler reads the VirtualMachine, its VirtualMachineInstance (None when there is none)
and the server's DataVolumes, and calls `server_state` with the desired power state and the
action in progress (a reboot, resize or rebuild it has started), if any.

The mapping, first match wins:

====================================================  ==============================
KubeVirt shows                                        status
====================================================  ==============================
printableStatus ErrorUnschedulable, ErrImagePull,     ERROR, with a fault saying what
ImagePullBackOff, ErrorPvcNotFound, DataVolumeError,  is wrong and what to do
CrashLoopBackOff, Unknown; a DataVolume the server
waits for failed; the VM's Failure condition; the
VMI paused by a disk I/O error
an action in progress, not settled yet                REBOOT, HARD_REBOOT, RESIZE or
                                                      REBUILD
no VM yet, or a VM with no status yet                 BUILD
Running, the VMI Running and Ready                    ACTIVE
Running, the VMI not Ready yet                        BUILD (never launched) or ACTIVE
Provisioning, Starting, WaitingForVolumeBinding,      BUILD (never launched) or SHUTOFF
WaitingForReceiver, anything unknown to this module   (launched before: powering on)
Stopping                                              ACTIVE (Nova: ACTIVE while
                                                      powering off)
Stopped                                               SHUTOFF (BUILD when never launched
                                                      and powerState is Running: it is
                                                      about to start)
Terminating                                           SHUTOFF (it is going away)
Paused (by a user)                                    SHUTOFF (no guest CPU runs)
Migrating                                             ACTIVE
====================================================  ==============================

An action is *settled* when what it asked for is there: with powerState Running, a VMI other
than the one seen when the action started (``PendingAction.previous_vmi_uid``) is Running and
Ready, and every DataVolume the action waits for (``PendingAction.data_volumes``, e.g. a
rebuild's new root disk) has Succeeded; with powerState Stopped, the VM is Stopped with no
live VMI and those DataVolumes are ready (a reboot is ignored while Stopped: settled at once).
An action in ERROR is not settled: the reconciler decides when to give up on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from nimbus_operator.models.compute.serverparts import PowerState
from nimbus_operator.models.compute.virtualserver import Address, Fault, IPFamily, ServerStatus
from nimbus_operator.render.compute.names import DISK_LABEL, ROOT_DISK

Obj = Mapping[str, Any]

# VirtualMachine status.printableStatus (kubevirt.io/api core/v1 VirtualMachinePrintableStatus).
STOPPED = "Stopped"
PROVISIONING = "Provisioning"
STARTING = "Starting"
RUNNING = "Running"
PAUSED = "Paused"
STOPPING = "Stopping"
TERMINATING = "Terminating"
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
MIGRATING = "Migrating"
UNKNOWN = "Unknown"
UNSCHEDULABLE = "ErrorUnschedulable"
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
PVC_NOT_FOUND = "ErrorPvcNotFound"
DATA_VOLUME_ERROR = "DataVolumeError"
WAITING_FOR_VOLUME_BINDING = "WaitingForVolumeBinding"
WAITING_FOR_RECEIVER = "WaitingForReceiver"

ERROR_STATUSES = frozenset(
    {
        UNSCHEDULABLE,
        ERR_IMAGE_PULL,
        IMAGE_PULL_BACK_OFF,
        PVC_NOT_FOUND,
        DATA_VOLUME_ERROR,
        CRASH_LOOP_BACK_OFF,
        UNKNOWN,
    }
)

VMI_RUNNING = "Running"
VMI_FINAL = frozenset({"Succeeded", "Failed"})
DV_SUCCEEDED = "Succeeded"
DV_FAILED = "Failed"
DV_READY_PHASES = frozenset({DV_SUCCEEDED, "WaitForFirstConsumer", "PendingPopulation"})
"""A DataVolume that is as ready as it gets before a pod uses it (CDI binds a
WaitForFirstConsumer class's volume only then)."""
DV_ERROR_REASONS = frozenset({"Error", "ImagePullFailed"})
"""Reasons of a DataVolume's Running=False condition that KubeVirt counts as errors."""

SERVER_ERROR = 500
BAD_REQUEST = 400
MAX_MESSAGE = 4096


class ServerAction(StrEnum):
    """An action the reconciler has started and waits for."""

    REBOOT = "Reboot"
    HARD_REBOOT = "HardReboot"
    RESIZE = "Resize"
    REBUILD = "Rebuild"

    @property
    def status(self) -> ServerStatus:
        return _ACTION_STATUS[self]


_ACTION_STATUS = {
    ServerAction.REBOOT: ServerStatus.REBOOT,
    ServerAction.HARD_REBOOT: ServerStatus.HARD_REBOOT,
    ServerAction.RESIZE: ServerStatus.RESIZE,
    ServerAction.REBUILD: ServerStatus.REBUILD,
}
_ACTION_MESSAGES = {
    ServerAction.REBOOT: "The server is rebooting.",
    ServerAction.HARD_REBOOT: "The server is being reset.",
    ServerAction.RESIZE: "The server is restarting with its new flavor.",
    ServerAction.REBUILD: "The server's root disk is being made again from its Image.",
}


@dataclass(frozen=True)
class PendingAction:
    """An action in progress and what marks it done."""

    action: ServerAction
    previous_vmi_uid: str | None = None
    """The uid of the VMI when the action started: done once another VMI runs. None: any
    Running and Ready VMI will do (an action done in place, or started with no VMI)."""
    data_volumes: tuple[str, ...] = ()
    """DataVolumes that must be ready before the action is done (a rebuild's new root)."""


@dataclass(frozen=True)
class ServerState:
    """What the server's status should say."""

    status: ServerStatus
    settled: bool
    """No action is in progress any more (always True without one)."""
    reason: str
    """A CamelCase reason for the Ready/Progressing conditions."""
    message: str
    """A sentence for people, the condition's message."""
    fault: Fault | None = None
    """Set with ERROR only."""
    addresses: tuple[Address, ...] = ()
    node: str | None = None
    vm_status: str | None = None
    """The VM's printableStatus."""
    power_state: PowerState | None = None
    """Running when a VMI runs; Stopped otherwise; None with no VM."""
    launched_at: str | None = None
    """When the current VMI last became Running."""
    degraded: str | None = None
    """A problem that does not stop the server (a new extra disk that failed)."""

    @property
    def ip(self) -> str | None:
        """The address on the first network, as Nova's accessIPv4 and status.ip."""
        return self.addresses[0].ip if self.addresses else None


# -- reading KubeVirt and CDI objects ---------------------------------------------------------


@dataclass(frozen=True)
class _Seen:
    """What the reconciler read: the VM, its VMI, the printableStatus, the DataVolumes."""

    vm: Obj | None
    vmi: Obj | None
    vm_status: str | None
    data_volumes: list[Obj]


def _status(obj: Obj | None) -> Obj:
    return (obj or {}).get("status") or {}


def _meta(obj: Obj | None) -> Obj:
    return (obj or {}).get("metadata") or {}


def _condition(obj: Obj | None, type_: str) -> Obj | None:
    return next((c for c in _status(obj).get("conditions") or [] if c.get("type") == type_), None)


def _condition_is(obj: Obj | None, type_: str, status: str, reason: str | None = None) -> bool:
    found = _condition(obj, type_)
    return (
        found is not None
        and found.get("status") == status
        and (reason is None or found.get("reason") == reason)
    )


def _vmi_condition(vm: Obj | None, vmi: Obj | None, type_: str) -> Obj | None:
    """A VMI condition, from the VMI or else from the VM (which copies them)."""
    return _condition(vmi, type_) or _condition(vm, type_)


def _vmi_live(vmi: Obj | None) -> bool:
    return (
        vmi is not None
        and not _meta(vmi).get("deletionTimestamp")
        and _status(vmi).get("phase") not in VMI_FINAL
    )


def _vmi_ready(vmi: Obj | None) -> bool:
    return (
        _vmi_live(vmi)
        and _status(vmi).get("phase") == VMI_RUNNING
        and _condition_is(vmi, "Ready", "True")
    )


def _dv_name(dv: Obj) -> str:
    return str(_meta(dv).get("name", ""))


def _dv_failure(dv: Obj) -> str | None:
    running = _condition(dv, "Running") or {}
    failed_running = running.get("status") == "False" and running.get("reason") in (
        DV_ERROR_REASONS
    )
    if _status(dv).get("phase") != DV_FAILED and not failed_running:
        return None
    for source in (running, _condition(dv, "Ready") or {}, _condition(dv, "Bound") or {}):
        if source.get("message"):
            return str(source["message"])
    return "CDI reports it Failed"


def _dvs_ready(data_volumes: Iterable[Obj], names: Iterable[str]) -> bool:
    phases = {_dv_name(dv): _status(dv).get("phase") for dv in data_volumes}
    return all(phases.get(name) in DV_READY_PHASES for name in names)


def _addresses(vmi: Obj | None) -> tuple[Address, ...]:
    found: list[Address] = []
    seen: set[tuple[str, str]] = set()
    for interface in _status(vmi).get("interfaces") or []:
        network = str(interface.get("name") or "")
        ips = list(interface.get("ipAddresses") or [])
        if interface.get("ipAddress") and interface["ipAddress"] not in ips:
            ips.insert(0, interface["ipAddress"])
        for raw in ips:
            ip = str(raw).split("/", 1)[0]
            if not network or not ip or ip.lower().startswith("fe80:") or (network, ip) in seen:
                continue
            seen.add((network, ip))
            family = IPFamily.IPV6 if ":" in ip else IPFamily.IPV4
            found.append(Address(network=network, ip=ip, family=family))
    return tuple(found)


def _launched_at(vmi: Obj | None) -> str | None:
    times = [
        str(entry["phaseTransitionTimestamp"])
        for entry in _status(vmi).get("phaseTransitionTimestamps") or []
        if entry.get("phase") == VMI_RUNNING and entry.get("phaseTransitionTimestamp")
    ]
    return times[-1] if times else None


# -- faults ------------------------------------------------------------------------------------


def _sentence(lead: str, detail: str | None, advice: str) -> str:
    detail = (detail or "").strip().rstrip(".")
    text = f"{lead}: {detail}. {advice}" if detail else f"{lead}. {advice}"
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _fault(message: str, code: int, condition: Obj | None = None) -> Fault:
    created = (condition or {}).get("lastTransitionTime")
    return Fault(message=message, code=code, created=str(created) if created else None)


def _data_volume_fault(data_volumes: Iterable[Obj]) -> tuple[str, Fault] | None:
    for dv in data_volumes:
        detail = _dv_failure(dv)
        if detail is None:
            continue
        name = _dv_name(dv)
        disk = str((_meta(dv).get("labels") or {}).get(DISK_LABEL) or "")
        if disk == ROOT_DISK:
            lead = f"The root disk cannot be made from the Image (DataVolume {name})"
            advice = (
                "Check the Image: its source (URL or bucket object) must be readable and hold "
                "a qcow2 or raw disk image, and the server's namespace must be allowed to "
                "read (clone) its disk."
            )
            reason = "RootDiskFailed"
        else:
            what = f"volume {disk!r}" if disk else "a disk"
            lead = f"The server's {what} cannot be provisioned (DataVolume {name})"
            advice = (
                "Check its storageClassName and that the class can provision a volume of that size."
            )
            reason = "VolumeFailed"
        condition = _condition(dv, "Running") or _condition(dv, "Ready")
        return reason, _fault(_sentence(lead, detail, advice), BAD_REQUEST, condition)
    return None


def _failed_vmi_message(vmi: Obj | None) -> str | None:
    """Why the failed VMI (the last start attempt, kept during the back-off) failed, as its
    Ready condition says it; None when it says nothing beyond the pod going away."""
    if vmi is None or _status(vmi).get("phase") != "Failed":
        return None
    ready = _condition(vmi, "Ready") or {}
    if ready.get("reason") in (None, "", "PodTerminating", "PodNotExists"):
        return None
    return str(ready.get("message") or "") or None


def _printable_fault(
    vm: Obj, vmi: Obj | None, vm_status: str, data_volumes: list[Obj]
) -> tuple[str, Fault]:
    if vm_status == UNSCHEDULABLE:
        cond = _vmi_condition(vm, vmi, "PodScheduled")
        message = _sentence(
            "No node can run the server",
            (cond or {}).get("message"),
            "Free capacity on the nodes, or choose a smaller flavor, another availability "
            "zone, or a server group the nodes can satisfy.",
        )
        return "Unschedulable", _fault(message, SERVER_ERROR, cond)
    if vm_status in (ERR_IMAGE_PULL, IMAGE_PULL_BACK_OFF):
        cond = _vmi_condition(vm, vmi, "Synchronized")
        message = _sentence(
            "The root disk's containerDisk image cannot be pulled",
            (cond or {}).get("message"),
            "Check the Image's source.containerDisk.image and that its registry is reachable "
            "from the nodes.",
        )
        return "ImagePullFailed", _fault(message, BAD_REQUEST, cond)
    if vm_status == PVC_NOT_FOUND:
        cond = _vmi_condition(vm, vmi, "Synchronized")
        message = _sentence(
            "A PersistentVolumeClaim the server attaches does not exist",
            (cond or {}).get("message"),
            "Create it in the server's namespace, or remove it from spec.volumes.",
        )
        return "ClaimNotFound", _fault(message, BAD_REQUEST, cond)
    if vm_status == DATA_VOLUME_ERROR:
        found = _data_volume_fault(data_volumes)
        if found is not None:
            return found
        message = _sentence(
            "A disk of the server cannot be made",
            None,
            "Look at the server's DataVolumes (kubectl get dv) and their events.",
        )
        return "DiskFailed", _fault(message, BAD_REQUEST)
    if vm_status == CRASH_LOOP_BACK_OFF:
        failure = _status(vm).get("startFailure") or {}
        count = failure.get("consecutiveFailCount")
        lead = "The server keeps failing to start"
        if count == 1:
            lead = "The server failed to start"
        elif count:
            lead = f"The server failed to start {count} times in a row"
        retry = failure.get("retryAfterTimestamp")
        details = [_failed_vmi_message(vmi)]
        if retry:
            details.append(f"KubeVirt tries again after {retry}")
        message = _sentence(
            lead,
            "; ".join(detail for detail in details if detail) or None,
            "Look at the events of its VirtualMachineInstance and virt-launcher pod; a "
            "flavor the nodes cannot give (hugepages, dedicated CPUs, devices) is a common "
            "cause.",
        )
        return "CrashLoop", _fault(message, SERVER_ERROR, _condition(vm, "Failure"))
    message = _sentence(
        "KubeVirt has lost track of the server",
        None,
        "The node running it may be down or unreachable: check the node; the server comes "
        "back when the node does.",
    )
    return "StateUnknown", _fault(message, SERVER_ERROR)


def _error(seen: _Seen, waited: Iterable[str]) -> tuple[str, Fault] | None:
    """Why the server is in ERROR, or None."""
    if seen.vm is None:
        return None
    if seen.vm_status in ERROR_STATUSES:
        return _printable_fault(seen.vm, seen.vmi, seen.vm_status, seen.data_volumes)
    failure = _condition(seen.vm, "Failure")
    if failure is not None and failure.get("status") == "True":
        message = _sentence(
            "KubeVirt cannot start the server",
            failure.get("message"),
            "Fix what the message names; KubeVirt keeps trying.",
        )
        return "StartFailed", _fault(message, SERVER_ERROR, failure)
    paused = _condition(seen.vmi, "Paused")
    if _condition_is(seen.vmi, "Paused", "True", "PausedIOError"):
        message = _sentence(
            "The server is paused after a disk I/O error",
            (paused or {}).get("message"),
            "Free space on, or repair, the storage of its disks, then set a new "
            "reboot.request with type Hard.",
        )
        return "DiskIOError", _fault(message, SERVER_ERROR, paused)
    # A disk the server waits for (not yet running on it) failed: KubeVirt ranks Running
    # and Provisioning before DataVolumeError, but the server cannot get past it.
    names = set(waited)
    running = seen.vm_status == RUNNING
    return _data_volume_fault(
        dv for dv in seen.data_volumes if not running or _dv_name(dv) in names
    )


# -- steady states -----------------------------------------------------------------------------


def _progress(data_volumes: list[Obj]) -> str:
    for dv in data_volumes:
        if _status(dv).get("phase") not in DV_READY_PHASES:
            progress = _status(dv).get("progress")
            done = f" ({progress})" if progress and progress != "N/A" else ""
            disk = (_meta(dv).get("labels") or {}).get(DISK_LABEL)
            if disk == ROOT_DISK:
                return f"The root disk is being imported from the Image{done}."
            return f"The disk {_dv_name(dv)} is being provisioned{done}."
    return "The server's disks are being provisioned."


def _steady(seen: _Seen, power_state: PowerState, launched: bool) -> tuple[ServerStatus, str, str]:
    """(status, reason, message) with no action in progress and no error."""
    vm, vmi, vm_status = seen.vm, seen.vmi, seen.vm_status
    node = _status(vmi).get("nodeName")
    on_node = f" on node {node}" if node else ""
    if vm is None:
        return ServerStatus.BUILD, "Creating", "The server's VirtualMachine is being created."
    if not vm_status:
        return ServerStatus.BUILD, "Creating", "KubeVirt has not picked up the server yet."
    if vm_status in (RUNNING, MIGRATING):
        if _vmi_ready(vmi) or (launched and vm_status == RUNNING):
            return ServerStatus.ACTIVE, vm_status, f"The server is running{on_node}."
        return ServerStatus.BUILD, "Booting", f"The server is booting{on_node}."
    if vm_status == STOPPING:
        return ServerStatus.ACTIVE, "Stopping", "The server is shutting down."
    if vm_status == TERMINATING:
        return ServerStatus.SHUTOFF, "Terminating", "The server's VirtualMachine is going away."
    if vm_status == PAUSED:
        return ServerStatus.SHUTOFF, "Paused", "The server is paused."
    if vm_status == STOPPED:
        if launched or power_state == PowerState.STOPPED:
            return ServerStatus.SHUTOFF, "Stopped", "The server is stopped."
        return ServerStatus.BUILD, "Starting", "The server is about to start."
    if vm_status == PROVISIONING:
        message = _progress(seen.data_volumes)
    elif vm_status == WAITING_FOR_VOLUME_BINDING:
        message = "The server's volumes are waiting to be bound."
    elif vm_status == STARTING and vmi is None:
        message = "The server's instance is being created."
    elif vm_status == STARTING:
        message = f"The server is being scheduled and started{on_node}."
    else:
        message = f"KubeVirt reports {vm_status}."
    status = ServerStatus.SHUTOFF if launched else ServerStatus.BUILD
    return status, vm_status, message


def _settled(seen: _Seen, power_state: PowerState, pending: PendingAction) -> bool:
    vmi, vm_status, data_volumes = seen.vmi, seen.vm_status, seen.data_volumes
    if seen.vm is None:
        return False
    if power_state == PowerState.STOPPED:
        if pending.action in (ServerAction.REBOOT, ServerAction.HARD_REBOOT):
            return True
        return (
            vm_status == STOPPED
            and not _vmi_live(vmi)
            and _dvs_ready(data_volumes, pending.data_volumes)
        )
    if not _vmi_ready(vmi) or vm_status != RUNNING:
        return False
    if pending.previous_vmi_uid is not None and _meta(vmi).get("uid") == pending.previous_vmi_uid:
        return False
    phases = {_dv_name(dv): _status(dv).get("phase") for dv in data_volumes}
    return all(phases.get(name) == DV_SUCCEEDED for name in pending.data_volumes)


def server_state(
    vm: Obj | None,
    vmi: Obj | None,
    data_volumes: Iterable[Obj],
    *,
    power_state: PowerState,
    pending_action: PendingAction | None = None,
    launched: bool = False,
) -> ServerState:
    """The server's state from its VM, VMI and DataVolumes (see the module's table).

    ``launched``: the server has run before (status.launchedAt is set), so a server that is
    starting again shows SHUTOFF (powering on) rather than BUILD.
    """
    dvs = list(data_volumes)
    vm_status = str(_status(vm).get("printableStatus") or "") or None
    seen = _Seen(vm, vmi, vm_status, dvs)
    vmi_live = _vmi_live(vmi)
    running_now = vmi_live and _status(vmi).get("phase") == VMI_RUNNING
    actual_power = (
        None if vm is None else (PowerState.RUNNING if running_now else PowerState.STOPPED)
    )
    common: dict[str, Any] = {
        "addresses": _addresses(vmi) if vmi_live else (),
        "node": (_status(vmi).get("nodeName") or None) if vmi_live else None,
        "vm_status": vm_status,
        "power_state": actual_power,
        "launched_at": _launched_at(vmi) if running_now else None,
    }
    waited = pending_action.data_volumes if pending_action is not None else ()
    error = _error(seen, waited)
    if error is not None:
        reason, fault = error
        return ServerState(
            status=ServerStatus.ERROR,
            settled=pending_action is None,
            reason=reason,
            message=fault.message,
            fault=fault,
            **common,
        )
    degraded = None
    if vm_status == RUNNING:
        found = _data_volume_fault(dvs)
        degraded = found[1].message if found is not None else None
    if pending_action is not None and not _settled(seen, power_state, pending_action):
        action = pending_action.action
        return ServerState(
            status=action.status,
            settled=False,
            reason=str(action),
            message=_ACTION_MESSAGES[action],
            degraded=degraded,
            **common,
        )
    status, reason, message = _steady(seen, power_state, launched)
    return ServerState(
        status=status, settled=True, reason=reason, message=message, degraded=degraded, **common
    )
