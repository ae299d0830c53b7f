"""StoragePolicy: a durability and placement class (Swift's storage policy), cluster-wide."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Self

from nimbus_operator.models.common import (
    Condition,
    ObjectMeta,
    conditions_field,
    immutable_field,
    observed_generation_field,
    phase_field,
)
from nimbus_operator.models.kind import PrinterColumn, ResourceKind, Scope
from nimbus_operator.models.schema import (
    AnyRule,
    Boolean,
    Choice,
    Integer,
    Object,
    Rule,
    SpecModel,
    StatusModel,
    String,
    model,
    prop,
)

MAX_REPLICAS = 10
MAX_DATA_FRAGMENTS = 32
MAX_PARITY_FRAGMENTS = 16
MAX_FRAGMENTS = 32
"""liberasurecode (behind pyeclib) handles at most 32 fragments per object."""


class FailureDomain(StrEnum):
    """What the copies or fragments of one object must not share."""

    ZONE = "zone"
    NODE = "node"


class StoragePolicyPhase(StrEnum):
    """A one-word summary of a StoragePolicy's state."""

    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"
    DELETING = "Deleting"


@model
class ErasureCoding:
    """Erasure coding: each object is cut into data fragments plus parity fragments, and any
    ``data`` of them rebuild it. data + parity is at most 32."""

    RULES: ClassVar[tuple[AnyRule, ...]] = (
        Rule(
            f"self.data + self.parity <= {MAX_FRAGMENTS}",
            f"data + parity must be at most {MAX_FRAGMENTS} fragments",
            lambda ec: ec["data"] + ec["parity"] <= MAX_FRAGMENTS,
        ),
    )

    data: int = prop(
        "How many data fragments an object is cut into (1 to 32). Any this many fragments "
        "rebuild the object.",
        Integer(minimum=1, maximum=MAX_DATA_FRAGMENTS),
    )
    parity: int = prop(
        "How many parity fragments are added (1 to 16): the number of fragments that can be "
        "lost without losing the object. data + parity must be at most 32.",
        Integer(minimum=1, maximum=MAX_PARITY_FRAGMENTS),
    )


@model
class StoragePolicySpec(SpecModel):
    """How objects are kept: whole copies or erasure-coded fragments, and where."""

    RULES: ClassVar[tuple[AnyRule, ...]] = (
        Rule(
            "has(self.replicas) != has(self.erasureCoding)",
            "set exactly one of replicas and erasureCoding",
            lambda spec: ("replicas" in spec) != ("erasureCoding" in spec),
        ),
        immutable_field("replicas"),
        immutable_field("erasureCoding"),
    )

    replicas: int | None = prop(
        "Keep this many whole copies of every object (1 to 10), on distinct failure domains "
        "while there are enough. Set either replicas or erasureCoding; neither can change "
        "after creation.",
        Integer(minimum=1, maximum=MAX_REPLICAS),
        default=None,
    )
    erasure_coding: ErasureCoding | None = prop(
        "Keep every object as erasure-coded fragments instead of copies: less space than "
        "replicas for the same number of losses survived, at more CPU and more nodes "
        "(data + parity of them). Set either replicas or erasureCoding; neither can change "
        "after creation.",
        Object(model=ErasureCoding),
        default=None,
    )
    failure_domain: FailureDomain = prop(
        "What the copies or fragments of one object must not share: zone (distinct "
        "topology.kubernetes.io/zone values, then distinct nodes) or node (distinct storage "
        "nodes only).",
        Choice(enum=FailureDomain),
        default=FailureDomain.ZONE,
    )
    default: bool = prop(
        "Use this policy for Buckets that name no storagePolicy. Mark at most one policy as "
        "the default.",
        Boolean(),
        default=False,
    )

    @property
    def durability(self) -> str:
        """A short description for people: ``3 replicas`` or ``EC 4+2``."""
        if self.erasure_coding is not None:
            return f"EC {self.erasure_coding.data}+{self.erasure_coding.parity}"
        copies = self.replicas or 0
        return f"{copies} replica" if copies == 1 else f"{copies} replicas"


@model
class StoragePolicyStatus(StatusModel):
    """What the operator last observed of a StoragePolicy."""

    observed_generation: int | None = observed_generation_field()
    phase: StoragePolicyPhase | None = phase_field(
        StoragePolicyPhase, "A one-word summary: Pending, Ready, Failed or Deleting."
    )
    conditions: tuple[Condition, ...] = conditions_field()
    durability: str | None = prop(
        "The durability in words, e.g. 3 replicas or EC 4+2.", String(max_length=64), default=None
    )
    in_use_by: int | None = prop(
        "How many Buckets use this policy.", Integer(minimum=0), default=None
    )


@dataclass(frozen=True, slots=True)
class StoragePolicy:
    """A StoragePolicy as the operator sees it: its metadata and its parsed spec."""

    metadata: ObjectMeta
    spec: StoragePolicySpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a whole custom-resource body; raises `SpecError` for a bad spec."""
        return cls(ObjectMeta.from_body(body), StoragePolicySpec.from_body(body))


STORAGE_POLICY = ResourceKind(
    kind="StoragePolicy",
    plural="storagepolicies",
    short_names=("sp",),
    scope=Scope.CLUSTER,
    description=(
        "StoragePolicy is a durability and placement class for objects, as Swift's storage "
        "policies are: whole copies or erasure-coded fragments, spread over zones or nodes. "
        "Each ObjectStore builds one ring per policy; a Bucket picks its policy at creation."
    ),
    spec=StoragePolicySpec,
    status=StoragePolicyStatus,
    printer_columns=(
        PrinterColumn("Durability", ".status.durability", "string", "Copies or EC fragments."),
        PrinterColumn("Default", ".spec.default", "boolean", "Used by Buckets naming no policy."),
        PrinterColumn("Phase", ".status.phase", "string", "A one-word summary of the state."),
    ),
)
