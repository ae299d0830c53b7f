"""What one VirtualServer should be made of, fully resolved (pure data).

The VirtualServer reconciler reads the server's Flavor, Image, KeyPairs and ServerGroup and
turns them into a ``ServerDesign``; every ``build_*`` renderer of the server reads only this.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from nimbus_operator.constants import MANAGED_BY, MANAGED_BY_LABEL
from nimbus_operator.models.compute.flavor import Flavor
from nimbus_operator.models.compute.servergroup import ServerGroup, ServerGroupPolicy
from nimbus_operator.models.compute.serverparts import Network, Port
from nimbus_operator.models.compute.virtualserver import VirtualServer
from nimbus_operator.models.quantity import format_bytes
from nimbus_operator.render.compute.names import (
    FLAVOR_ANNOTATION,
    IMAGE_ANNOTATION,
    REBUILD_ANNOTATION,
    SERVER_GROUP_LABEL,
    SERVER_GROUP_SLOT_LABEL,
    SERVER_LABEL,
    cloud_init_secret_name,
    root_data_volume_name,
)

DEFAULT_NETWORK = "default"


class RootDiskKind(StrEnum):
    """How the root disk is made: KubeVirt's containerDisk, or a CDI DataVolume."""

    CONTAINER_DISK = "containerDisk"
    DATA_VOLUME = "dataVolume"


@dataclass(frozen=True)
class ImageDesign:
    """The server's Image, resolved: what its root disk is made from.

    For a containerDisk, ``image`` is the container image reference. For a DataVolume,
    ``source`` is the CDI ``spec.source`` to use as it is (``{"http": {"url": ...}}``,
    ``{"s3": {"url": ..., "secretRef": "<Secret name>"}}``, ``{"pvc": {"namespace": ...,
    "name": ...}}``) and ``size`` the quantity to request (see `root_disk_size`).
    """

    kind: RootDiskKind
    image: str | None = None
    source: Mapping[str, Any] | None = None
    size: str | None = None
    storage_class_name: str | None = None
    """The StorageClass of the root disk; None means the cluster's default."""

    def __post_init__(self) -> None:
        if self.kind == RootDiskKind.CONTAINER_DISK and not self.image:
            raise ValueError("a containerDisk root disk needs the image reference")
        if self.kind == RootDiskKind.DATA_VOLUME and (not self.source or not self.size):
            raise ValueError("a DataVolume root disk needs a CDI source and a size")

    @classmethod
    def container_disk(cls, image: str) -> ImageDesign:
        return cls(RootDiskKind.CONTAINER_DISK, image=image)

    @classmethod
    def data_volume(
        cls, source: Mapping[str, Any], size: str | int, storage_class_name: str | None = None
    ) -> ImageDesign:
        """A DataVolume root disk; ``size`` a quantity, or bytes (written as ``20Gi``)."""
        return cls(
            RootDiskKind.DATA_VOLUME,
            source=source,
            size=format_bytes(size) if isinstance(size, int) else size,
            storage_class_name=storage_class_name,
        )


def root_disk_size(
    flavor_root_disk_bytes: int, min_disk_bytes: int | None = None, image_bytes: int | None = None
) -> str:
    """The size to request for a DataVolume root disk: the largest of the flavor's rootDisk,
    the Image's minDisk and the imported image's size, as an exact quantity (``20Gi``)."""
    sizes = [flavor_root_disk_bytes, min_disk_bytes or 0, image_bytes or 0]
    return format_bytes(max(sizes))


@dataclass(frozen=True)
class ServerGroupDesign:
    """The ServerGroup the server joins: its name and placement policy."""

    name: str
    policy: ServerGroupPolicy
    max_per_host: int | None = None
    slot: int = 0
    """The member's slot (0 <= slot < maxPerHost) in an anti-affinity group of maxPerHost > 1:
    members of one slot avoid each other's nodes, so a node holds at most maxPerHost."""

    @classmethod
    def of(cls, group: ServerGroup, slot: int = 0) -> ServerGroupDesign:
        """The design of a parsed ServerGroup."""
        return cls(group.metadata.name, group.spec.policy, group.spec.max_per_host, slot)

    @property
    def slot_label(self) -> str | None:
        """``<group>.<slot>`` when members are spread by slots (anti-affinity, maxPerHost > 1)."""
        counted = self.policy == ServerGroupPolicy.ANTI_AFFINITY and (self.max_per_host or 1) > 1
        return f"{self.name}.{self.slot}" if counted else None


@dataclass(frozen=True)
class ServerDesign:
    """Everything the server's renderers need, resolved by the reconciler."""

    namespace: str
    name: str
    uid: str
    """The VirtualServer's uid, for the ownerReferences of what it owns."""
    server: VirtualServer
    flavor: Flavor
    image: ImageDesign
    public_keys: tuple[str, ...] = ()
    """The KeyPairs' public keys, in the order of spec.keyPairs."""
    rebuild_token: str = ""
    """The rebuild.request the root disk is made for; "" for the original build."""
    server_group: ServerGroupDesign | None = None
    inline_user_data: bool = True
    """Put user data of at most ``INLINE_USER_DATA_MAX`` bytes inline in the VM; False keeps
    it in the ``<server>-cloud-init`` Secret whatever its size."""
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    """More labels for the VM and its template (never overriding the operator's)."""

    @property
    def image_ref(self) -> str:
        """The server's Image as ``<namespace>/<name>``."""
        return f"{self.server.image_namespace or self.namespace}/{self.server.spec.image.name}"

    @property
    def root_data_volume(self) -> str:
        return root_data_volume_name(self.name, self.rebuild_token)

    @property
    def cloud_init_secret(self) -> str:
        return cloud_init_secret_name(self.name)

    @property
    def network(self) -> Network:
        """The server's one network (the pod network), with its ports."""
        networks = self.server.spec.networks
        return networks[0] if networks else Network(name=DEFAULT_NETWORK)

    @property
    def ports(self) -> tuple[Port, ...]:
        return self.network.ports

    def selector(self) -> dict[str, str]:
        """What selects the server's virt-launcher pod (KubeVirt copies template labels)."""
        return {SERVER_LABEL: self.name}

    def labels(self) -> dict[str, str]:
        """The labels of the VM and its template (so of the VMI and the launcher pod)."""
        labels = {**self.extra_labels, MANAGED_BY_LABEL: MANAGED_BY, SERVER_LABEL: self.name}
        if self.server_group is not None:
            labels[SERVER_GROUP_LABEL] = self.server_group.name
            if self.server_group.slot_label is not None:
                labels[SERVER_GROUP_SLOT_LABEL] = self.server_group.slot_label
        return labels

    def annotations(self) -> dict[str, str]:
        """What the VM (and the VMI) was rendered from: flavor, image, rebuild token."""
        annotations = {
            FLAVOR_ANNOTATION: self.flavor.metadata.name,
            IMAGE_ANNOTATION: self.image_ref,
        }
        if self.rebuild_token:
            annotations[REBUILD_ANNOTATION] = self.rebuild_token
        return annotations
