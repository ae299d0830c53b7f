"""The operator's defaults are the API server's: parse a body, or default it with the CRD,
and the spec is the same; and what the models dump parses back to the same model."""

from __future__ import annotations

import copy

import pytest
from nimbus_operator.models.kind import ResourceKind

from tests.unit.operator.crdtools import KINDS, apply_defaults, root_schema
from tests.unit.operator.samples import SAMPLES, Body

CASES = [
    pytest.param(kind, sample, id=f"{kind.kind}-{name}")
    for kind in KINDS
    for name, sample in SAMPLES[kind.kind].items()
]


@pytest.mark.parametrize(("kind", "sample"), CASES)
def test_parser_defaults_equal_api_server_defaults(kind: ResourceKind, sample: Body) -> None:
    defaulted = apply_defaults(root_schema(kind), sample)
    assert kind.spec.from_body(sample).to_body() == defaulted["spec"]


@pytest.mark.parametrize(("kind", "sample"), CASES)
def test_spec_round_trips(kind: ResourceKind, sample: Body) -> None:
    spec = kind.spec.from_body(sample)
    again = kind.spec.from_body({"spec": spec.to_body()})
    assert again == spec
    assert again.to_body() == spec.to_body()


@pytest.mark.parametrize(("kind", "sample"), CASES)
def test_parsing_leaves_the_body_alone(kind: ResourceKind, sample: Body) -> None:
    before = copy.deepcopy(sample)
    kind.spec.from_body(sample)
    assert sample == before


@pytest.mark.parametrize(("kind", "sample"), CASES)
def test_an_unchanged_spec_passes_the_update_rules(kind: ResourceKind, sample: Body) -> None:
    defaulted = apply_defaults(root_schema(kind), sample)
    kind.spec.check_update(defaulted, copy.deepcopy(defaulted))
