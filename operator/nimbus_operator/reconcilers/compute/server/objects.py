"""The Kubernetes objects of one server: what is applied (VirtualMachine, cloud-init Secret,
Service) and what is read back (the VirtualMachine, its instance, its DataVolumes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import NotFound, RetryLater
from nimbus_operator.models.compute.virtualserver import VirtualServer
from nimbus_operator.reconcilers.compute.server.resolve import Resolved
from nimbus_operator.render.compute import (
    DISK_LABEL,
    DISK_OF_LABEL,
    ImageDesign,
    ServerDesign,
    ServerGroupDesign,
    build_cloud_init_secret,
    build_service,
    build_virtual_machine,
    cloud_init_secret_name,
    root_disk_size,
)
from nimbus_operator.render.image_import import CDI_API

KUBEVIRT_API = "kubevirt.io/v1"
ROOT_DISK = "rootdisk"


@dataclass(frozen=True)
class Observed:
    vm: dict[str, Any] | None
    instance: dict[str, Any] | None
    data_volumes: list[dict[str, Any]]

    @property
    def instance_uid(self) -> str:
        return str((self.instance or {}).get("metadata", {}).get("uid") or "")

    @property
    def running(self) -> bool:
        status = (self.instance or {}).get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        return status.get("phase") == "Running" and ready


def design(
    server: VirtualServer, body: dict[str, Any], resolved: Resolved, rebuild_token: str
) -> ServerDesign:
    metadata = body["metadata"]
    image = resolved.image
    if image.spec.source.container_disk is not None:
        image_design = ImageDesign.container_disk(image.spec.source.container_disk.image)
    else:
        size = root_disk_size(
            resolved.flavor.spec.root_disk_bytes,
            image.spec.min_disk_bytes,
            int(resolved.image_status.get("sizeBytes") or 0) or None,
        )
        claim = {"namespace": resolved.image_namespace, "name": resolved.image_status["claimName"]}
        image_design = ImageDesign.data_volume({"pvc": claim}, size)
    return ServerDesign(
        namespace=str(metadata["namespace"]),
        name=str(metadata["name"]),
        uid=str(metadata["uid"]),
        server=server,
        flavor=resolved.flavor,
        image=image_design,
        public_keys=resolved.public_keys,
        rebuild_token=rebuild_token,
        server_group=(
            ServerGroupDesign.of(resolved.group, resolved.group_slot) if resolved.group else None
        ),
    )


def apply_objects(
    kube: Kube,
    server: VirtualServer,
    body: dict[str, Any],
    resolved: Resolved,
    *,
    rebuild_token: str,
    fresh: bool,
) -> dict[str, Any]:
    """Apply the server's objects; the VirtualMachine as the API server answered. ``fresh``:
    nothing of the server exists yet (no stale Secret or Service to remove)."""
    plan = design(server, body, resolved, rebuild_token)
    namespace, name = plan.namespace, plan.name
    secret = build_cloud_init_secret(plan)
    if secret is not None:
        kube.apply(secret)
    elif not fresh:
        kube.delete("v1", "Secret", cloud_init_secret_name(name), namespace)
    try:
        vm = kube.apply(build_virtual_machine(plan))
    except NotFound as error:
        raise RetryLater(
            "KubeVirt is not installed (no kubevirt.io/v1 VirtualMachine API): install it, "
            "and the server is built",
            reason="KubeVirtMissing",
            delay=30.0,
        ) from error
    service = build_service(plan)
    if service is not None:
        kube.apply(service)
    elif not fresh:
        kube.delete("v1", "Service", name, namespace)
    return vm


def observe(kube: Kube, namespace: str, name: str) -> Observed:
    try:
        vm = kube.get(KUBEVIRT_API, "VirtualMachine", name, namespace)
        instance = kube.get(KUBEVIRT_API, "VirtualMachineInstance", name, namespace)
    except NotFound:
        return Observed(None, None, [])
    try:
        volumes = kube.list(CDI_API, "DataVolume", namespace, f"{DISK_OF_LABEL}={name}")
    except NotFound:
        volumes = []
    return Observed(vm, instance, volumes)


def prune_root_disks(kube: Kube, namespace: str, name: str, *, keep: str) -> None:
    """Root disks of earlier builds, once a rebuild runs on its new one."""
    for volume in observe(kube, namespace, name).data_volumes:
        metadata = volume["metadata"]
        is_root = (metadata.get("labels") or {}).get(DISK_LABEL) == ROOT_DISK
        if is_root and metadata["name"] != keep:
            kube.delete(CDI_API, "DataVolume", metadata["name"], namespace)
