"""Flavor: a server size (Nova's flavor, KubeVirt's instancetype), cluster-wide."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from nimbus_operator.constants import COMPUTE_GROUP
from nimbus_operator.models.common import (
    Condition,
    ObjectMeta,
    conditions_field,
    immutable,
    observed_generation_field,
    phase_field,
)
from nimbus_operator.models.compute.names import (
    COMPUTE_CATEGORIES,
    LABEL_KEYS_RULE,
    dns_label,
    label_value,
    resource_name,
)
from nimbus_operator.models.errors import SpecError
from nimbus_operator.models.kind import PrinterColumn, ResourceKind, Scope
from nimbus_operator.models.quantity import parse_quantity
from nimbus_operator.models.schema import (
    Array,
    Boolean,
    Choice,
    Integer,
    Object,
    Quantity,
    SpecModel,
    StatusModel,
    StringMap,
    model,
    prop,
)

MAX_VCPUS = 512
MIN_MEMORY = 64 * 2**20
"""The least memory a server can boot with."""
MAX_DEVICES = 8


class HugepageSize(StrEnum):
    """The page size of hugepages backing a server's memory."""

    SIZE_2MI = "2Mi"
    SIZE_1GI = "1Gi"

    @property
    def bytes(self) -> int:
        """The page size in bytes."""
        return parse_quantity(self.value)


class FlavorPhase(StrEnum):
    """A one-word summary of a Flavor's state."""

    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"
    DELETING = "Deleting"


@model
class Hugepages:
    """Back the server's memory with hugepages of one size (Nova's hw:mem_page_size)."""

    page_size: HugepageSize = prop(
        "The page size: 2Mi or 1Gi. The nodes must have hugepages of this size "
        "pre-allocated, and memory must be a whole number of pages.",
        Choice(enum=HugepageSize),
    )


@model
class Device:
    """A device passed through to the server, as a device plugin advertises it."""

    name: str = prop(
        "The device's name inside the server's definition (a DNS label, unique per flavor).",
        dns_label(),
    )
    device_name: str = prop(
        "The resource name the device plugin advertises on the nodes, such as "
        "nvidia.com/TU104GL_Tesla_T4; it must be permitted in KubeVirt's configuration.",
        resource_name(),
    )


def _devices(what: str) -> Array:
    return Array(
        items=Object(model=Device, description=f"One {what}."),
        max_items=MAX_DEVICES,
        list_type="map",
        map_keys=("name",),
    )


@model
class ExtraSpecs:
    """What a flavor asks of the node beyond CPU, memory and disk (Nova's extra specs)."""

    dedicated_cpus: bool = prop(
        "Pin each vCPU to a host CPU of its own (Nova's hw:cpu_policy=dedicated, KubeVirt's "
        "dedicatedCpuPlacement). Needs nodes with the CPU manager's static policy.",
        Boolean(),
        default=False,
    )
    hugepages: Hugepages | None = prop(
        "Back the memory with hugepages; unset means ordinary pages.",
        Object(model=Hugepages),
        default=None,
    )
    gpus: tuple[Device, ...] = prop(
        "GPUs passed through to the server (at most 8), each by its device plugin's resource name.",
        _devices("GPU"),
        default=(),
    )
    host_devices: tuple[Device, ...] = prop(
        "Other host devices (PCI or mediated) passed through to the server (at most 8).",
        _devices("host device"),
        default=(),
    )
    node_selector: Mapping[str, str] | None = prop(
        "Run servers of this flavor only on nodes with all these labels (at most 16), e.g. "
        "{node.kubernetes.io/instance-type: metal}.",
        StringMap(values=label_value(), max_properties=16, rules=(LABEL_KEYS_RULE,)),
        default=None,
    )


def _resize_hint(field: str) -> str:
    return f"{field} cannot change: create another Flavor and resize servers to it"


@model
class FlavorSpec(SpecModel):
    """The size of a server: vCPUs, memory, root disk and what it needs of its node.

    vcpus, memory and rootDisk cannot change, as in Nova: create another Flavor and point
    servers at it to resize them.
    """

    vcpus: int = prop(
        "How many virtual CPUs (1 to 512). Cannot change.",
        Integer(
            minimum=1,
            maximum=MAX_VCPUS,
            rules=(immutable(_resize_hint("vcpus")),),
        ),
    )
    memory: str = prop(
        "The server's memory, as a quantity such as 2Gi (at least 64Mi). Cannot change.",
        Quantity(min_bytes=1, rules=(immutable(_resize_hint("memory")),)),
    )
    root_disk: str = prop(
        "The size of the root disk a server gets from its Image, such as 20Gi; an Image "
        "with a larger minDisk cannot boot with this flavor. Servers booting a "
        "containerDisk image get an ephemeral root disk of the image's own size instead. "
        "Cannot change.",
        Quantity(min_bytes=1, rules=(immutable(_resize_hint("rootDisk")),)),
    )
    extra_specs: ExtraSpecs = prop(
        "Placement and hardware needs: dedicated CPUs, hugepages, GPUs, host devices and "
        "a node selector.",
        Object(model=ExtraSpecs),
        default_factory=ExtraSpecs,
    )

    def __post_init__(self) -> None:
        if self.memory_bytes < MIN_MEMORY:
            raise SpecError("memory", f"must be at least 64Mi (got {self.memory!r})")
        hugepages = self.extra_specs.hugepages
        if hugepages is not None and self.memory_bytes % hugepages.page_size.bytes:
            raise SpecError(
                "memory",
                f"must be a whole number of {hugepages.page_size.value} hugepages "
                f"(extraSpecs.hugepages.pageSize) (got {self.memory!r})",
            )

    @property
    def memory_bytes(self) -> int:
        """``memory`` in bytes."""
        return parse_quantity(self.memory, field_path="memory")

    @property
    def root_disk_bytes(self) -> int:
        """``rootDisk`` in bytes."""
        return parse_quantity(self.root_disk, field_path="rootDisk")


@model
class FlavorStatus(StatusModel):
    """What the operator last observed of a Flavor."""

    observed_generation: int | None = observed_generation_field()
    phase: FlavorPhase | None = phase_field(
        FlavorPhase,
        "A one-word summary: Pending, Ready, Failed or Deleting (waiting for its users to go).",
    )
    conditions: tuple[Condition, ...] = conditions_field()
    servers: int | None = prop(
        "How many VirtualServers use this flavor.", Integer(minimum=0), default=None
    )


@dataclass(frozen=True, slots=True)
class Flavor:
    """A Flavor as the operator sees it: its metadata and its parsed spec."""

    metadata: ObjectMeta
    spec: FlavorSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a whole custom-resource body; raises `SpecError` for a bad spec."""
        return cls(ObjectMeta.from_body(body), FlavorSpec.from_body(body))


FLAVOR = ResourceKind(
    kind="Flavor",
    plural="flavors",
    short_names=("flv",),
    scope=Scope.CLUSTER,
    description=(
        "Flavor is a server size, as Nova's flavors and KubeVirt's instancetypes are: "
        "vCPUs, memory and root disk, plus what the server needs of its node (dedicated "
        "CPUs, hugepages, GPUs and other devices, node labels). Cluster-wide: every "
        "namespace's VirtualServers can use it."
    ),
    spec=FlavorSpec,
    status=FlavorStatus,
    printer_columns=(
        PrinterColumn("VCPUs", ".spec.vcpus", "integer", "Virtual CPUs."),
        PrinterColumn("Memory", ".spec.memory", "string", "Memory."),
        PrinterColumn("Disk", ".spec.rootDisk", "string", "Root disk size."),
    ),
    group=COMPUTE_GROUP,
    categories=COMPUTE_CATEGORIES,
)
