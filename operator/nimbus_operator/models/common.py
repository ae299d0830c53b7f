"""What every kind shares: errors, conditions, object metadata, resources, common rules."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from nimbus_operator.models.errors import SpecError
from nimbus_operator.models.quantity import parse_duration, parse_quantity
from nimbus_operator.models.schema import (
    Array,
    Choice,
    DateTime,
    Integer,
    JsonDict,
    Object,
    Quantity,
    StatusModel,
    String,
    StringMap,
    TransitionRule,
    dump_model,
    model,
    prop,
)

__all__ = [
    "Condition",
    "ConditionStatus",
    "ConditionType",
    "ObjectMeta",
    "ResourceRequirements",
    "SpecError",
    "find_condition",
    "format_time",
    "immutable",
    "immutable_field",
    "parse_duration",
    "parse_quantity",
    "set_condition",
    "status_dict",
]

REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
"""A condition reason: CamelCase, as metav1.Condition requires."""

DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_SUBDOMAIN_HINT = (
    "must be a Kubernetes object name: lowercase letters, digits, '-' and '.', "
    "starting and ending with a letter or digit"
)


def object_name(*, description: str | None = None) -> String:
    """The schema of the name of a Kubernetes object (a DNS subdomain, at most 253 characters)."""
    return String(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN_PATTERN,
        pattern_message=DNS_SUBDOMAIN_HINT,
        description=description,
    )


def immutable(message: str) -> TransitionRule:
    """A rule on a field that must keep its value once set (it runs when old and new exist)."""
    return TransitionRule("self == oldSelf", message, lambda new, old: bool(new == old))


def immutable_field(json_name: str) -> TransitionRule:
    """A rule on an object: its optional field ``json_name`` can be neither added, changed
    nor removed after creation (a rule on the field itself would miss adding and removing)."""

    def check(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
        was, now = old.get(json_name), new.get(json_name)
        return (was is None) == (now is None) and was == now

    return TransitionRule(
        f"has(self.{json_name}) == has(oldSelf.{json_name})"
        f" && (!has(self.{json_name}) || self.{json_name} == oldSelf.{json_name})",
        f"{json_name} cannot be added, changed or removed after creation",
        check,
    )


class ConditionStatus(StrEnum):
    """Whether a condition holds."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """The condition types every kind reports."""

    READY = "Ready"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"


@model
class Condition:
    """One aspect of the resource's state (Ready, Progressing, Degraded) and why it is so."""

    type: str = prop(
        "The aspect: Ready, Progressing or Degraded.",
        String(min_length=1, max_length=316, pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9_.-]+$"),
    )
    status: ConditionStatus = prop(
        "Whether the condition holds: True, False or Unknown.", Choice(enum=ConditionStatus)
    )
    reason: str = prop(
        "Why, as one CamelCase word a program can match on (e.g. NodesNotReady).",
        String(min_length=1, max_length=1024, pattern=REASON_PATTERN),
    )
    message: str = prop(
        "Why, as a sentence for people, saying what to do when something is wrong.",
        String(max_length=32768),
    )
    last_transition_time: str = prop(
        "When the status last changed (not when the message last did).", DateTime()
    )
    observed_generation: int | None = prop(
        "The metadata.generation of the spec this condition was computed from.",
        Integer(minimum=0, format="int64"),
        default=None,
    )

    def __post_init__(self) -> None:
        if re.fullmatch(REASON_PATTERN, self.reason) is None:
            raise ValueError(f"a condition reason must be CamelCase (got {self.reason!r})")
        ConditionStatus(self.status)


def conditions_schema() -> Array:
    """The schema of ``status.conditions``: a list keyed by type, as metav1 lists are."""
    return Array(items=Object(model=Condition), max_items=16, list_type="map", map_keys=("type",))


def observed_generation_field() -> Any:
    """The ``status.observedGeneration`` field every status declares."""
    return prop(
        "The metadata.generation of the spec the operator last acted on; when it is lower "
        "than metadata.generation, the status is not yet about the latest spec.",
        Integer(minimum=0, format="int64"),
        default=None,
    )


def conditions_field() -> Any:
    """The ``status.conditions`` field every status declares."""
    return prop(
        "The latest observations: Ready, Progressing and Degraded, each with a reason and "
        "a message saying what is wrong and what to do about it.",
        conditions_schema(),
        default=(),
    )


def phase_field(phases: type[StrEnum], summary: str) -> Any:
    """The ``status.phase`` field: a one-word summary, for people (programs read conditions)."""
    return prop(summary, Choice(enum=phases), default=None)


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with seconds, as Kubernetes writes times: ``2024-05-01T12:00:00Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def find_condition(conditions: Iterable[Condition], type_: str) -> Condition | None:
    """The condition of that type, if any."""
    return next((condition for condition in conditions if condition.type == type_), None)


def set_condition(
    conditions: Sequence[Condition],
    type_: str,
    status: ConditionStatus | bool,
    reason: str,
    message: str,
    *,
    observed_generation: int | None = None,
    now: datetime | None = None,
) -> tuple[Condition, ...]:
    """The conditions with ``type_`` set; its lastTransitionTime moves only if status changes."""
    if isinstance(status, bool):
        status = ConditionStatus.TRUE if status else ConditionStatus.FALSE
    previous = find_condition(conditions, type_)
    changed = previous is None or previous.status != status
    moment = format_time(now or datetime.now(UTC))
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=moment
        if changed or previous is None
        else previous.last_transition_time,
        observed_generation=observed_generation,
    )
    if previous is None:
        return (*conditions, updated)
    return tuple(updated if condition.type == type_ else condition for condition in conditions)


def status_dict(status: StatusModel) -> JsonDict:
    """A status model as the JSON of a status patch (see `StatusModel.to_body`)."""
    return status.to_body()


@model
class ResourceRequirements:
    """CPU and memory for a pod's container, as in a Kubernetes container's resources."""

    requests: Mapping[str, str] | None = prop(
        "The resources the scheduler reserves, e.g. {cpu: 500m, memory: 1Gi}.",
        StringMap(values=Quantity(), max_properties=16),
        default=None,
    )
    limits: Mapping[str, str] | None = prop(
        "The most the container may use, e.g. {memory: 2Gi}.",
        StringMap(values=Quantity(), max_properties=16),
        default=None,
    )

    def to_body(self) -> JsonDict:
        """As a container's ``resources`` field."""
        return dump_model(self)


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """The parts of a custom resource's metadata the operator reads."""

    name: str
    namespace: str | None
    uid: str | None = None
    generation: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    deleting: bool = False
    """True once the resource has a deletionTimestamp."""

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Read ``body["metadata"]``; a body without a name raises `SpecError`."""
        metadata = body.get("metadata") or {}
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise SpecError("name", "is required", root="metadata")
        return cls(
            name=name,
            namespace=metadata.get("namespace"),
            uid=metadata.get("uid"),
            generation=int(metadata.get("generation") or 0),
            labels=dict(metadata.get("labels") or {}),
            annotations=dict(metadata.get("annotations") or {}),
            deleting=metadata.get("deletionTimestamp") is not None,
        )
