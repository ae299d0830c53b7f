"""The server's disks: root disk, cloud-init disk, extra volumes, and the DataVolumes that
KubeVirt makes from the VM's dataVolumeTemplates (pure).

- Root disk: a containerDisk (ephemeral: what the guest writes is lost on restart), or a
  DataVolume made from the Image's CDI source, sized by the design. Each rebuild renames it
  (`names.root_data_volume_name`), so KubeVirt makes a new, freshly imported disk.
- Cloud-init disk: NoCloud, inline user data when it fits KubeVirt's 2048 bytes, else the
  ``<server>-cloud-init`` Secret (``secretRef``, the JSON name of KubeVirt's
  ``UserDataSecretRef``).
- Extra volumes: a new empty disk (a blank DataVolume ``<server>-<volume>`` in the storage
  class asked for), or an existing PersistentVolumeClaim. Each disk's ``serial`` is the
  volume's name, so the guest finds it as /dev/disk/by-id/virtio-<name> (the first 20
  characters).
"""

from __future__ import annotations

import copy
from typing import Any

from nimbus_operator.models.compute.serverparts import Volume
from nimbus_operator.render.compute.cloud_init import cloud_init_user_data, user_data_is_inline
from nimbus_operator.render.compute.design import RootDiskKind, ServerDesign
from nimbus_operator.render.compute.meta import disk_labels
from nimbus_operator.render.compute.names import (
    CLOUD_INIT_DISK,
    ROOT_DISK,
    volume_data_volume_name,
)

BUS = "virtio"


def disks(design: ServerDesign) -> list[dict[str, Any]]:
    """``domain.devices.disks``: the root disk boots first, then cloud-init, then the rest."""
    found: list[dict[str, Any]] = [
        {"name": ROOT_DISK, "bootOrder": 1, "disk": {"bus": BUS}},
        {"name": CLOUD_INIT_DISK, "disk": {"bus": BUS}},
    ]
    found += [
        {"name": volume.name, "serial": volume.name, "disk": {"bus": BUS}}
        for volume in design.server.spec.volumes
    ]
    return found


def _root_volume(design: ServerDesign) -> dict[str, Any]:
    if design.image.kind == RootDiskKind.CONTAINER_DISK:
        return {"name": ROOT_DISK, "containerDisk": {"image": design.image.image}}
    return {"name": ROOT_DISK, "dataVolume": {"name": design.root_data_volume}}


def _cloud_init_volume(design: ServerDesign) -> dict[str, Any]:
    user_data = cloud_init_user_data(design)
    if user_data_is_inline(design, user_data):
        source: dict[str, Any] = {"userData": user_data}
    else:
        source = {"secretRef": {"name": design.cloud_init_secret}}
    return {"name": CLOUD_INIT_DISK, "cloudInitNoCloud": source}


def _extra_volume(design: ServerDesign, volume: Volume) -> dict[str, Any]:
    if volume.claim_name is not None:
        return {"name": volume.name, "persistentVolumeClaim": {"claimName": volume.claim_name}}
    return {
        "name": volume.name,
        "dataVolume": {"name": volume_data_volume_name(design.name, volume.name)},
    }


def volumes(design: ServerDesign) -> list[dict[str, Any]]:
    """The VMI's ``volumes``, one per disk, in the order of `disks`."""
    return [
        _root_volume(design),
        _cloud_init_volume(design),
        *(_extra_volume(design, volume) for volume in design.server.spec.volumes),
    ]


def _storage(size: str, storage_class_name: str | None) -> dict[str, Any]:
    """A DataVolume's ``spec.storage``: access and volume modes come from CDI's
    StorageProfile of the class."""
    storage: dict[str, Any] = {"resources": {"requests": {"storage": size}}}
    if storage_class_name:
        storage["storageClassName"] = storage_class_name
    return storage


def _template(design: ServerDesign, name: str, disk: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": disk_labels(design, disk)}, "spec": spec}


def data_volume_templates(design: ServerDesign) -> list[dict[str, Any]]:
    """The VM's ``dataVolumeTemplates``: the root disk (for a DataVolume image), then each new
    extra disk. KubeVirt makes each DataVolume, owned by the VM, and deletes it with the VM."""
    templates: list[dict[str, Any]] = []
    image = design.image
    if image.kind == RootDiskKind.DATA_VOLUME and image.source and image.size:
        spec = {
            "source": copy.deepcopy(dict(image.source)),
            "storage": _storage(image.size, image.storage_class_name),
        }
        templates.append(_template(design, design.root_data_volume, ROOT_DISK, spec))
    for volume in design.server.spec.volumes:
        if volume.size is None:
            continue
        spec = {
            "source": {"blank": {}},
            "storage": _storage(volume.size, volume.storage_class_name),
        }
        name = volume_data_volume_name(design.name, volume.name)
        templates.append(_template(design, name, volume.name, spec))
    return templates
