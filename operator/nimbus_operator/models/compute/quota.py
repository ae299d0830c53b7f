"""ComputeQuota: how many servers, vCPUs and how much memory a namespace may use (Nova quotas)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Self

from nimbus_operator.constants import COMPUTE_GROUP
from nimbus_operator.models.common import (
    Condition,
    ObjectMeta,
    conditions_field,
    observed_generation_field,
    phase_field,
)
from nimbus_operator.models.compute.names import COMPUTE_CATEGORIES
from nimbus_operator.models.kind import PrinterColumn, ResourceKind, Scope
from nimbus_operator.models.quantity import parse_quantity
from nimbus_operator.models.schema import (
    AnyRule,
    Array,
    Integer,
    Object,
    Quantity,
    Rule,
    SpecModel,
    StatusModel,
    String,
    model,
    prop,
)

UNLIMITED = "unlimited"


class ComputeQuotaPhase(StrEnum):
    """A one-word summary of a ComputeQuota's state."""

    PENDING = "Pending"
    READY = "Ready"
    EXCEEDED = "Exceeded"
    FAILED = "Failed"


@model
class ComputeQuotaSpec(SpecModel):
    """The most the namespace's VirtualServers may use together; an unset limit is no limit.
    Servers count whether running or stopped, as in Nova. A server that would go over a
    limit is not built (it reports ERROR with a fault naming the limit); lowering a limit
    below what is used stops nothing, but no server is built or resized until usage is
    back under it."""

    RULES: ClassVar[tuple[AnyRule, ...]] = (
        Rule(
            "has(self.instances) || has(self.vcpus) || has(self.memory)",
            "set at least one of instances, vcpus and memory",
            lambda spec: any(key in spec for key in ("instances", "vcpus", "memory")),
        ),
    )

    instances: int | None = prop(
        "How many VirtualServers the namespace may have.",
        Integer(minimum=0, maximum=100000),
        default=None,
    )
    vcpus: int | None = prop(
        "How many vCPUs their flavors may add up to.",
        Integer(minimum=0, maximum=10000000),
        default=None,
    )
    memory: str | None = prop(
        "How much memory their flavors may add up to, such as 64Gi.",
        Quantity(),
        default=None,
    )

    @property
    def memory_bytes(self) -> int | None:
        """``memory`` in bytes, or None for no limit."""
        return None if self.memory is None else parse_quantity(self.memory, field_path="memory")


@model
class QuotaUsed:
    """What the namespace's VirtualServers use together."""

    instances: int = prop("How many VirtualServers there are.", Integer(minimum=0))
    vcpus: int = prop("The vCPUs of their flavors, added up.", Integer(minimum=0))
    memory: str = prop("The memory of their flavors, added up.", Quantity())


@model
class QuotaUsage:
    """Used and limit side by side, for people: 3/10, or 3/unlimited."""

    instances: str = prop("Servers used / allowed.", String(max_length=64))
    vcpus: str = prop("vCPUs used / allowed.", String(max_length=64))
    memory: str = prop("Memory used / allowed.", String(max_length=64))

    @classmethod
    def of(cls, used: QuotaUsed, spec: ComputeQuotaSpec) -> Self:
        """The usage of ``used`` against the limits of ``spec``."""
        return cls(
            instances=usage_text(used.instances, spec.instances),
            vcpus=usage_text(used.vcpus, spec.vcpus),
            memory=usage_text(used.memory, spec.memory),
        )


def usage_text(used: int | str, limit: int | str | None) -> str:
    """``3/10``; ``3/unlimited`` without a limit."""
    return f"{used}/{UNLIMITED if limit is None else limit}"


MAX_RESERVATIONS = 100000


@model
class Reservation:
    """What one VirtualServer holds of the quota (written before the server is built)."""

    server: str = prop("The VirtualServer's name.", String(max_length=253))
    uid: str = prop(
        "Its UID (a server re-created under the same name is another).", String(max_length=64)
    )
    vcpus: int = prop("The vCPUs of its flavor.", Integer(minimum=0))
    memory_bytes: int = prop(
        "The memory of its flavor, in bytes.", Integer(minimum=0, format="int64")
    )


@model
class ComputeQuotaStatus(StatusModel):
    """What the operator last counted for a ComputeQuota."""

    observed_generation: int | None = observed_generation_field()
    phase: ComputeQuotaPhase | None = phase_field(
        ComputeQuotaPhase, "A one-word summary: Pending, Ready, Exceeded or Failed."
    )
    conditions: tuple[Condition, ...] = conditions_field()
    used: QuotaUsed | None = prop(
        "What the namespace's VirtualServers use.", Object(model=QuotaUsed), default=None
    )
    usage: QuotaUsage | None = prop(
        "Used / allowed, for kubectl get.", Object(model=QuotaUsage), default=None
    )
    reservations: tuple[Reservation, ...] = prop(
        "Each server's share, written with optimistic concurrency before the server is built: "
        "of two servers racing for the last of a limit, the second write fails, re-reads and "
        "finds the limit reached.",
        Array(
            items=Object(model=Reservation),
            max_items=MAX_RESERVATIONS,
            list_type="map",
            map_keys=("server",),
        ),
        default=(),
    )


@dataclass(frozen=True, slots=True)
class ComputeQuota:
    """A ComputeQuota as the operator sees it: its metadata and its parsed spec."""

    metadata: ObjectMeta
    spec: ComputeQuotaSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a whole custom-resource body; raises `SpecError` for a bad spec."""
        return cls(ObjectMeta.from_body(body), ComputeQuotaSpec.from_body(body))


COMPUTE_QUOTA = ResourceKind(
    kind="ComputeQuota",
    plural="computequotas",
    short_names=("cquota",),
    scope=Scope.NAMESPACED,
    description=(
        "ComputeQuota limits the VirtualServers of its namespace, as Nova's project quotas "
        "do: how many servers, and how many vCPUs and how much memory their flavors add up "
        "to. Every ComputeQuota of a namespace applies. The operator checks a server "
        "against them before building or resizing it, and checks again after."
    ),
    spec=ComputeQuotaSpec,
    status=ComputeQuotaStatus,
    printer_columns=(
        PrinterColumn("Instances", ".status.usage.instances", "string", "Servers used/allowed."),
        PrinterColumn("VCPUs", ".status.usage.vcpus", "string", "vCPUs used/allowed."),
        PrinterColumn("Memory", ".status.usage.memory", "string", "Memory used/allowed."),
        PrinterColumn("Phase", ".status.phase", "string", "A one-word summary of the state."),
    ),
    group=COMPUTE_GROUP,
    categories=COMPUTE_CATEGORIES,
)
