"""VirtualServer: a server (Nova's server), run as a KubeVirt VirtualMachine."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Self

from nimbus_operator.constants import COMPUTE_GROUP
from nimbus_operator.models.common import (
    Condition,
    ObjectMeta,
    conditions_field,
    immutable_field,
    object_name,
    observed_generation_field,
    phase_field,
)
from nimbus_operator.models.compute.names import COMPUTE_CATEGORIES, label_value
from nimbus_operator.models.compute.serverparts import (
    VOLUMES,
    ImageRef,
    Network,
    PowerState,
    Reboot,
    Rebuild,
    Volume,
)
from nimbus_operator.models.errors import SpecError
from nimbus_operator.models.kind import PrinterColumn, ResourceKind, Scope
from nimbus_operator.models.schema import (
    AnyRule,
    Array,
    Choice,
    DateTime,
    Integer,
    Object,
    Rule,
    SpecModel,
    StatusModel,
    String,
    TransitionRule,
    model,
    prop,
)

MAX_USER_DATA_BYTES = 65535
"""Nova's limit on a server's user data."""
MAX_KEY_PAIRS = 16
SERVER_NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"

SERVER_NAME_RULE = Rule(
    f"size(self.metadata.name) <= 63 && self.metadata.name.matches('{SERVER_NAME_PATTERN}')",
    "a VirtualServer's name must be a DNS label that starts with a letter (at most 63 "
    "lowercase letters, digits and '-'): it is the server's hostname and its Service's name",
    lambda body: (
        re.fullmatch(SERVER_NAME_PATTERN, body["metadata"]["name"]) is not None
        and len(body["metadata"]["name"]) <= 63
    ),
)


class ServerStatus(StrEnum):
    """The server's state in Nova's words."""

    BUILD = "BUILD"
    ACTIVE = "ACTIVE"
    SHUTOFF = "SHUTOFF"
    REBOOT = "REBOOT"
    HARD_REBOOT = "HARD_REBOOT"
    RESIZE = "RESIZE"
    REBUILD = "REBUILD"
    ERROR = "ERROR"


class VirtualServerPhase(StrEnum):
    """A one-word summary of a VirtualServer's state, as every kind has."""

    PENDING = "Pending"
    PROGRESSING = "Progressing"
    READY = "Ready"
    FAILED = "Failed"
    DELETING = "Deleting"


class IPFamily(StrEnum):
    """The family of an address."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"


def _image_change_rebuilds(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    if new.get("image") == old.get("image"):
        return True
    rebuild, before = new.get("rebuild"), old.get("rebuild")
    return rebuild is not None and (before is None or rebuild["request"] != before["request"])


@model
class VirtualServerSpec(SpecModel):
    """The server: its size, image, keys, user data, networks, disks and placement, and
    what to do with it (run or stop, reboot, rebuild).

    Changing flavor resizes the server (it restarts with the new size). Changing image
    needs a new rebuild.request in the same update, as rebuilding erases the root disk.
    availabilityZone and serverGroup cannot change.
    """

    RULES: ClassVar[tuple[AnyRule, ...]] = (
        TransitionRule(
            "self.image == oldSelf.image || (has(self.rebuild) && (!has(oldSelf.rebuild) "
            "|| self.rebuild.request != oldSelf.rebuild.request))",
            "image can change only with a new rebuild.request in the same update: "
            "rebuilding erases the root disk",
            _image_change_rebuilds,
        ),
        immutable_field("availabilityZone"),
        immutable_field("serverGroup"),
    )

    flavor: str = prop(
        "The Flavor (cluster-wide) that sizes the server. Changing it resizes the server: "
        "it restarts with the new vCPUs and memory, and its root disk grows (never shrinks).",
        object_name(),
    )
    image: ImageRef = prop(
        "The Image the root disk is made from. Changing it needs a new rebuild.request in "
        "the same update.",
        Object(model=ImageRef),
    )
    key_pairs: tuple[str, ...] = prop(
        "KeyPairs of the server's namespace whose keys go into the default user's "
        "authorized_keys (at most 16).",
        Array(items=object_name(), max_items=MAX_KEY_PAIRS, list_type="set"),
        default=(),
    )
    user_data: str | None = prop(
        "cloud-init user data (#cloud-config, a script, or a multipart archive), at most "
        "65535 bytes as in Nova. With the key pairs' keys and the hostname merged in, up to "
        "2048 bytes go inline in the VirtualMachine (KubeVirt's limit); more go into a "
        "Secret <server>-cloud-init that the server's cloud-init disk reads.",
        String(
            max_length=MAX_USER_DATA_BYTES,
            rules=(
                Rule(
                    f"size(bytes(self)) <= {MAX_USER_DATA_BYTES}",
                    f"userData must be at most {MAX_USER_DATA_BYTES} bytes in UTF-8 (Nova's "
                    "limit): move large files out of it, e.g. fetch them from a Bucket",
                    lambda text: len(text.encode("utf-8")) <= MAX_USER_DATA_BYTES,
                ),
            ),
        ),
        default=None,
    )
    networks: tuple[Network, ...] = prop(
        "The networks the server is attached to. Only the pod network exists for now, so "
        "at most one entry; unset means the pod network with no exposed ports.",
        Array(items=Object(model=Network), max_items=1, list_type="map", map_keys=("name",)),
        default=(),
    )
    volumes: tuple[Volume, ...] = prop(
        "Extra disks (at most 16), each a new empty volume or an existing "
        "PersistentVolumeClaim. Disks may be added and removed while the server runs.",
        VOLUMES,
        default=(),
    )
    availability_zone: str | None = prop(
        "Run the server in this zone (a topology.kubernetes.io/zone value of the nodes); "
        "unset means any zone. Cannot be added, changed or removed after creation.",
        label_value(),
        default=None,
    )
    server_group: str | None = prop(
        "The ServerGroup of the server's namespace to join; its policy places the server. "
        "Cannot be added, changed or removed after creation, as in Nova.",
        object_name(),
        default=None,
    )
    power_state: PowerState = prop(
        "Running starts the server and keeps it running (restarting it if it stops); "
        "Stopped shuts it down and keeps it off. Its disks are kept either way.",
        Choice(enum=PowerState),
        default=PowerState.RUNNING,
    )
    reboot: Reboot | None = prop(
        "Ask for a reboot by setting a new reboot.request.", Object(model=Reboot), default=None
    )
    rebuild: Rebuild | None = prop(
        "Ask for a rebuild by setting a new rebuild.request.", Object(model=Rebuild), default=None
    )


@model
class Fault:
    """Why the server is in ERROR, as Nova's fault."""

    message: str = prop("What went wrong and what to do about it.", String(max_length=4096))
    code: int | None = prop(
        "An HTTP-style code, as Nova's: 500 for a failure of the cloud, 400 for a request "
        "it cannot do.",
        Integer(minimum=100, maximum=599),
        default=None,
    )
    created: str | None = prop("When the fault happened.", DateTime(), default=None)


@model
class Address:
    """An address of the server on one network."""

    network: str = prop("The network's name.", String(max_length=63))
    ip: str = prop("The address.", String(max_length=45))
    family: IPFamily | None = prop("IPv4 or IPv6.", Choice(enum=IPFamily), default=None)


@model
class VirtualServerStatus(StatusModel):
    """What the operator last observed of a VirtualServer and its KubeVirt VirtualMachine."""

    observed_generation: int | None = observed_generation_field()
    phase: VirtualServerPhase | None = phase_field(
        VirtualServerPhase,
        "A one-word summary: Pending, Progressing, Ready, Failed or Deleting.",
    )
    conditions: tuple[Condition, ...] = conditions_field()
    status: ServerStatus | None = prop(
        "The server's state in Nova's words: BUILD, ACTIVE, SHUTOFF, REBOOT, HARD_REBOOT, "
        "RESIZE, REBUILD or ERROR.",
        Choice(enum=ServerStatus),
        default=None,
    )
    fault: Fault | None = prop("Why the server is in ERROR.", Object(model=Fault), default=None)
    ip: str | None = prop(
        "The server's address on its first network.", String(max_length=45), default=None
    )
    addresses: tuple[Address, ...] = prop(
        "Every address of the server, by network.",
        Array(items=Object(model=Address), max_items=16),
        default=(),
    )
    node: str | None = prop(
        "The Kubernetes node the server runs on.", String(max_length=253), default=None
    )
    zone: str | None = prop(
        "The zone of that node (its topology.kubernetes.io/zone label).",
        String(max_length=63),
        default=None,
    )
    flavor: str | None = prop(
        "The Flavor the running server was built or last resized with.",
        String(max_length=253),
        default=None,
    )
    image: str | None = prop(
        "The Image the root disk was made from, as <namespace>/<name>.",
        String(max_length=317),
        default=None,
    )
    power_state: PowerState | None = prop(
        "Whether the server is running or stopped now.", Choice(enum=PowerState), default=None
    )
    vm_status: str | None = prop(
        "The KubeVirt VirtualMachine's printableStatus (Running, Stopped, Starting, "
        "ErrorUnschedulable, ...).",
        String(max_length=64),
        default=None,
    )
    last_reboot_request: str | None = prop(
        "The reboot.request last acted on.", String(max_length=253), default=None
    )
    last_rebuild_request: str | None = prop(
        "The rebuild.request last acted on.", String(max_length=253), default=None
    )
    launched_at: str | None = prop("When the server last started.", DateTime(), default=None)
    task_state: str | None = prop(
        "What the operator is doing to the server, as Nova's task_state: rebooting, "
        "rebooting_hard, resize_migrating or rebuilding (none when idle).",
        String(max_length=32),
        default=None,
    )
    task_instance: str | None = prop(
        "The UID of the VirtualMachineInstance the running task replaces: the task is done "
        "once another one runs.",
        String(max_length=64),
        default=None,
    )


@dataclass(frozen=True, slots=True)
class VirtualServer:
    """A VirtualServer as the operator sees it: its metadata and its parsed spec."""

    metadata: ObjectMeta
    spec: VirtualServerSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a whole custom-resource body; raises `SpecError` for a bad name or spec."""
        metadata = ObjectMeta.from_body(body)
        if not SERVER_NAME_RULE.check({"metadata": {"name": metadata.name}}):
            message = f"{SERVER_NAME_RULE.message} (got {metadata.name!r})"
            raise SpecError("name", message, root="metadata")
        return cls(metadata, VirtualServerSpec.from_body(body))

    @property
    def image_namespace(self) -> str:
        """The namespace of the server's Image."""
        return self.spec.image.namespace or self.metadata.namespace or ""


VIRTUAL_SERVER = ResourceKind(
    kind="VirtualServer",
    plural="virtualservers",
    short_names=("vsrv",),
    scope=Scope.NAMESPACED,
    description=(
        "VirtualServer is a virtual server, as Nova's servers are: a Flavor's size, an "
        "Image's root disk, KeyPairs and user data for cloud-init, the pod network with "
        "the ports to expose, extra disks, a zone and a ServerGroup. The operator runs it "
        "as a KubeVirt VirtualMachine and reports its state in Nova's words."
    ),
    spec=VirtualServerSpec,
    status=VirtualServerStatus,
    printer_columns=(
        PrinterColumn("Status", ".status.status", "string", "The state in Nova's words."),
        PrinterColumn("Flavor", ".spec.flavor", "string", "The Flavor."),
        PrinterColumn("Image", ".spec.image.name", "string", "The Image."),
        PrinterColumn("IP", ".status.ip", "string", "The address on its first network."),
        PrinterColumn("Node", ".status.node", "string", "The node it runs on."),
        PrinterColumn("Zone", ".status.zone", "string", "The zone of that node."),
    ),
    group=COMPUTE_GROUP,
    categories=COMPUTE_CATEGORIES,
    root_rules=(SERVER_NAME_RULE,),
)
