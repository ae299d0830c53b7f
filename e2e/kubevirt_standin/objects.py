"""Names KubeVirt and CDI use (groups, labels, finalizers, phases) and small dict accessors.

The values are KubeVirt v1.7.0's and CDI v1.63.1's (kubevirt.io/api core/v1 types.go,
containerized-data-importer-api core/v1beta1): the stand-in writes what the real controllers
write, so code reading these objects sees the same names.
"""

from __future__ import annotations

import time
from typing import Any

Obj = dict[str, Any]

KUBEVIRT_GROUP = "kubevirt.io"
KUBEVIRT_VERSION = "v1"
VMS = "virtualmachines"
VMIS = "virtualmachineinstances"
CDI_GROUP = "cdi.kubevirt.io"
CDI_VERSION = "v1beta1"
DVS = "datavolumes"

# Finalizers: the VM controller's (on VMs and on the VMIs it creates) and the VMI controller's.
VM_CONTROLLER_FINALIZER = "kubevirt.io/virtualMachineControllerFinalize"
VMI_FINALIZER = "kubevirt.io/foregroundDeleteVirtualMachine"

# Labels and annotations.
APP_LABEL = "kubevirt.io"
LAUNCHER_APP = "virt-launcher"
CREATED_BY_LABEL = "kubevirt.io/created-by"
VM_NAME_LABEL = "vm.kubevirt.io/name"
NODE_NAME_LABEL = "kubevirt.io/nodeName"
DOMAIN_ANNOTATION = "kubevirt.io/domain"
VM_GENERATION_ANNOTATION = "kubevirt.io/vm-generation"
"""On a VMI: the VM generation it was made from (the VM's status.observedGeneration)."""
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
ALLOW_CLAIM_ADOPTION_ANNOTATION = "cdi.kubevirt.io/allowClaimAdoption"
LAUNCHER_CONTAINER = "compute"
STANDIN_ANNOTATION = "standin.e2e.nimbus.dev/virt-controller"
"""On every launcher pod: says plainly that no guest runs in it."""
IMPORT_RESULT_ANNOTATION = "standin.e2e.nimbus.dev/import"
"""On a DataVolume (or its template): ``fail`` makes the stand-in importer fail it."""

# VirtualMachineInstance phases.
VMI_PENDING = "Pending"
VMI_SCHEDULING = "Scheduling"
VMI_SCHEDULED = "Scheduled"
VMI_RUNNING = "Running"
VMI_SUCCEEDED = "Succeeded"
VMI_FAILED = "Failed"
VMI_FINAL = (VMI_SUCCEEDED, VMI_FAILED)

# Run strategies.
ALWAYS = "Always"
RERUN_ON_FAILURE = "RerunOnFailure"
ONCE = "Once"
MANUAL = "Manual"
HALTED = "Halted"
RUN_STRATEGIES = (ALWAYS, RERUN_ON_FAILURE, ONCE, MANUAL, HALTED)

# DataVolume phases the VM controller treats as ready (handleDataVolumes).
DV_SUCCEEDED = "Succeeded"
DV_FAILED = "Failed"
DV_READY_PHASES = (DV_SUCCEEDED, "WaitForFirstConsumer", "PendingPopulation")


def meta(obj: Obj) -> Obj:
    metadata: Obj = obj.get("metadata") or {}
    return metadata


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Obj) -> str:
    return str(meta(obj).get("namespace", ""))


def uid_of(obj: Obj) -> str:
    return str(meta(obj).get("uid", ""))


def deleting(obj: Obj) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def finalizers(obj: Obj) -> list[str]:
    return [str(f) for f in meta(obj).get("finalizers") or []]


def labels(obj: Obj) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def status(obj: Obj) -> Obj:
    value: Obj = obj.get("status") or {}
    return value


def spec(obj: Obj) -> Obj:
    value: Obj = obj.get("spec") or {}
    return value


def controller_owner(obj: Obj, kind: str) -> str | None:
    """Name of the controlling owner of ``kind``, if any."""
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("kind") == kind and ref.get("controller"):
            return str(ref.get("name"))
    return None


def owned_by(obj: Obj, owner: Obj) -> bool:
    """True when ``owner`` (this very object: same uid) is ``obj``'s controller."""
    return any(
        ref.get("uid") == uid_of(owner) and ref.get("controller")
        for ref in meta(obj).get("ownerReferences") or []
    )


def owner_reference(owner: Obj, kind: str, api_version: str) -> Obj:
    """A controller reference to ``owner`` (as metav1.NewControllerRef builds it)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def condition(obj: Obj, kind: str) -> Obj | None:
    for item in status(obj).get("conditions") or []:
        if item.get("type") == kind:
            found: Obj = item
            return found
    return None


def condition_is(obj: Obj, kind: str, value: str, reason: str | None = None) -> bool:
    found = condition(obj, kind)
    if found is None or found.get("status") != value:
        return False
    return reason is None or found.get("reason") == reason


def now() -> str:
    """RFC 3339 in UTC, second precision (metav1.Time's format)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def resource_version(obj: Obj) -> int:
    """The resourceVersion as a number (-1 if it is not one): newer objects have larger ones."""
    try:
        return int(meta(obj).get("resourceVersion", "-1"))
    except ValueError:
        return -1
