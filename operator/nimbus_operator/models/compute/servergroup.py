"""ServerGroup: servers kept together on one node or apart (Nova's server groups)."""

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
    immutable,
    immutable_field,
    object_name,
    observed_generation_field,
    phase_field,
)
from nimbus_operator.models.compute.names import COMPUTE_CATEGORIES
from nimbus_operator.models.kind import PrinterColumn, ResourceKind, Scope
from nimbus_operator.models.schema import (
    AnyRule,
    Array,
    Choice,
    Integer,
    Rule,
    SpecModel,
    StatusModel,
    model,
    prop,
)

MAX_MEMBERS = 1000


class ServerGroupPolicy(StrEnum):
    """How the servers of a group are placed, with Nova's names."""

    AFFINITY = "affinity"
    ANTI_AFFINITY = "anti-affinity"
    SOFT_AFFINITY = "soft-affinity"
    SOFT_ANTI_AFFINITY = "soft-anti-affinity"


class ServerGroupPhase(StrEnum):
    """A one-word summary of a ServerGroup's state."""

    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"


@model
class ServerGroupSpec(SpecModel):
    """The placement policy of the group's servers. Neither field can change, as in Nova."""

    RULES: ClassVar[tuple[AnyRule, ...]] = (
        Rule(
            "!has(self.maxPerHost) || self.policy == 'anti-affinity'",
            "maxPerHost is allowed only with policy anti-affinity (as in Nova)",
            lambda spec: "maxPerHost" not in spec or spec.get("policy") == "anti-affinity",
        ),
        immutable_field("maxPerHost"),
    )

    policy: ServerGroupPolicy = prop(
        "affinity: every server on the same node; anti-affinity: each on a different node "
        "(or at most maxPerHost per node); soft-affinity and soft-anti-affinity: the same, "
        "as a preference the scheduler may break when it must. Cannot change.",
        Choice(
            enum=ServerGroupPolicy,
            rules=(immutable("policy cannot change: create another ServerGroup"),),
        ),
    )
    max_per_host: int | None = prop(
        "With policy anti-affinity only: how many of the group's servers may share a node "
        "(Nova's max_server_per_host); unset means 1. Cannot change.",
        Integer(minimum=1, maximum=MAX_MEMBERS),
        default=None,
    )


@model
class ServerGroupStatus(StatusModel):
    """What the operator last observed of a ServerGroup."""

    observed_generation: int | None = observed_generation_field()
    phase: ServerGroupPhase | None = phase_field(
        ServerGroupPhase, "A one-word summary: Pending, Ready or Failed."
    )
    conditions: tuple[Condition, ...] = conditions_field()
    members: tuple[str, ...] = prop(
        "The VirtualServers in the group, by name.",
        Array(items=object_name(), max_items=MAX_MEMBERS, list_type="set"),
        default=(),
    )
    member_count: int | None = prop(
        "How many VirtualServers are in the group.", Integer(minimum=0), default=None
    )


@dataclass(frozen=True, slots=True)
class ServerGroup:
    """A ServerGroup as the operator sees it: its metadata and its parsed spec."""

    metadata: ObjectMeta
    spec: ServerGroupSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a whole custom-resource body; raises `SpecError` for a bad spec."""
        return cls(ObjectMeta.from_body(body), ServerGroupSpec.from_body(body))


SERVER_GROUP = ResourceKind(
    kind="ServerGroup",
    plural="servergroups",
    short_names=("sgroup",),
    scope=Scope.NAMESPACED,
    description=(
        "ServerGroup keeps VirtualServers of its namespace together on one node or apart "
        "on different nodes, as Nova's server groups do: a server joins with "
        "spec.serverGroup, and the operator gives it the pod affinity or anti-affinity "
        "the policy asks for."
    ),
    spec=ServerGroupSpec,
    status=ServerGroupStatus,
    printer_columns=(
        PrinterColumn("Policy", ".spec.policy", "string", "The placement policy."),
        PrinterColumn("Members", ".status.memberCount", "integer", "Servers in the group."),
    ),
    group=COMPUTE_GROUP,
    categories=COMPUTE_CATEGORIES,
)
