"""Objects the stand-in creates, built as KubeVirt builds them (pure: dicts in, dicts out).

- ``vmi_for``: SetupVMIFromVM — the VM's template (labels, annotations, spec) under the VM's
  name, a controller reference to the VM, the VM controller's finalizer.
- ``datavolume_for``: CreateDataVolumeManifest — a DataVolumeTemplate's metadata and spec, the
  ``kubevirt.io/created-by`` label, CDI's claim-adoption annotation, owned by the VM.
- ``launcher_pod``: virt-controller's launcher pod, reduced: the ``compute`` container runs a
  sleeping process of the project image (the node agent can run it; no guest), with the
  VMI's resources, node selector, affinity, tolerations, scheduler and priority class, so the
  real scheduler places it as it would place KubeVirt's.
- ``guest_launcher_pod``: the same pod running the launcher, which boots the guest.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

from e2e.kubevirt_standin.launch import (
    LAUNCH_ENV,
    POD_IP_ENV,
    secret_mount,
    secret_volumes,
)
from e2e.kubevirt_standin.objects import (
    ALLOW_CLAIM_ADOPTION_ANNOTATION,
    APP_LABEL,
    CDI_GROUP,
    CDI_VERSION,
    CREATED_BY_LABEL,
    DEFAULT_CONTAINER_ANNOTATION,
    DOMAIN_ANNOTATION,
    KUBEVIRT_GROUP,
    KUBEVIRT_VERSION,
    LAUNCHER_APP,
    LAUNCHER_CONTAINER,
    STANDIN_ANNOTATION,
    VM_CONTROLLER_FINALIZER,
    VM_GENERATION_ANNOTATION,
    VM_NAME_LABEL,
    VMI_FINALIZER,
    Obj,
    labels,
    meta,
    name_of,
    namespace_of,
    owner_reference,
    spec,
    uid_of,
)
from e2e.nodeagent.images import PROJECT_REPOSITORY

LAUNCHER_IMAGE = f"{PROJECT_REPOSITORY}:virt-launcher-standin"
LAUNCHER_COMMAND = ("sh", "-c", "trap 'exit 0' TERM INT; sleep infinity & wait")
"""PID 1 of the container's PID namespace ignores an untrapped SIGTERM: the shell traps it, so
a launcher pod stops at once (as virt-launcher does once its guest has shut down)."""
GUEST_LAUNCHER_COMMAND = ("python", "-m", "e2e.kubevirt_standin.launcher")
GUEST_LAUNCHER_ANNOTATION = "standin.e2e.nimbus.dev/launcher"
REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout: the project image's files hold it, and ``e2e`` is not installed."""
DEFAULT_VMI_GRACE_SECONDS = 180
"""KubeVirt's default terminationGracePeriodSeconds for a VMI; the pod gets 15 s more."""
LAUNCHER_EXTRA_GRACE_SECONDS = 15
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the API server's generateName uses
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_API_VERSION = f"{KUBEVIRT_GROUP}/{KUBEVIRT_VERSION}"


def vmi_for(vm: Obj) -> Obj:
    template = spec(vm).get("template") or {}
    template_meta = template.get("metadata") or {}
    metadata: Obj = {
        "name": name_of(vm),
        "namespace": namespace_of(vm),
        "ownerReferences": [owner_reference(vm, "VirtualMachine", _API_VERSION)],
        "finalizers": [VM_CONTROLLER_FINALIZER, VMI_FINALIZER],
    }
    if template_meta.get("labels"):
        metadata["labels"] = dict(template_meta["labels"])
    metadata["annotations"] = {
        **(template_meta.get("annotations") or {}),
        VM_GENERATION_ANNOTATION: str(meta(vm).get("generation", 1)),
    }
    return {
        "apiVersion": _API_VERSION,
        "kind": "VirtualMachineInstance",
        "metadata": metadata,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def datavolume_for(vm: Obj, template: Obj) -> Obj:
    template_meta = template.get("metadata") or {}
    metadata: Obj = {
        key: copy.deepcopy(value)
        for key, value in template_meta.items()
        if key in ("name", "labels", "annotations")
    }
    metadata["namespace"] = namespace_of(vm)
    metadata["labels"] = {**(metadata.get("labels") or {}), CREATED_BY_LABEL: uid_of(vm)}
    metadata["annotations"] = {
        **(metadata.get("annotations") or {}),
        ALLOW_CLAIM_ADOPTION_ANNOTATION: "true",
    }
    metadata["ownerReferences"] = [owner_reference(vm, "VirtualMachine", _API_VERSION)]
    body = copy.deepcopy(template.get("spec") or {})
    priority_class = (spec(vm).get("template") or {}).get("spec", {}).get("priorityClassName")
    if priority_class and not body.get("priorityClassName"):
        body["priorityClassName"] = priority_class
    return {
        "apiVersion": f"{CDI_GROUP}/{CDI_VERSION}",
        "kind": "DataVolume",
        "metadata": metadata,
        "spec": body,
    }


def launcher_pod_name(vmi: Obj) -> str:
    """``virt-launcher-<vmi>-<5 chars>``; the suffix is derived from the VMI's uid, so a retry
    after a lost answer finds the pod it made instead of making a second one."""
    digest = hashlib.sha256(uid_of(vmi).encode()).digest()
    suffix = "".join(_NAME_ALPHABET[byte % len(_NAME_ALPHABET)] for byte in digest[:5])
    return f"virt-launcher-{name_of(vmi)}-{suffix}"


def launcher_pod(vmi: Obj) -> Obj:
    vmi_spec = spec(vmi)
    name = name_of(vmi)
    pod_labels = {
        **labels(vmi),
        APP_LABEL: LAUNCHER_APP,
        CREATED_BY_LABEL: uid_of(vmi),
        VM_NAME_LABEL: name,
    }
    grace = vmi_spec.get("terminationGracePeriodSeconds")
    grace = DEFAULT_VMI_GRACE_SECONDS if grace is None else int(grace)
    pod_spec: Obj = {
        "containers": [
            {
                "name": LAUNCHER_CONTAINER,
                "image": LAUNCHER_IMAGE,
                "command": list(LAUNCHER_COMMAND),
                "resources": launcher_resources(vmi_spec),
            }
        ],
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": grace + LAUNCHER_EXTRA_GRACE_SECONDS,
        "automountServiceAccountToken": False,
    }
    for field in (
        "nodeSelector",
        "affinity",
        "tolerations",
        "schedulerName",
        "priorityClassName",
        "topologySpreadConstraints",
        "subdomain",
        "dnsPolicy",
        "dnsConfig",
    ):
        if vmi_spec.get(field):
            pod_spec[field] = copy.deepcopy(vmi_spec[field])
    hostname = vmi_spec.get("hostname") or name
    if _DNS_LABEL.fullmatch(hostname):
        pod_spec["hostname"] = hostname
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": launcher_pod_name(vmi),
            "namespace": namespace_of(vmi),
            "labels": pod_labels,
            "annotations": {
                DOMAIN_ANNOTATION: name,
                DEFAULT_CONTAINER_ANNOTATION: LAUNCHER_CONTAINER,
                STANDIN_ANNOTATION: "no guest runs here: a sleeping process stands in for "
                "virt-launcher (e2e harness)",
            },
            "ownerReferences": [
                owner_reference(vmi, "VirtualMachineInstance", _API_VERSION),
            ],
        },
        "spec": pod_spec,
    }


def guest_launcher_pod(vmi: Obj, launch: Obj, state_dir: Path) -> Obj:
    """The launcher pod of a VMI that boots a real guest: the ``compute`` container runs
    `e2e.kubevirt_standin.launcher` with the launch in its environment, the pod IP from the
    downward API, the stand-in's state directory (disks and launcher files) mounted at its own
    path, and each cloud-init Secret mounted where the launch says (as KubeVirt mounts them)."""
    pod = launcher_pod(vmi)
    container = pod["spec"]["containers"][0]
    container["command"] = list(GUEST_LAUNCHER_COMMAND)
    container["env"] = [
        {"name": LAUNCH_ENV, "value": json.dumps(launch, sort_keys=True)},
        {"name": POD_IP_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "PYTHONPATH", "value": str(REPO_ROOT)},
    ]
    volumes: list[Obj] = [
        {"name": "standin-state", "hostPath": {"path": str(state_dir), "type": "Directory"}}
    ]
    mounts: list[Obj] = [{"name": "standin-state", "mountPath": str(state_dir)}]
    for index, (volume, kind, secret) in enumerate(secret_volumes(vmi)):
        name = f"cloud-init-secret-{index}"
        volumes.append({"name": name, "secret": {"secretName": secret}})
        mounts.append({"name": name, "mountPath": secret_mount(volume, kind), "readOnly": True})
    container["volumeMounts"] = mounts
    pod["spec"]["volumes"] = volumes
    pod["metadata"]["annotations"][STANDIN_ANNOTATION] = (
        "a QEMU guest runs here, booted by the virt-launcher stand-in (e2e harness)"
    )
    pod["metadata"]["annotations"][GUEST_LAUNCHER_ANNOTATION] = "qemu"
    return pod


def is_guest_launcher(pod: Obj) -> bool:
    return (meta(pod).get("annotations") or {}).get(GUEST_LAUNCHER_ANNOTATION) == "qemu"


def launcher_resources(vmi_spec: Obj) -> Obj:
    """The compute container's requests and limits: the VMI's own (memory falls back to the
    guest memory). KubeVirt adds its virt-launcher overhead on top; the stand-in does not."""
    domain = vmi_spec.get("domain") or {}
    declared = domain.get("resources") or {}
    requests = {k: v for k, v in (declared.get("requests") or {}).items() if k in ("cpu", "memory")}
    limits = {k: v for k, v in (declared.get("limits") or {}).items() if k in ("cpu", "memory")}
    guest = (domain.get("memory") or {}).get("guest")
    if "memory" not in requests and "memory" not in limits and guest:
        requests["memory"] = guest
    resources: Obj = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return resources
