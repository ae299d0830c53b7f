"""Statuses as KubeVirt's controllers compute them (pure: objects in, status dicts out).

VirtualMachineInstance (virt-controller's VMI controller plus, for Running, virt-handler):
Pending (no launcher pod yet) -> Scheduling (pod exists, not running; a scheduler's
``PodScheduled=False`` condition is copied) -> Scheduled (pod running and ready: nodeName) ->
Running (interfaces with the pod IP, Ready from the pod's Ready condition). A pod that fails or
disappears under a scheduled VMI makes it Failed; one that succeeds, Succeeded.

VirtualMachine (``setPrintableStatus``): the first of Terminating, Stopping, Running,
DataVolumeError, ErrorUnschedulable, Provisioning, Starting, Stopped that holds, in KubeVirt's
order; Ready mirrors the VMI's Ready condition (``VMINotExists`` when there is none); the VMI's
other conditions are copied; Failure carries the last sync error.
"""

from __future__ import annotations

import hashlib
from typing import Any

from e2e.kubevirt_standin.objects import (
    DV_FAILED,
    DV_READY_PHASES,
    VMI_FAILED,
    VMI_FINAL,
    VMI_PENDING,
    VMI_RUNNING,
    VMI_SCHEDULED,
    VMI_SCHEDULING,
    VMI_SUCCEEDED,
    Obj,
    condition,
    condition_is,
    deleting,
    spec,
    status,
    uid_of,
)

TIMESTAMP_FIELDS = ("lastProbeTime", "lastTransitionTime", "lastHeartbeatTime")
GUEST_RUNNING = "Running"
"""A launcher report's phase once the guest is up (`launcher.report.RUNNING`)."""
GUEST_FAILED = "GuestFailed"


# -- conditions ------------------------------------------------------------------------------


def merge_conditions(current: list[Obj], wanted: list[Obj], now: str) -> list[Obj]:
    """``wanted`` with timestamps: a condition whose status did not change keeps its
    lastTransitionTime (and probe time), a changed or new one gets ``now``."""
    previous = {item.get("type"): item for item in current}
    merged: list[Obj] = []
    for item in wanted:
        old = previous.get(item["type"])
        result = {k: v for k, v in item.items() if k not in TIMESTAMP_FIELDS}
        if old is not None and old.get("status") == item.get("status"):
            result["lastTransitionTime"] = old.get("lastTransitionTime") or now
        else:
            result["lastTransitionTime"] = now
        result["lastProbeTime"] = None
        merged.append(result)
    return merged


def without_timestamps(value: Any) -> Any:
    """``value`` with every condition timestamp dropped, for "did anything change?" checks."""
    if isinstance(value, dict):
        return {
            k: without_timestamps(v)
            for k, v in value.items()
            if k not in TIMESTAMP_FIELDS and k != "phaseTransitionTimestamps"
        }
    if isinstance(value, list):
        return [without_timestamps(v) for v in value]
    return value


def status_patch(current: Obj, wanted: Obj) -> Obj | None:
    """A merge patch turning status ``current`` into ``wanted`` (None when nothing changes
    but timestamps); fields ``wanted`` lacks are removed."""
    if without_timestamps(current) == without_timestamps(wanted):
        return None
    patch: Obj = dict(wanted)
    for key in current:
        if key not in wanted:
            patch[key] = None
    return patch


# -- pods ------------------------------------------------------------------------------------


def pod_ready(pod: Obj) -> bool:
    return status(pod).get("phase") == "Running" and condition_is(pod, "Ready", "True")


def pod_down(pod: Obj) -> bool:
    """IsPodDownOrGoingDown: finished, or being deleted."""
    return deleting(pod) or status(pod).get("phase") in ("Succeeded", "Failed")


def unschedulable_condition(pod: Obj) -> Obj | None:
    """The scheduler's ``PodScheduled=False`` condition, when it has set one."""
    found = condition(pod, "PodScheduled")
    if found is None or found.get("status") != "False":
        return None
    return {
        "type": "PodScheduled",
        "status": "False",
        "reason": found.get("reason", ""),
        "message": found.get("message", ""),
    }


# -- VirtualMachineInstance -------------------------------------------------------------------


def next_vmi_phase(vmi: Obj, pod: Obj | None, guest: Obj | None = None) -> str:
    """One step of the VMI's phase towards what its launcher pod shows. ``guest`` is the
    report of a launcher that boots a real guest (None for a sleeping launcher): its VMI is
    Scheduled while the pod runs and Running only once the guest is up."""
    phase = str(status(vmi).get("phase") or "")
    if phase in VMI_FINAL:
        return phase
    if pod is None:
        return VMI_FAILED if phase in (VMI_SCHEDULED, VMI_RUNNING) else VMI_PENDING
    pod_phase = status(pod).get("phase")
    if pod_phase == "Succeeded":
        return VMI_SUCCEEDED
    if pod_phase == "Failed" or (deleting(pod) and not deleting(vmi)):
        return VMI_FAILED
    if guest is not None:
        if pod_phase != "Running":
            return phase if phase in (VMI_SCHEDULED, VMI_RUNNING) else VMI_SCHEDULING
        if guest.get("phase") == GUEST_RUNNING and phase in (VMI_SCHEDULED, VMI_RUNNING):
            return VMI_RUNNING
        return VMI_RUNNING if phase == VMI_RUNNING else VMI_SCHEDULED
    if pod_ready(pod):
        return VMI_RUNNING if phase in (VMI_SCHEDULED, VMI_RUNNING) else VMI_SCHEDULED
    if phase in (VMI_SCHEDULED, VMI_RUNNING):
        return phase  # a ready pod that turned unready (probes): keep the phase
    return VMI_SCHEDULING


def vmi_status(
    vmi: Obj,
    pod: Obj | None,
    phase: str,
    now: str,
    *,
    refused: str | None = None,
    guest_failure: str | None = None,
) -> Obj:
    """The whole status of ``vmi`` in ``phase`` with launcher pod ``pod``; ``refused`` is why
    the API server would not create the pod (condition Synchronized=False, FailedCreate);
    ``guest_failure`` why a real guest could not run (reason GuestFailed, and the Ready
    condition's message)."""
    current = status(vmi)
    wanted: Obj = {"phase": phase}
    transitions = list(current.get("phaseTransitionTimestamps") or [])
    if not transitions or transitions[-1].get("phase") != phase:
        transitions.append({"phase": phase, "phaseTransitionTimestamp": now})
    wanted["phaseTransitionTimestamps"] = transitions
    conditions = []
    if pod is not None and phase == VMI_SCHEDULING:
        unschedulable = unschedulable_condition(pod)
        if unschedulable is not None:
            conditions.append(unschedulable)
    if guest_failure and phase == VMI_FAILED:
        wanted["reason"] = GUEST_FAILED
        conditions.append(
            {"type": "Ready", "status": "False", "reason": GUEST_FAILED, "message": guest_failure}
        )
    else:
        conditions.append(_ready_condition(pod, phase))
    if refused:
        conditions.append(
            {
                "type": "Synchronized",
                "status": "False",
                "reason": "FailedCreate",
                "message": refused,
            }
        )
    wanted["conditions"] = merge_conditions(current.get("conditions") or [], conditions, now)
    if pod is not None and phase in (VMI_SCHEDULED, VMI_RUNNING):
        node = str(spec(pod).get("nodeName", ""))
        wanted["nodeName"] = node
        wanted["activePods"] = {uid_of(pod): node}
        if status(pod).get("qosClass"):
            wanted["qosClass"] = status(pod)["qosClass"]
        wanted["launcherContainerImageVersion"] = spec(pod)["containers"][0]["image"]
    elif current.get("nodeName") and phase in VMI_FINAL:
        wanted["nodeName"] = current["nodeName"]
    if pod is not None and phase == VMI_RUNNING:
        wanted["interfaces"] = vmi_interfaces(vmi, pod)
        wanted["guestOSInfo"] = {}
        wanted["currentCPUTopology"] = cpu_topology(vmi)
        guest = guest_memory(vmi)
        if guest:
            wanted["memory"] = {
                "guestAtBoot": guest,
                "guestCurrent": guest,
                "guestRequested": guest,
            }
    return wanted


def _ready_condition(pod: Obj | None, phase: str) -> Obj:
    if pod is None:
        return {
            "type": "Ready",
            "status": "False",
            "reason": "PodNotExists",
            "message": "virt-launcher pod has not yet been scheduled",
        }
    if pod_down(pod):
        return {
            "type": "Ready",
            "status": "False",
            "reason": "PodTerminating",
            "message": "virt-launcher pod is terminating",
        }
    if phase != VMI_RUNNING:
        return {
            "type": "Ready",
            "status": "False",
            "reason": "GuestNotRunning",
            "message": "Guest VM is not reported as running",
        }
    ready = condition(pod, "Ready") or {}
    result: Obj = {"type": "Ready", "status": ready.get("status", "False")}
    if ready.get("reason"):
        result["reason"] = ready["reason"]
    if ready.get("message"):
        result["message"] = ready["message"]
    return result


def vmi_interfaces(vmi: Obj, pod: Obj) -> list[Obj]:
    """The pod network's interface carries the pod IP (as with masquerade/bridge binding);
    other networks (Multus) get no address here."""
    vmi_spec = spec(vmi)
    networks = vmi_spec.get("networks")
    if networks is None:
        auto = (vmi_spec.get("domain") or {}).get("devices", {}).get("autoattachPodInterface")
        networks = [] if auto is False else [{"name": "default", "pod": {}}]
    pod_ips = [str(item["ip"]) for item in status(pod).get("podIPs") or [] if item.get("ip")]
    if not pod_ips and status(pod).get("podIP"):
        pod_ips = [str(status(pod)["podIP"])]
    interfaces = []
    for index, network in enumerate(networks):
        entry: Obj = {
            "name": network.get("name", ""),
            "interfaceName": f"eth{index}",
            "mac": _mac(uid_of(vmi), str(network.get("name", ""))),
            "infoSource": "domain",
            "queueCount": 1,
        }
        if "pod" in network and pod_ips:
            entry["ipAddress"] = pod_ips[0]
            entry["ipAddresses"] = pod_ips
            entry["podInterfaceName"] = "eth0"
        interfaces.append(entry)
    return interfaces


def _mac(uid: str, network: str) -> str:
    """A stable, locally administered unicast MAC for one interface of one VMI."""
    digest = hashlib.sha256(f"{uid}/{network}".encode()).digest()
    return ":".join(f"{byte:02x}" for byte in (0x02, *digest[:5]))


def cpu_topology(vmi: Obj) -> Obj:
    cpu = (spec(vmi).get("domain") or {}).get("cpu") or {}
    return {
        "sockets": int(cpu.get("sockets") or 1),
        "cores": int(cpu.get("cores") or 1),
        "threads": int(cpu.get("threads") or 1),
    }


def guest_memory(vmi: Obj) -> str | None:
    domain = spec(vmi).get("domain") or {}
    guest = (domain.get("memory") or {}).get("guest")
    if guest:
        return str(guest)
    requested = ((domain.get("resources") or {}).get("requests") or {}).get("memory")
    return str(requested) if requested else None


# -- VirtualMachine --------------------------------------------------------------------------


def datavolume_names(vm: Obj) -> list[str]:
    """DataVolumes the VM's volumes use (what KubeVirt's status checks look at)."""
    volumes = (spec(vm).get("template") or {}).get("spec", {}).get("volumes") or []
    return [
        str(v["dataVolume"]["name"]) for v in volumes if (v.get("dataVolume") or {}).get("name")
    ]


def datavolume_error(vm: Obj, dvs: dict[str, Obj]) -> str | None:
    """HasDataVolumeErrors: a used DataVolume Failed, or its importer stopped with an error."""
    for name in datavolume_names(vm):
        dv = dvs.get(name)
        if dv is None:
            continue
        if status(dv).get("phase") == DV_FAILED:
            return f"DataVolume {name} is in Failed phase"
        running = condition(dv, "Running")
        if (
            running is not None
            and running.get("status") == "False"
            and running.get("reason") in ("Error", "ImagePullFailed")
        ):
            detail = running.get("message", "")
            return f"DataVolume {name} importer has stopped running due to an error: {detail}"
    return None


def datavolumes_provisioning(vm: Obj, dvs: dict[str, Obj]) -> bool:
    """HasDataVolumeProvisioning: a used DataVolume exists and is not populated yet."""
    for name in datavolume_names(vm):
        dv = dvs.get(name)
        if dv is None or status(dv).get("phase") in ("Succeeded", "PendingPopulation"):
            continue
        bound = condition_is(dv, "Bound", "True")
        if bound or status(dv).get("phase") != "WaitForFirstConsumer":
            return True
    return False


def templates_ready(vm: Obj, dvs: dict[str, Obj]) -> bool:
    """handleDataVolumes' answer: every DataVolumeTemplate's DataVolume exists and is ready."""
    for template in spec(vm).get("dataVolumeTemplates") or []:
        dv = dvs.get(str((template.get("metadata") or {}).get("name", "")))
        if dv is None or status(dv).get("phase") not in DV_READY_PHASES:
            return False
    return True


def printable_status(
    vm: Obj,
    vmi: Obj | None,
    dvs: dict[str, Obj],
    *,
    start_expected: bool,
    stop_expected: bool,
    crash_loop: bool = False,
) -> str:
    """setPrintableStatus: the first status that holds, in KubeVirt's order; ``crash_loop``:
    a start failure's back-off is running (CrashLoopBackOff)."""
    vmi_phase = str(status(vmi).get("phase") or "") if vmi is not None else ""
    final = vmi_phase in VMI_FINAL
    checks: list[tuple[str, bool]] = [
        ("Terminating", deleting(vm)),
        ("Stopping", vmi is not None and not final and (deleting(vmi) or stop_expected)),
        ("Running", vmi_phase == VMI_RUNNING),
        ("DataVolumeError", datavolume_error(vm, dvs) is not None),
        (
            "ErrorUnschedulable",
            vmi is not None and condition_is(vmi, "PodScheduled", "False", "Unschedulable"),
        ),
        ("CrashLoopBackOff", crash_loop),
        ("Provisioning", datavolumes_provisioning(vm, dvs)),
        (
            "Starting",
            start_expected
            if vmi is None
            else vmi_phase in ("", VMI_PENDING, VMI_SCHEDULING, VMI_SCHEDULED),
        ),
        ("Stopped", final if vmi is not None else not start_expected),
    ]
    return next((name for name, holds in checks if holds), "Unknown")


def vm_conditions(vm: Obj, vmi: Obj | None, failure: str | None, now: str) -> list[Obj]:
    """Ready from the VMI, the VMI's other conditions, Failure when the last sync failed."""
    wanted: list[Obj] = []
    ready = condition(vmi, "Ready") if vmi is not None else None
    if vmi is None:
        wanted.append(
            {
                "type": "Ready",
                "status": "False",
                "reason": "VMINotExists",
                "message": "VMI does not exist",
            }
        )
    elif ready is None:
        wanted.append(
            {
                "type": "Ready",
                "status": "False",
                "reason": "VMIConditionMissing",
                "message": "VMI is missing the Ready condition",
            }
        )
    else:
        wanted.append({k: v for k, v in ready.items() if k not in TIMESTAMP_FIELDS})
    if vmi is not None:
        for item in status(vmi).get("conditions") or []:
            if item.get("type") not in ("Ready", "Failure", "RestartRequired"):
                wanted.append({k: v for k, v in item.items() if k not in TIMESTAMP_FIELDS})
    if failure:
        wanted.append(
            {"type": "Failure", "status": "True", "reason": "FailedCreate", "message": failure}
        )
    return merge_conditions(status(vm).get("conditions") or [], wanted, now)


def vmi_ready(vmi: Obj | None) -> bool:
    return (
        vmi is not None
        and not deleting(vmi)
        and status(vmi).get("phase") == VMI_RUNNING
        and condition_is(vmi, "Ready", "True")
    )
