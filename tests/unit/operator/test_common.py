"""SpecError, conditions, object metadata and status helpers."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest
from nimbus_operator.models.common import (
    Condition,
    ConditionStatus,
    ConditionType,
    ObjectMeta,
    SpecError,
    find_condition,
    format_time,
    set_condition,
    status_dict,
)
from nimbus_operator.models.objectstore import ObjectStorePhase, ObjectStoreStatus

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_spec_error_reads_as_a_sentence_with_the_path() -> None:
    error = SpecError("nodes.count", "must be at least 1 (got 0)")
    assert str(error) == "spec.nodes.count: must be at least 1 (got 0)"
    assert error.path == "spec.nodes.count"
    assert (error.field_path, error.message) == ("nodes.count", "must be at least 1 (got 0)")
    assert isinstance(error, ValueError)
    assert str(SpecError("", "set exactly one of replicas and erasureCoding")) == (
        "spec: set exactly one of replicas and erasureCoding"
    )
    assert str(SpecError("phase", "bad", root="status")) == "status.phase: bad"


def test_spec_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(SpecError("a.b", "is required")))
    assert (str(error), error.field_path) == ("spec.a.b: is required", "a.b")


def test_format_time() -> None:
    assert format_time(T0) == "2024-05-01T12:00:00Z"
    assert format_time(datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))) == (
        "2024-05-01T12:00:00Z"
    )
    assert format_time(datetime(2024, 5, 1, 12, 0, 0, 999)) == "2024-05-01T12:00:00Z"


def test_set_condition_adds_then_keeps_the_transition_time_while_status_holds() -> None:
    conditions = set_condition((), "Ready", False, "NodesNotReady", "1/3 ready", now=T0)
    (ready,) = conditions
    assert ready.status is ConditionStatus.FALSE
    assert ready.last_transition_time == "2024-05-01T12:00:00Z"

    later = T0 + timedelta(minutes=5)
    conditions = set_condition(
        conditions, "Ready", False, "NodesNotReady", "2/3 ready", observed_generation=4, now=later
    )
    (ready,) = conditions
    assert ready.message == "2/3 ready"
    assert ready.observed_generation == 4
    assert ready.last_transition_time == "2024-05-01T12:00:00Z"

    conditions = set_condition(conditions, "Ready", True, "AllNodesReady", "3/3 ready", now=later)
    assert conditions[0].last_transition_time == "2024-05-01T12:05:00Z"
    assert conditions[0].status is ConditionStatus.TRUE


def test_set_condition_keeps_the_others_in_place() -> None:
    conditions = set_condition((), ConditionType.READY, True, "Ready", "ok", now=T0)
    conditions = set_condition(conditions, ConditionType.DEGRADED, False, "Healthy", "ok", now=T0)
    conditions = set_condition(conditions, ConditionType.READY, False, "Broken", "no", now=T0)
    assert [c.type for c in conditions] == ["Ready", "Degraded"]
    degraded = find_condition(conditions, "Degraded")
    assert degraded is not None
    assert degraded.reason == "Healthy"
    assert find_condition(conditions, "Progressing") is None


@pytest.mark.parametrize("reason", ["", "not camel", "Has-Dash", "1Leading"])
def test_conditions_refuse_reasons_the_api_server_would(reason: str) -> None:
    with pytest.raises(ValueError, match="CamelCase"):
        Condition(
            type="Ready",
            status=ConditionStatus.TRUE,
            reason=reason,
            message="m",
            last_transition_time="2024-05-01T12:00:00Z",
        )


def test_status_dict_is_a_patch_body() -> None:
    conditions = set_condition((), "Ready", True, "StoreReady", "Serving S3.", now=T0)
    status = ObjectStoreStatus(
        observed_generation=7, phase=ObjectStorePhase.READY, conditions=conditions
    )
    assert status_dict(status) == {
        "observedGeneration": 7,
        "phase": "Ready",
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "StoreReady",
                "message": "Serving S3.",
                "lastTransitionTime": "2024-05-01T12:00:00Z",
            }
        ],
    }
    assert status_dict(ObjectStoreStatus()) == {"conditions": []}


def test_object_meta() -> None:
    meta = ObjectMeta.from_body(
        {
            "metadata": {
                "name": "store",
                "namespace": "apps",
                "uid": "abc",
                "generation": 3,
                "labels": {"a": "b"},
                "annotations": {"c": "d"},
                "deletionTimestamp": "2024-05-01T12:00:00Z",
            }
        }
    )
    assert meta == ObjectMeta(
        name="store",
        namespace="apps",
        uid="abc",
        generation=3,
        labels={"a": "b"},
        annotations={"c": "d"},
        deleting=True,
    )
    assert ObjectMeta.from_body({"metadata": {"name": "policy"}}).namespace is None
    with pytest.raises(SpecError, match=r"^metadata.name: is required"):
        ObjectMeta.from_body({})
