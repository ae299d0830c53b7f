"""Names, label keys and annotation keys of what a VirtualServer becomes (pure constants).

Every name is derived from the server's name, never random, so a retry finds what an earlier
attempt made. The labels split in two on purpose:

- ``SERVER_LABEL`` (and ``SERVER_GROUP_LABEL``) go on the VirtualMachine and its template, so
  KubeVirt copies them to the VirtualMachineInstance and to the virt-launcher pod: the Service
  and the server group's pod (anti-)affinity select launcher pods by them.
- ``DISK_OF_LABEL`` and ``DISK_LABEL`` go on the DataVolumes instead: a DataVolume's labels can
  reach CDI's importer pod, which must never be selected as the server.
"""

from __future__ import annotations

import hashlib

from nimbus_operator.constants import COMPUTE_GROUP

KUBEVIRT_API_VERSION = "kubevirt.io/v1"
CDI_API_VERSION = "cdi.kubevirt.io/v1beta1"

SERVER_LABEL = f"{COMPUTE_GROUP}/server"
"""On the VM, its template (so the VMI and the launcher pod) and the Service: the server."""
SERVER_GROUP_LABEL = f"{COMPUTE_GROUP}/server-group"
SERVER_GROUP_SLOT_LABEL = f"{COMPUTE_GROUP}/server-group-slot"
"""``<group>.<k>``: a member's slot in an anti-affinity group of maxPerHost N (k < N)."""
"""On the VM and its template when the server is in a ServerGroup: the group's name."""
DISK_OF_LABEL = f"{COMPUTE_GROUP}/disk-of"
"""On each DataVolume the server owns: the server's name."""
DISK_LABEL = f"{COMPUTE_GROUP}/disk"
"""On each DataVolume the server owns: the disk's name (``rootdisk`` or the volume's)."""

FLAVOR_ANNOTATION = f"{COMPUTE_GROUP}/flavor"
"""On the VM and its template (so the VMI): the Flavor it was rendered with."""
IMAGE_ANNOTATION = f"{COMPUTE_GROUP}/image"
"""On the VM and its template: the Image of the root disk, as ``<namespace>/<name>``."""
REBUILD_ANNOTATION = f"{COMPUTE_GROUP}/rebuild"
"""On the VM and its template: the rebuild token the root disk was made for (absent before
the first rebuild)."""

ROOT_DISK = "rootdisk"
CLOUD_INIT_DISK = "cloudinitdisk"
"""The disks the operator adds; ``serverparts.RESERVED_VOLUME_NAMES`` keeps users off them."""
USER_DATA_KEY = "userdata"
"""The key of the cloud-init Secret KubeVirt's ``cloudInitNoCloud.secretRef`` reads."""
INLINE_USER_DATA_MAX = 2048
"""KubeVirt's limit on inline ``cloudInitNoCloud.userData``, in bytes (its webhook rejects
more): larger user data goes through a Secret."""
TOKEN_HASH_LENGTH = 8


def token_suffix(token: str) -> str:
    """A short, stable hash of a rebuild token, fit for an object name (8 hex digits)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:TOKEN_HASH_LENGTH]


def root_data_volume_name(server: str, rebuild_token: str = "") -> str:
    """The root disk's DataVolume: ``<server>-rootdisk``, then ``<server>-rootdisk-<hash>``
    for each rebuild, so every rebuild gets a new, empty disk under a new name.

    ``rootdisk`` is a reserved volume name, so no extra volume's ``<server>-<volume>`` can
    take the first name."""
    base = f"{server}-{ROOT_DISK}"
    return f"{base}-{token_suffix(rebuild_token)}" if rebuild_token else base


root_disk_name = root_data_volume_name
"""Another name of `root_data_volume_name`."""


def volume_data_volume_name(server: str, volume: str) -> str:
    """A new extra disk's DataVolume (and so its PersistentVolumeClaim): ``<server>-<volume>``."""
    return f"{server}-{volume}"


def cloud_init_secret_name(server: str) -> str:
    """The Secret holding user data too large to be inline: ``<server>-cloud-init``."""
    return f"{server}-cloud-init"
