"""Pure renderers of a VirtualServer: KubeVirt objects in, Nova's words out.

``design`` (the resolved ``ServerDesign``), ``names`` (object names, labels, annotations),
``virtual_machine`` (the ``kubevirt.io/v1`` VirtualMachine), ``disks`` (disks, volumes,
DataVolume templates), ``placement`` (node selector, zone, server group), ``cloud_init``
(user data and its Secret), ``service`` (the Service of the declared ports) and
``server_status`` (the server's state from its VM, VMI and DataVolumes).
"""

from nimbus_operator.render.compute.cloud_init import (
    build_cloud_init_secret,
    cloud_init_user_data,
)
from nimbus_operator.render.compute.design import (
    ImageDesign,
    RootDiskKind,
    ServerDesign,
    ServerGroupDesign,
    root_disk_size,
)
from nimbus_operator.render.compute.names import (
    DISK_LABEL,
    DISK_OF_LABEL,
    FLAVOR_ANNOTATION,
    IMAGE_ANNOTATION,
    REBUILD_ANNOTATION,
    SERVER_GROUP_LABEL,
    SERVER_LABEL,
    cloud_init_secret_name,
    root_data_volume_name,
    root_disk_name,
    volume_data_volume_name,
)
from nimbus_operator.render.compute.server_status import (
    PendingAction,
    ServerAction,
    ServerState,
    server_state,
)
from nimbus_operator.render.compute.service import build_service
from nimbus_operator.render.compute.virtual_machine import build_virtual_machine

__all__ = [
    "DISK_LABEL",
    "DISK_OF_LABEL",
    "FLAVOR_ANNOTATION",
    "IMAGE_ANNOTATION",
    "REBUILD_ANNOTATION",
    "SERVER_GROUP_LABEL",
    "SERVER_LABEL",
    "ImageDesign",
    "PendingAction",
    "RootDiskKind",
    "ServerAction",
    "ServerDesign",
    "ServerGroupDesign",
    "ServerState",
    "build_cloud_init_secret",
    "build_service",
    "build_virtual_machine",
    "cloud_init_secret_name",
    "cloud_init_user_data",
    "root_data_volume_name",
    "root_disk_name",
    "root_disk_size",
    "server_state",
    "volume_data_volume_name",
]
