"""The stand-in for CDI's import controller: a DataVolume's phases, and a real source check.

Pending -> ImportScheduled -> ImportInProgress -> Succeeded, each its own status write (a
watcher sees every phase); the source is checked (``sources.check_source``) before
ImportInProgress, and a source that cannot be read fails the DataVolume (phase Failed,
Running=False reason Error), which KubeVirt shows on the VM as DataVolumeError. The check's
finding (e.g. the object's size) stays in the conditions' messages. On success the claim CDI
would have filled is created, empty (named as the DataVolume, owned by it, of the size it asks
for), so that a later clone from it (``source.pvc``) finds it.

Where guests boot (`guests`), the import is real: ``importer`` copies the source into the
DataVolume's directory while the DataVolume shows ImportInProgress with CDI's ``progress``, and
a copy that fails fails the DataVolume with the importer's message. Elsewhere no bytes are
copied.
"""

from __future__ import annotations

import logging
import time

from e2e.kubevirt_standin import sources
from e2e.kubevirt_standin.context import DV_KEY, Context
from e2e.kubevirt_standin.objects import (
    DV_FAILED,
    DV_SUCCEEDED,
    DVS,
    Obj,
    condition,
    deleting,
    name_of,
    namespace_of,
    now,
    owner_reference,
    spec,
    status,
)
from e2e.kubevirt_standin.status import merge_conditions, status_patch

log = logging.getLogger(__name__)

STEP_SECONDS = 0.5
"""The next step is queued after this long (sooner when the write's own event arrives)."""
PROGRESS_SECONDS = 1.0
"""How often a real import's progress is written."""
PENDING = "Pending"
SCHEDULED = "ImportScheduled"
IN_PROGRESS = "ImportInProgress"


def reconcile(ctx: Context, namespace: str, name: str) -> None:
    dv = ctx.dvs.get(namespace, name)
    if dv is None:
        ctx.guests.forget_datavolume(namespace, name)
        return
    if deleting(dv):
        return
    phase = str(status(dv).get("phase") or "")
    if phase in (DV_SUCCEEDED, DV_FAILED):
        return
    if phase == "":
        _write(ctx, dv, PENDING, "N/A", _conditions(bound=False, running=False, reason="Pending"))
    elif phase == PENDING:
        _write(ctx, dv, SCHEDULED, "N/A", _conditions(bound=True, running=False, reason="Pending"))
    elif phase == SCHEDULED:
        check = sources.check_source(ctx.kube, dv)
        if not check.readable:
            _fail(ctx, dv, check.message)
            return
        _write(
            ctx,
            dv,
            IN_PROGRESS,
            "0.00%",
            _conditions(bound=True, running=True, reason="Pod is running", message=check.message),
        )
    elif phase == IN_PROGRESS:
        checked = (condition(dv, "Running") or {}).get("message", "")
        if ctx.guests.boot_in(namespace):
            job = ctx.importer.job(dv)
            if not job.finished:
                # Each write's own event queues the DataVolume again: write at most once per
                # PROGRESS_SECONDS, however often that is.
                if time.monotonic() - job.reported >= PROGRESS_SECONDS:
                    job.reported = time.monotonic()
                    running = _conditions(
                        bound=True, running=True, reason="Pod is running", message=checked
                    )
                    _write(ctx, dv, IN_PROGRESS, job.progress(), running, restarts=job.restarts)
                ctx.queue.add_after((DV_KEY, namespace, name), PROGRESS_SECONDS)
                return
            if job.error is not None:
                _fail(ctx, dv, job.error)
                ctx.importer.forget(dv)
                return
            message = f"Import Complete; {job.message}"
        else:
            message = f"Import Complete; {checked} (stand-in importer: nothing was copied)"
        ctx.kube.create_claim(_claim(dv))
        _write(
            ctx,
            dv,
            DV_SUCCEEDED,
            "100.0%",
            _conditions(bound=True, running=False, reason="Completed", message=message, ready=True),
        )
        ctx.kube.event(
            dv, DVS, "Normal", "ImportSucceeded", f"Successfully imported into PVC {name}"
        )
        ctx.importer.forget(dv)  # only now: a failed write above retries without a new import
        return
    ctx.queue.add_after((DV_KEY, namespace, name), STEP_SECONDS)


def _fail(ctx: Context, dv: Obj, message: str) -> None:
    log.info("datavolume %s/%s: import failed: %s", namespace_of(dv), name_of(dv), message)
    failed = _conditions(bound=True, running=False, reason="Error", message=message)
    _write(ctx, dv, DV_FAILED, "N/A", failed)
    ctx.kube.event(dv, DVS, "Warning", "Error", f"Unable to import: {message}")


def _claim(dv: Obj) -> Obj:
    """The PVC CDI makes for ``dv`` (from ``spec.storage``, or the older ``spec.pvc``)."""
    dv_spec = spec(dv)
    storage = dict(dv_spec.get("storage") or dv_spec.get("pvc") or {})
    claim_spec: Obj = {
        "accessModes": storage.get("accessModes") or ["ReadWriteOnce"],
        "resources": storage.get("resources") or {"requests": {"storage": "1Gi"}},
    }
    if storage.get("storageClassName"):
        claim_spec["storageClassName"] = storage["storageClassName"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name_of(dv),
            "namespace": namespace_of(dv),
            "ownerReferences": [owner_reference(dv, "DataVolume", "cdi.kubevirt.io/v1beta1")],
        },
        "spec": claim_spec,
    }


def _conditions(
    *, bound: bool, running: bool, reason: str, message: str = "", ready: bool = False
) -> list[Obj]:
    return [
        {
            "type": "Bound",
            "status": "True" if bound else "Unknown",
            "reason": "Bound" if bound else "Pending",
            "message": "PVC Bound" if bound else "No PVC found",
        },
        {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": reason if not ready else "",
        },
        {
            "type": "Running",
            "status": "True" if running else "False",
            "reason": reason,
            "message": message,
        },
    ]


def _write(
    ctx: Context,
    dv: Obj,
    phase: str,
    progress: str,
    conditions: list[Obj],
    *,
    restarts: int | None = None,
) -> None:
    current = status(dv)
    wanted = {
        "phase": phase,
        "progress": progress,
        "claimName": name_of(dv),
        "restartCount": int(current.get("restartCount") or 0) if restarts is None else restarts,
        "conditions": merge_conditions(current.get("conditions") or [], conditions, now()),
    }
    patch = status_patch(current, wanted)
    if patch is None:
        return
    written = ctx.kube.patch_status(DVS, dv, patch)
    if written is not None:
        ctx.dvs.remember(written)
        log.info("datavolume %s/%s: %s", namespace_of(dv), name_of(dv), phase)
