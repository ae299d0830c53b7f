"""Helpers of the KubeVirt end-to-end tests: manifests, reads, waits with derived deadlines.

The cluster runs KubeVirt's real CRDs and the virt-controller stand-in (``e2e.kubevirt_standin``);
these helpers build VirtualMachines as a user (or the operator) would write them, and wait for
what the stand-in makes of them. Every deadline is derived from ``waiting``'s default timeout,
plus the launcher pod's termination grace period where a stop waits for one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from e2e.kubevirt_standin.manifests import LAUNCHER_EXTRA_GRACE_SECONDS
from tests.e2e.waiting import DEFAULT_TIMEOUT_SECONDS, wait_until

KUBEVIRT = ("kubevirt.io", "v1")
CDI = ("cdi.kubevirt.io", "v1beta1")
VM_GRACE_SECONDS = 5
"""terminationGracePeriodSeconds of the test VMs (the launcher pod gets 15 s more)."""
STEP_TIMEOUT = DEFAULT_TIMEOUT_SECONDS
"""Deadline of one state change that needs the scheduler and the node agent."""
STOP_TIMEOUT = DEFAULT_TIMEOUT_SECONDS + VM_GRACE_SECONDS + LAUNCHER_EXTRA_GRACE_SECONDS
"""Deadline of a stop: a state change plus, at worst, the launcher pod's whole grace period."""


def vm_manifest(
    name: str,
    run_strategy: str | None = "Always",
    *,
    node_selector: dict[str, str] | None = None,
    data_volumes: list[dict[str, Any]] | None = None,
    running: bool | None = None,
) -> dict[str, Any]:
    """A small VM (1 core, 256Mi) on the pod network; each DataVolume template in
    ``data_volumes`` is attached as a disk, as the operator's VirtualServers do."""
    disks: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    for template in data_volumes or []:
        volume = template["metadata"]["name"]
        disks.append({"name": volume, "disk": {"bus": "virtio"}})
        volumes.append({"name": volume, "dataVolume": {"name": volume}})
    template_spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": VM_GRACE_SECONDS,
        "domain": {
            "cpu": {"cores": 1},
            "memory": {"guest": "256Mi"},
            "devices": {
                "disks": disks,
                "interfaces": [{"name": "default", "masquerade": {}}],
            },
        },
        "networks": [{"name": "default", "pod": {}}],
        "volumes": volumes,
    }
    if node_selector:
        template_spec["nodeSelector"] = node_selector
    spec: dict[str, Any] = {
        "template": {"metadata": {"labels": {"app": name}}, "spec": template_spec},
    }
    if run_strategy is not None:
        spec["runStrategy"] = run_strategy
    if running is not None:
        spec["running"] = running
    if data_volumes:
        spec["dataVolumeTemplates"] = data_volumes
    return {
        "apiVersion": "/".join(KUBEVIRT),
        "kind": "VirtualMachine",
        "metadata": {"name": name},
        "spec": spec,
    }


def datavolume_template(
    name: str, source: dict[str, Any], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return {
        "metadata": metadata,
        "spec": {
            "source": source,
            "storage": {"resources": {"requests": {"storage": "1Gi"}}},
        },
    }


class KubeVirtApi:
    """Reads and writes of VMs, VMIs and DataVolumes in one namespace."""

    def __init__(self, custom_objects: client.CustomObjectsApi, namespace: str) -> None:
        self.custom = custom_objects
        self.namespace = namespace

    def create_vm(self, manifest: dict[str, Any], **options: Any) -> dict[str, Any]:
        created: Any = self.custom.create_namespaced_custom_object(
            *KUBEVIRT, self.namespace, "virtualmachines", manifest, **options
        )
        return dict(created)

    def patch_vm(self, name: str, body: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            *KUBEVIRT, self.namespace, "virtualmachines", name, body
        )

    def delete(self, plural: str, name: str) -> None:
        group = CDI if plural == "datavolumes" else KUBEVIRT
        self.custom.delete_namespaced_custom_object(*group, self.namespace, plural, name)

    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        group = CDI if plural == "datavolumes" else KUBEVIRT
        try:
            found: Any = self.custom.get_namespaced_custom_object(
                *group, self.namespace, plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found)

    def vm(self, name: str) -> dict[str, Any] | None:
        return self.get("virtualmachines", name)

    def vmi(self, name: str) -> dict[str, Any] | None:
        return self.get("virtualmachineinstances", name)

    def dv(self, name: str) -> dict[str, Any] | None:
        return self.get("datavolumes", name)

    def wait_vm_status(
        self, name: str, printable: str, timeout: float = STEP_TIMEOUT
    ) -> dict[str, Any]:
        """Wait until the VM's printableStatus is ``printable``; the VM then."""
        found = wait_until(
            lambda: self.vm(name),
            lambda vm: vm is not None and status(vm).get("printableStatus") == printable,
            f"VirtualMachine {self.namespace}/{name} {printable}",
            timeout,
        )
        assert found is not None
        return found

    def wait_gone(self, plural: str, name: str, timeout: float = STOP_TIMEOUT) -> None:
        wait_until(
            lambda: self.get(plural, name),
            lambda obj: obj is None,
            f"{plural} {self.namespace}/{name} gone",
            timeout,
        )


def status(obj: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = obj.get("status") or {}
    return found


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in status(obj).get("conditions") or [] if c.get("type") == kind), None)


class StatusRecorder:
    """Every printableStatus a VM passes through, from a watch (a poll could miss a short
    Stopping); started before the change it is meant to observe."""

    def __init__(self, custom_objects: client.CustomObjectsApi, namespace: str, name: str) -> None:
        self.seen: list[str] = []
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        self._custom = custom_objects
        self._namespace = namespace
        self._name = name
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StatusRecorder:
        self._thread.start()
        self._ready.wait(STEP_TIMEOUT)
        return self

    def wait_until_last(self, printable: str, timeout: float = STEP_TIMEOUT) -> None:
        """Wait for the watch to catch up: the last status seen is ``printable`` (a GET can
        see a status before the watch delivers it, on a busy machine)."""
        wait_until(
            lambda: self.seen[-1:],
            lambda last: last == [printable],
            f"the watch to see printableStatus {printable}",
            timeout,
        )

    def __exit__(self, *_exc: object) -> None:
        self._stopped.set()
        self._watch.stop()  # type: ignore[no-untyped-call]
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            self._follow()
        except Exception:
            if not self._stopped.is_set():  # closing the stream mid-read is how it ends
                raise

    def _follow(self) -> None:
        listing: Any = self._custom.list_namespaced_custom_object(
            *KUBEVIRT,
            self._namespace,
            "virtualmachines",
            field_selector=f"metadata.name={self._name}",
        )
        self._record(listing.get("items") or [])
        self._ready.set()
        stream: Callable[..., Any] = self._watch.stream
        for event in stream(
            self._custom.list_namespaced_custom_object,
            *KUBEVIRT,
            self._namespace,
            "virtualmachines",
            field_selector=f"metadata.name={self._name}",
            resource_version=listing["metadata"]["resourceVersion"],
            timeout_seconds=int(STOP_TIMEOUT * 2),
        ):
            self._record([event["raw_object"]])

    def _record(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            printable = status(item).get("printableStatus")
            if printable and (not self.seen or self.seen[-1] != printable):
                self.seen.append(printable)
