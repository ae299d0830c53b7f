"""One VirtualServer reconcile: resolve what it names, hold its quota, apply its VirtualMachine
(with its cloud-init Secret and Service), drive a pending action, and report Nova's status."""

from __future__ import annotations

from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import InvalidSpec
from nimbus_operator.models.compute.virtualserver import VirtualServer
from nimbus_operator.models.errors import SpecError
from nimbus_operator.reconcilers.compute.quota import Demand, QuotaExceeded, release, reserve
from nimbus_operator.reconcilers.compute.server.lifecycle import (
    Requests,
    Task,
    finished_fields,
    task_to_start,
)
from nimbus_operator.reconcilers.compute.server.objects import (
    KUBEVIRT_API,
    Observed,
    apply_objects,
    observe,
    prune_root_disks,
)
from nimbus_operator.reconcilers.compute.server.report import error_report, state_report
from nimbus_operator.reconcilers.compute.server.resolve import Resolved, resolve
from nimbus_operator.reconcilers.status import Report
from nimbus_operator.render.compute import PendingAction, root_data_volume_name, server_state

NOT_FOUND_REASONS = {"FlavorNotFound", "ImageNotFound", "KeyPairNotFound", "ServerGroupNotFound"}


def reconcile_server(kube: Kube, body: dict[str, Any]) -> Report:
    previous = dict(body.get("status") or {})
    try:
        server = VirtualServer.from_body(body)
    except SpecError as error:
        return error_report(previous, "InvalidSpec", str(error), 400)
    metadata = body["metadata"]
    namespace, name, uid = str(metadata["namespace"]), str(metadata["name"]), str(metadata["uid"])
    image_ref = f"{server.image_namespace}/{server.spec.image.name}"
    asked = Requests.asked(server.spec, image_ref)
    done = Requests.done(previous, asked)
    try:
        resolved = resolve(kube, server)
        flavor = resolved.flavor.spec
        reserve(kube, namespace, Demand(name, uid, flavor.vcpus, flavor.memory_bytes))
    except QuotaExceeded as error:
        return error_report(previous, error.reason, str(error), 403)
    except InvalidSpec as error:
        release(kube, namespace, name)
        code = 404 if error.reason in NOT_FOUND_REASONS else 400
        return error_report(previous, error.reason, str(error), code)

    fields: dict[str, Any] = {}
    task = _running_task(previous) or task_to_start(server.spec, asked, done)
    replaced = str(previous.get("taskInstance") or "")
    if task is not None and not previous.get("taskState"):
        replaced = observe(kube, namespace, name).instance_uid
        fields.update({"taskState": task.value, "taskInstance": replaced})
    # A server seen for the first time has nothing yet: no stale Secret or Service to remove,
    # no instance to read (this keeps a burst of creates at a few API calls each).
    first = not previous.get("status")
    vm = apply_objects(kube, server, body, resolved, rebuild_token=asked.rebuild, fresh=first)
    if "taskState" in fields and replaced:
        # KubeVirt starts a new instance from the (updated) template: the restart itself.
        kube.delete(KUBEVIRT_API, "VirtualMachineInstance", name, namespace)
    after = Observed(vm, None, []) if first else observe(kube, namespace, name)
    pending = None
    if task is not None:
        disks = (root_data_volume_name(name, asked.rebuild),) if _imports(resolved) else ()
        pending = PendingAction(
            task.action, replaced or None, disks if task is Task.REBUILDING else ()
        )
    state = server_state(
        after.vm,
        after.instance,
        after.data_volumes,
        power_state=server.spec.power_state,
        pending_action=pending,
        launched=bool(previous.get("launchedAt")),
    )
    if task is not None and state.settled and state.status.value != "ERROR":
        fields.update(finished_fields(asked))
        if task is Task.REBUILDING:
            prune_root_disks(kube, namespace, name, keep=root_data_volume_name(name, asked.rebuild))
    elif task is None and previous.get("flavor") is None and after.running:
        fields.update(finished_fields(asked))  # the first start: everything asked is done
    return state_report(kube, server, previous, state, fields)


def _imports(resolved: Resolved) -> bool:
    return resolved.image.spec.source.container_disk is None


def _running_task(status: dict[str, Any]) -> Task | None:
    value = status.get("taskState")
    return Task(value) if value in {task.value for task in Task} else None


def delete_server(kube: Kube, body: dict[str, Any]) -> None:
    """Its VirtualMachine, Secret, Service and disks go with it (they are owned); its quota is
    freed here."""
    metadata = body["metadata"]
    release(kube, str(metadata["namespace"]), str(metadata["name"]))
