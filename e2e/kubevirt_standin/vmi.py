"""VirtualMachineInstance: its launcher pod, its phase and status, its teardown.

As virt-controller's VMI controller (and, for Pending -> Running, virt-handler): a VMI gets one
launcher pod; its status follows the pod one phase at a time (``status.next_vmi_phase``); a VMI
being deleted loses its pods first, then turns Succeeded, then drops its finalizers.
"""

from __future__ import annotations

import logging

from kubernetes.client.exceptions import ApiException

from e2e.kubevirt_standin import manifests
from e2e.kubevirt_standin.context import VMI_KEY, Context
from e2e.kubevirt_standin.kube import api_message
from e2e.kubevirt_standin.launch import launch_for
from e2e.kubevirt_standin.launcher import report
from e2e.kubevirt_standin.objects import (
    NODE_NAME_LABEL,
    VM_CONTROLLER_FINALIZER,
    VMI_FAILED,
    VMI_FINAL,
    VMI_FINALIZER,
    VMI_PENDING,
    VMI_RUNNING,
    VMI_SCHEDULED,
    VMI_SCHEDULING,
    VMI_SUCCEEDED,
    VMIS,
    Obj,
    deleting,
    finalizers,
    labels,
    name_of,
    namespace_of,
    now,
    spec,
    status,
)
from e2e.kubevirt_standin.status import GUEST_FAILED, next_vmi_phase, status_patch, vmi_status

log = logging.getLogger(__name__)

DEPRECATED_VMI_FINALIZER = "foregroundDeleteVirtualMachine"
REFUSALS = (400, 403, 404, 422)
"""Pod creations the API server refuses for good (admission, quota, validation); anything else
is retried with back-off."""
REFUSED_RETRY_SECONDS = 10.0
GUEST_POLL_SECONDS = 2.0
OUR_FINALIZERS = (VMI_FINALIZER, DEPRECATED_VMI_FINALIZER, VM_CONTROLLER_FINALIZER)


def reconcile(ctx: Context, namespace: str, name: str) -> None:
    vmi = ctx.vmis.get(namespace, name)
    if vmi is None:
        return
    pods = ctx.launcher_pods(vmi)
    phase = str(status(vmi).get("phase") or "")
    if deleting(vmi) or phase in VMI_FINAL:
        _wind_down(ctx, vmi, pods)
        return
    if VMI_FINALIZER not in finalizers(vmi):
        vmi = ctx.kube.set_finalizers(VMIS, vmi, [*finalizers(vmi), VMI_FINALIZER]) or vmi
        ctx.vmis.remember(vmi)
    live = [pod for pod in pods if not deleting(pod)]
    pod = live[0] if live else (pods[0] if pods else None)
    refused = None
    if pod is None and phase in ("", "Pending"):
        try:
            created = ctx.kube.create_pod(_launcher_pod(ctx, vmi))
        except ApiException as error:
            if error.status not in REFUSALS:
                raise  # the API server is busy or gone: retry
            refused = f"failed to create virtual machine pod: {api_message(error)}"
            ctx.kube.event(vmi, VMIS, "Warning", "FailedCreate", refused)
            created = None
        if created is not None:
            ctx.pods.remember(created)
            ctx.kube.event(
                vmi,
                VMIS,
                "Normal",
                "SuccessfulCreate",
                f"Created virtual machine pod {name_of(created)}",
            )
            pod = created
    guest = None
    if pod is not None and manifests.is_guest_launcher(pod):
        guest = report.read(ctx.guests.launcher_dir(vmi)) or {}
    # A new VMI is Pending first (virt-controller's first write), whatever the pod shows.
    next_phase = VMI_PENDING if phase == "" else next_vmi_phase(vmi, pod, guest)
    failure = None
    if guest is not None and next_phase == VMI_FAILED:
        failure = guest_failure(guest, pod)
    _write_status(ctx, vmi, pod, next_phase, refused=refused, guest_failure=failure)
    if guest is not None and next_phase != phase and next_phase in (VMI_RUNNING, VMI_FAILED):
        kind, reason, message = guest_event(guest, next_phase, failure)
        ctx.kube.event(vmi, VMIS, kind, reason, message)
    if refused is not None:
        ctx.queue.add_after((VMI_KEY, namespace, name), REFUSED_RETRY_SECONDS)
        return
    if guest is not None and next_phase in (VMI_SCHEDULING, VMI_SCHEDULED):
        # The launcher's report is a file, not an API object: look again shortly.
        ctx.queue.add_after((VMI_KEY, namespace, name), GUEST_POLL_SECONDS)
    elif phase == "" or next_phase == VMI_SCHEDULED:
        ctx.queue.add((VMI_KEY, namespace, name))  # the next step needs no new event


def guest_failure(guest: Obj, pod: Obj | None) -> str:
    """Why a guest's VMI failed: the launcher's own words when it reported a failure, else
    what became of its pod (deleted, killed, or ended without a report)."""
    if guest.get("phase") == report.FAILED and guest.get("message"):
        return str(guest["message"])
    was = str(guest.get("phase") or "starting").lower()
    if pod is not None and deleting(pod):
        return f"the launcher pod was deleted while the guest was {was}"
    return f"the launcher pod ended while the guest was {was}, without a report of why"


def guest_event(guest: Obj, phase: str, failure: str | None) -> tuple[str, str, str]:
    """(type, reason, message) of the Event a real guest's Running or Failed is told by: which
    accelerator runs it, and why not KVM."""
    accel = str(guest.get("accel") or "?")
    why = f" (KVM not used: {guest['kvmError']})" if guest.get("kvmError") else ""
    if phase == VMI_RUNNING:
        up = guest.get("upSeconds")
        after = f" after {float(up):.0f} s" if up is not None else ""
        return "Normal", "GuestUp", f"The guest is up{after}, under {accel}{why}"
    return "Warning", GUEST_FAILED, str(failure)


def _launcher_pod(ctx: Context, vmi: Obj) -> Obj:
    namespace = namespace_of(vmi)
    if not ctx.guests.boot_in(namespace):
        return manifests.launcher_pod(vmi)
    launch = launch_for(
        vmi,
        ctx.guests.launcher_dir(vmi),
        lambda volume: ctx.guests.resolve_disk(namespace, volume, ctx.dvs.get),
    )
    return manifests.guest_launcher_pod(vmi, launch, ctx.guests.state_dir)


def _wind_down(ctx: Context, vmi: Obj, pods: list[Obj]) -> None:
    """Delete the launcher pods; once they are gone, a deleted VMI turns Succeeded, and a final
    VMI lets go of its finalizers (the VM controller drops its own from final VMIs too)."""
    for pod in pods:
        if not deleting(pod):
            ctx.kube.delete_pod(pod)
            log.info("vmi %s/%s: deleting pod %s", namespace_of(vmi), name_of(vmi), name_of(pod))
    phase = str(status(vmi).get("phase") or "")
    if pods:
        if phase not in VMI_FINAL:
            _write_status(ctx, vmi, pods[0], phase or "Pending")
        return
    if phase not in VMI_FINAL:
        _write_status(ctx, vmi, None, VMI_SUCCEEDED)
        return
    keep = [f for f in finalizers(vmi) if f not in OUR_FINALIZERS]
    if keep != finalizers(vmi):
        written = ctx.kube.set_finalizers(VMIS, vmi, keep)
        if written is not None:
            ctx.vmis.remember(written)


def _write_status(
    ctx: Context,
    vmi: Obj,
    pod: Obj | None,
    phase: str,
    *,
    refused: str | None = None,
    guest_failure: str | None = None,
) -> None:
    current = status(vmi)
    wanted = vmi_status(vmi, pod, phase, now(), refused=refused, guest_failure=guest_failure)
    patch = status_patch(current, wanted)
    body: Obj = {}
    if patch is not None:
        body["status"] = patch
    node = wanted.get("nodeName")
    if node and labels(vmi).get(NODE_NAME_LABEL) != node and phase not in VMI_FINAL:
        body["metadata"] = {"labels": {NODE_NAME_LABEL: node}}
    if not body:
        return
    written = ctx.kube.patch(VMIS, vmi, body)
    if written is not None:
        ctx.vmis.remember(written)
        if current.get("phase") != phase:
            where = f" on {spec(pod).get('nodeName')}" if pod is not None and node else ""
            log.info("vmi %s/%s: %s%s", namespace_of(vmi), name_of(vmi), phase, where)
