"""VirtualMachine: DataVolumes from its templates, its VMI per run strategy, its status.

As virt-controller's VM controller (``syncRunStrategy``, ``handleDataVolumes``,
``updateStatus``), reduced to what the local cluster needs:

- Always: a VMI should exist; a final one is deleted and, once gone, made again; one that
  failed before it ever ran is a start failure (``status.startFailure``): it stays, the VM
  shows CrashLoopBackOff, until a back-off doubling per consecutive failure has passed
  (RerunOnFailure too). Deleting the
  VMI therefore restarts the VM (KubeVirt's restart subresource is not served here; a
  ``status.stateChangeRequests`` Stop request with the VMI's uid, as virt-api writes for a
  restart, works too).
- RerunOnFailure: started once; a Failed VMI is replaced, a Succeeded one is not.
- Once: a VMI is made when there is none, never replaced.
- Manual: only ``stateChangeRequests`` Start/Stop act.
- Halted (and ``spec.running: false``, or neither field): the VMI is deleted.
- A VMI is made only once every DataVolumeTemplate's DataVolume is Succeeded.
- Deleting the VM: the VM controller's finalizer holds it (printableStatus Terminating) until
  its VMI is gone; DataVolumes go with the garbage collector (owner references).
"""

from __future__ import annotations

import datetime
import logging
import time

from kubernetes.client.exceptions import ApiException

from e2e.kubevirt_standin import manifests
from e2e.kubevirt_standin.context import VM_KEY, Context
from e2e.kubevirt_standin.kube import api_message
from e2e.kubevirt_standin.objects import (
    ALWAYS,
    DVS,
    HALTED,
    MANUAL,
    ONCE,
    RERUN_ON_FAILURE,
    RUN_STRATEGIES,
    VM_CONTROLLER_FINALIZER,
    VM_GENERATION_ANNOTATION,
    VMI_FAILED,
    VMI_FINAL,
    VMI_RUNNING,
    VMI_SUCCEEDED,
    VMIS,
    VMS,
    Obj,
    condition_is,
    deleting,
    finalizers,
    meta,
    name_of,
    namespace_of,
    now,
    owned_by,
    spec,
    status,
    uid_of,
)
from e2e.kubevirt_standin.status import (
    datavolume_error,
    datavolume_names,
    printable_status,
    status_patch,
    templates_ready,
    vm_conditions,
)

log = logging.getLogger(__name__)

START_BACKOFF_SECONDS = 10.0
START_BACKOFF_MAX_SECONDS = 300.0


class SyncError(Exception):
    """What the VM's Failure condition reports (KubeVirt's FailedCreate and friends)."""


def run_strategy(vm: Obj) -> str:
    """``vm.RunStrategy()``: running and runStrategy are exclusive; neither means Halted."""
    vm_spec = spec(vm)
    running, strategy = vm_spec.get("running"), vm_spec.get("runStrategy")
    if running is not None and strategy is not None:
        raise SyncError("running and runstrategy are mutually exclusive")
    if running is not None:
        return ALWAYS if running else HALTED
    if strategy is None:
        return HALTED
    if strategy not in RUN_STRATEGIES:
        raise SyncError(f"runStrategy {strategy!r} is not supported by the stand-in")
    return str(strategy)


def reconcile(ctx: Context, namespace: str, name: str) -> None:
    vm = ctx.vms.get(namespace, name)
    if vm is None:
        return
    vmi = ctx.vmis.get(namespace, name)
    if vmi is not None and not owned_by(vmi, vm):
        vmi = None  # a VMI of that name that this VM does not own (KubeVirt would not adopt it)
    failure: str | None = None
    plan = Plan()
    if deleting(vm):
        if vmi is not None and not deleting(vmi):
            ctx.kube.delete(VMIS, vmi)
        if vmi is None and VM_CONTROLLER_FINALIZER in finalizers(vm):
            remaining = [f for f in finalizers(vm) if f != VM_CONTROLLER_FINALIZER]
            written = ctx.kube.set_finalizers(VMS, vm, remaining)
            if written is not None:
                ctx.vms.remember(written)
            return
    else:
        if VM_CONTROLLER_FINALIZER not in finalizers(vm):
            written = ctx.kube.set_finalizers(VMS, vm, [*finalizers(vm), VM_CONTROLLER_FINALIZER])
            vm = written or vm
            ctx.vms.remember(vm)
        try:
            strategy = run_strategy(vm)
            dvs_ready = _ensure_datavolumes(ctx, vm)
            plan = _sync_run_strategy(ctx, vm, vmi, strategy, dvs_ready)
        except SyncError as error:
            failure = str(error)
        except ApiException as error:
            if error.status is None or error.status >= 500 or error.status == 429:
                raise  # the API server is busy: retry later
            failure = api_message(error)
        vmi = ctx.vmis.get(namespace, name) if plan.vmi_changed else vmi
    _write_status(ctx, vm, vmi, plan, failure)


class Plan:
    """What one sync decided, for the status: a VMI start or stop is expected."""

    def __init__(
        self,
        *,
        start_expected: bool = False,
        stop_expected: bool = False,
        vmi_changed: bool = False,
    ) -> None:
        self.start_expected = start_expected
        self.stop_expected = stop_expected
        self.vmi_changed = vmi_changed
        self.add_requests: list[Obj] = []
        self.start_failure: Obj | None = None
        """What status.startFailure becomes (None: as it is, or cleared by a running VMI)."""
        self.crash_loop = False


def _ensure_datavolumes(ctx: Context, vm: Obj) -> bool:
    """Create the missing DataVolumes of the templates; True when all are ready."""
    for template in spec(vm).get("dataVolumeTemplates") or []:
        dv_name = str((template.get("metadata") or {}).get("name", ""))
        if ctx.dvs.get(namespace_of(vm), dv_name) is not None:
            continue
        created = ctx.kube.create(DVS, manifests.datavolume_for(vm, template))
        if created is not None:
            ctx.dvs.remember(created)
            ctx.kube.event(
                vm, VMS, "Normal", "SuccessfulDataVolumeCreate", f"Created DataVolume {dv_name}"
            )
    names = [
        str((template.get("metadata") or {}).get("name", ""))
        for template in spec(vm).get("dataVolumeTemplates") or []
    ]
    return templates_ready(vm, ctx.datavolumes(namespace_of(vm), names))


def _requests(vm: Obj) -> list[Obj]:
    return list(status(vm).get("stateChangeRequests") or [])


def _stop_requested(vm: Obj, vmi: Obj) -> bool:
    requests = _requests(vm)
    return (
        bool(requests)
        and requests[0].get("action") == "Stop"
        and requests[0].get("uid") == uid_of(vmi)
    )


def _start_requested(vm: Obj) -> bool:
    requests = _requests(vm)
    return bool(requests) and requests[0].get("action") == "Start"


def _sync_run_strategy(
    ctx: Context, vm: Obj, vmi: Obj | None, strategy: str, dvs_ready: bool
) -> Plan:
    phase = str(status(vmi).get("phase") or "") if vmi is not None else ""
    if vmi is not None:
        stop = False
        if strategy == ALWAYS:
            stop = _stop_requested(vm, vmi) or phase in VMI_FINAL
        elif strategy == RERUN_ON_FAILURE:
            stop = _stop_requested(vm, vmi) or phase in (VMI_FAILED, VMI_SUCCEEDED)
        elif strategy == MANUAL:
            stop = _stop_requested(vm, vmi)
        elif strategy == HALTED:
            stop = True
        backoff_applies = strategy in (ALWAYS, RERUN_ON_FAILURE) and not _stop_requested(vm, vmi)
        if stop and phase == VMI_FAILED and backoff_applies:
            failure = start_failure(vm, vmi, time.time())
            if failure is not None:
                plan = Plan()
                plan.start_failure = failure
                wait = _retry_after(failure) - time.time()
                if wait > 0:
                    plan.crash_loop = True
                    ctx.queue.add_after((VM_KEY, namespace_of(vm), name_of(vm)), wait + 0.5)
                    return plan
        if stop and not deleting(vmi):
            _stop(ctx, vm, vmi)
            plan = Plan(stop_expected=True, vmi_changed=True)
            if strategy == RERUN_ON_FAILURE and phase == VMI_FAILED:
                plan.add_requests = [{"action": "Start"}]  # run it again once this one is gone
            return plan
        return Plan(stop_expected=stop)
    wants_start = (
        strategy in (ALWAYS, ONCE)
        or (strategy == MANUAL and _start_requested(vm))
        or (
            strategy == RERUN_ON_FAILURE
            and (_start_requested(vm) or status(vm).get("runStrategy") != RERUN_ON_FAILURE)
        )
    )
    if not wants_start:
        return Plan()
    if not dvs_ready:
        return Plan(start_expected=True)
    created = ctx.kube.create(VMIS, manifests.vmi_for(vm))
    if created is not None:
        ctx.vmis.remember(created)
        ctx.kube.event(
            vm,
            VMS,
            "Normal",
            "SuccessfulCreate",
            "Started the virtual machine by creating the new virtual machine instance "
            + name_of(created),
        )
    return Plan(start_expected=True, vmi_changed=True)


def start_failure(vm: Obj, vmi: Obj, now_seconds: float) -> Obj | None:
    """KubeVirt's ``status.startFailure`` once ``vmi`` failed before it ever ran (None when it
    had run: that is no start failure): one more consecutive failure, and the time before which
    the VM is not started again (`START_BACKOFF_SECONDS` doubling per failure, at most
    `START_BACKOFF_MAX_SECONDS`)."""
    ran = any(
        item.get("phase") == VMI_RUNNING
        for item in status(vmi).get("phaseTransitionTimestamps") or []
    )
    if ran:
        return None
    current = status(vm).get("startFailure") or {}
    if current.get("lastFailedVMIUID") == uid_of(vmi):
        return dict(current)
    count = int(current.get("consecutiveFailCount") or 0) + 1
    delay = min(START_BACKOFF_SECONDS * 2 ** (count - 1), START_BACKOFF_MAX_SECONDS)
    retry = datetime.datetime.fromtimestamp(now_seconds + delay, datetime.UTC)
    return {
        "consecutiveFailCount": count,
        "lastFailedVMIUID": uid_of(vmi),
        "retryAfterTimestamp": retry.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _retry_after(failure: Obj) -> float:
    stamp = str(failure.get("retryAfterTimestamp") or "")
    try:
        parsed = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return 0.0
    return parsed.replace(tzinfo=datetime.UTC).timestamp()


def _stop(ctx: Context, vm: Obj, vmi: Obj) -> None:
    ctx.kube.delete(VMIS, vmi)
    ctx.kube.event(
        vm,
        VMS,
        "Normal",
        "SuccessfulDelete",
        f"Stopped the virtual machine by deleting the virtual machine instance {uid_of(vmi)}",
    )


def _state_change_requests(vm: Obj, vmi: Obj | None, plan: Plan) -> list[Obj]:
    """isTrimFirstChangeRequestNeeded: drop the first request once it is done; RerunOnFailure
    adds a Start request when it stops a Failed VMI."""
    requests = _requests(vm)
    if requests:
        first = requests[0]
        stop_done = first.get("action") == "Stop" and (
            vmi is None or first.get("uid") != uid_of(vmi)
        )
        start_done = (
            first.get("action") == "Start"
            and vmi is not None
            and not deleting(vmi)
            and status(vmi).get("phase") not in VMI_FINAL
        )
        if stop_done or start_done:
            requests = requests[1:]
    if plan.add_requests:
        requests = [*requests, *plan.add_requests]
    return requests


def _write_status(ctx: Context, vm: Obj, vmi: Obj | None, plan: Plan, failure: str | None) -> None:
    current = status(vm)
    wanted: Obj = {k: v for k, v in current.items() if k not in _OWNED_FIELDS}
    dvs = ctx.datavolumes(namespace_of(vm), datavolume_names(vm))
    wanted["printableStatus"] = printable_status(
        vm,
        vmi,
        dvs,
        start_expected=plan.start_expected,
        stop_expected=plan.stop_expected,
        crash_loop=plan.crash_loop,
    )
    try:
        strategy: str | None = run_strategy(vm)
    except SyncError:
        strategy = None
    if plan.start_failure is not None:
        wanted["startFailure"] = plan.start_failure
    elif (
        current.get("startFailure")
        and strategy in (ALWAYS, RERUN_ON_FAILURE)
        and not (vmi is not None and status(vmi).get("phase") == VMI_RUNNING)
    ):
        # shouldClearStartFailure: a running VMI, or a run strategy that does not restart.
        wanted["startFailure"] = current["startFailure"]
    if vmi is not None:
        wanted["created"] = True
        if condition_is(vmi, "Ready", "True"):
            wanted["ready"] = True
        generation = (meta(vmi).get("annotations") or {}).get(VM_GENERATION_ANNOTATION)
        if generation is not None:
            wanted["observedGeneration"] = int(generation)
    elif "observedGeneration" in current:
        wanted["observedGeneration"] = current["observedGeneration"]
    wanted["desiredGeneration"] = int(meta(vm).get("generation", 1))
    if strategy is not None and (current.get("runStrategy") or vmi is not None):
        wanted["runStrategy"] = strategy
    requests = _state_change_requests(vm, vmi, plan)
    if requests:
        wanted["stateChangeRequests"] = requests
    wanted["conditions"] = vm_conditions(vm, vmi, failure, now())
    patch = status_patch(current, wanted)
    if patch is None:
        return
    written = ctx.kube.patch_status(VMS, vm, patch)
    if written is None:
        return
    ctx.vms.remember(written)
    printable = wanted["printableStatus"]
    if current.get("printableStatus") != printable:
        log.info("vm %s/%s: %s", namespace_of(vm), name_of(vm), printable)
        error = datavolume_error(vm, dvs)
        if printable == "DataVolumeError" and error:
            ctx.kube.event(vm, VMS, "Warning", "FailedDataVolumeImport", error)


_OWNED_FIELDS = (
    "printableStatus",
    "created",
    "ready",
    "observedGeneration",
    "desiredGeneration",
    "runStrategy",
    "stateChangeRequests",
    "conditions",
    "startFailure",
)
