"""The CRDs' CEL rules compile, and each means what its Python twin (`Rule.check`) means.

Uses cel-python (module ``celpy``) when it is installed; it is not a project dependency, so
this module is skipped without it. Kubernetes evaluates these rules with cel-go and its
own extension libraries; the rules here only use standard CEL (has, all, exists_one,
matches, startsWith, endsWith, contains), which both implement.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from nimbus_operator.models.containers import Array, StringMap
from nimbus_operator.models.kind import ResourceKind
from nimbus_operator.models.modeling import Object, model_fields
from nimbus_operator.models.nodebase import AnyRule, Node, Rule, TransitionRule

from tests.unit.operator.compute_cel_cases import COMPUTE_EXTRA_SPECS, COMPUTE_UPDATES
from tests.unit.operator.crdtools import KINDS, apply_defaults, root_schema, schema_nodes
from tests.unit.operator.samples import SAMPLES

celpy: Any = importlib.import_module("celpy")  # cel-python: a dev dependency, untyped

KIND = {kind.kind: kind for kind in KINDS}
STORE = {"storeRef": {"name": "store"}}
CLAIM = {"bucketClaimName": "logs", "accessSecretName": "logs-creds"}

# Specs that break rules (and some that pass them narrowly), beyond the valid samples.
EXTRA_SPECS: dict[str, list[dict[str, Any]]] = {
    "StoragePolicy": [
        {},
        {"replicas": 3, "erasureCoding": {"data": 4, "parity": 2}},
        {"erasureCoding": {"data": 20, "parity": 13}},
        {"erasureCoding": {"data": 16, "parity": 16}},
    ],
    "Bucket": [
        {**STORE, "bucketName": "my..bucket"},
        {**STORE, "bucketName": "10.0.0.1"},
        {**STORE, "bucketName": "10.0.0.1a"},
        {**STORE, "bucketName": "xn--bucket"},
        {**STORE, "bucketName": "amzn-s3-demo-bucket"},
        {**STORE, "bucketName": "bucket.mrap"},
        {**STORE, "bucketName": "bucket--table-s3"},
        {**STORE, "generateBucketName": "a..b"},
        {**STORE, "generateBucketName": "sthree-logs"},
        {**STORE, "bucketName": "abc", "generateBucketName": "abc"},
        {**STORE, "lifecycle": {"rules": [{"id": "nothing"}, {"id": "x", "enabled": False}]}},
        {
            **STORE,
            "lifecycle": {"rules": [{"id": "abort", "abortIncompleteMultipartUploadDays": 1}]},
        },
    ],
    "BucketAccess": [
        {"bucketClaims": [CLAIM, {**CLAIM, "bucketClaimName": "other"}]},
        {"bucketClaims": [CLAIM, {"bucketClaimName": "other", "accessSecretName": "other"}]},
    ],
    **COMPUTE_EXTRA_SPECS,
}

# (old spec, new spec) pairs for the transition rules.
UPDATES: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {
    "ObjectStore": [({"partPower": 10}, {"partPower": 10}), ({"partPower": 10}, {"partPower": 12})],
    "StoragePolicy": [
        ({"replicas": 3}, {"replicas": 3, "default": True}),
        ({"replicas": 3}, {"replicas": 2}),
        ({"replicas": 3}, {"erasureCoding": {"data": 4, "parity": 2}}),
        ({"erasureCoding": {"data": 4, "parity": 2}}, {"erasureCoding": {"data": 4, "parity": 2}}),
        ({"erasureCoding": {"data": 4, "parity": 2}}, {"erasureCoding": {"data": 5, "parity": 2}}),
    ],
    "Bucket": [
        (STORE, STORE),
        (STORE, {"storeRef": {"name": "other"}}),
        ({**STORE, "bucketName": "abc"}, {**STORE, "bucketName": "abc"}),
        ({**STORE, "bucketName": "abc"}, {**STORE, "bucketName": "abd"}),
        ({**STORE, "bucketName": "abc"}, STORE),
        (STORE, {**STORE, "generateBucketName": "logs"}),
        ({**STORE, "generateBucketName": "logs"}, {**STORE, "generateBucketName": "logs"}),
        ({**STORE, "storagePolicy": "ec"}, {**STORE, "storagePolicy": "ec"}),
        ({**STORE, "storagePolicy": "ec"}, {**STORE, "storagePolicy": "three"}),
        ({**STORE, "versioning": "Disabled"}, {**STORE, "versioning": "Enabled"}),
        ({**STORE, "versioning": "Enabled"}, {**STORE, "versioning": "Suspended"}),
        ({**STORE, "versioning": "Enabled"}, {**STORE, "versioning": "Disabled"}),
        ({**STORE, "versioning": "Suspended"}, {**STORE, "versioning": "Disabled"}),
        ({**STORE, "versioning": "Disabled"}, {**STORE, "versioning": "Disabled"}),
    ],
    **COMPUTE_UPDATES,
}


def evaluate(expression: str, new: Any, old: Any = None) -> bool:
    environment = celpy.Environment()
    program = environment.program(environment.compile(expression))
    activation = {"self": celpy.json_to_cel(new)}
    if old is not None:
        activation["oldSelf"] = celpy.json_to_cel(old)
    result = program.evaluate(activation)
    assert isinstance(result, celpy.celtypes.BoolType), f"{expression}: {result!r}"
    return bool(result)


def children(node: Node, value: Any) -> Iterator[tuple[Node, Any]]:
    if isinstance(node, Object) and isinstance(value, Mapping):
        for field in model_fields(node.model):
            if value.get(field.json_name) is not None:
                yield field.node, value[field.json_name]
    elif isinstance(node, Array) and isinstance(value, list):
        yield from ((node.items, item) for item in value)
    elif isinstance(node, StringMap) and isinstance(value, Mapping):
        yield from ((node.values, item) for item in value.values())


def visits(node: Node, value: Any) -> Iterator[tuple[Node, Any]]:
    yield node, value
    for child, item in children(node, value):
        yield from visits(child, item)


def all_rules() -> Iterator[AnyRule]:
    def walk(node: Node) -> Iterator[AnyRule]:
        yield from node.validation_rules()
        if isinstance(node, Object):
            for field in model_fields(node.model):
                yield from walk(field.node)
        elif isinstance(node, Array):
            yield from walk(node.items)
        elif isinstance(node, StringMap):
            yield from walk(node.values)

    for kind in KINDS:
        yield from walk(Object(model=kind.spec))


def defaulted_spec(kind: ResourceKind, spec: dict[str, Any]) -> dict[str, Any]:
    defaulted: dict[str, Any] = apply_defaults(root_schema(kind), {"spec": spec})["spec"]
    return defaulted


def test_every_rule_in_the_crds_compiles() -> None:
    environment = celpy.Environment()
    expressions = [
        rule["rule"]
        for kind in KINDS
        for _, node in schema_nodes(root_schema(kind))
        for rule in node.get("x-kubernetes-validations", [])
    ]
    assert len(expressions) >= 15
    for expression in expressions:
        environment.compile(expression)


def test_each_rule_agrees_with_its_python_twin() -> None:
    outcomes: dict[str, set[bool]] = {}
    for kind_name, samples in SAMPLES.items():
        kind = KIND[kind_name]
        specs = [sample.get("spec", {}) for sample in samples.values()]
        for spec in [*specs, *EXTRA_SPECS.get(kind_name, [])]:
            value = defaulted_spec(kind, spec)
            for node, item in visits(Object(model=kind.spec), value):
                for rule in node.validation_rules():
                    if isinstance(rule, Rule):
                        expected = evaluate(rule.expression, item)
                        assert rule.check(item) == expected, (rule.expression, item)
                        outcomes.setdefault(rule.expression, set()).add(expected)
    rules = {rule.expression for rule in all_rules() if isinstance(rule, Rule)}
    assert set(outcomes) == rules, "a rule no sample reaches"
    one_sided = {expression for expression, seen in outcomes.items() if seen != {True, False}}
    assert not one_sided, f"rules never seen both passing and failing: {one_sided}"


def paired_visits(node: Node, old: Any, new: Any) -> Iterator[tuple[Node, Any, Any]]:
    yield node, old, new
    if isinstance(node, Object) and isinstance(old, Mapping) and isinstance(new, Mapping):
        for field in model_fields(node.model):
            if old.get(field.json_name) is not None and new.get(field.json_name) is not None:
                yield from paired_visits(field.node, old[field.json_name], new[field.json_name])


def test_each_transition_rule_agrees_with_its_python_twin() -> None:
    outcomes: dict[str, set[bool]] = {}
    for kind_name, pairs in UPDATES.items():
        kind = KIND[kind_name]
        for old_spec, new_spec in pairs:
            old, new = defaulted_spec(kind, old_spec), defaulted_spec(kind, new_spec)
            for node, old_value, new_value in paired_visits(Object(model=kind.spec), old, new):
                for rule in node.validation_rules():
                    if isinstance(rule, TransitionRule):
                        expected = evaluate(rule.expression, new_value, old_value)
                        assert rule.check(new_value, old_value) == expected, rule.expression
                        outcomes.setdefault(rule.expression, set()).add(expected)
    rules = {rule.message for rule in all_rules() if isinstance(rule, TransitionRule)}
    seen = {
        rule.message
        for rule in all_rules()
        if isinstance(rule, TransitionRule) and outcomes.get(rule.expression) == {True, False}
    }
    assert seen == rules, f"transition rules not seen both passing and failing: {rules - seen}"


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        ({"replicas": 3}, True),
        ({"erasureCoding": {"data": 4, "parity": 2}}, True),
        ({}, False),
        ({"replicas": 3, "erasureCoding": {"data": 4, "parity": 2}}, False),
    ],
)
def test_exactly_one_of_replicas_and_erasure_coding(spec: dict[str, Any], allowed: bool) -> None:
    assert evaluate("has(self.replicas) != has(self.erasureCoding)", spec) is allowed


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ("Disabled", "Enabled", True),
        ("Enabled", "Suspended", True),
        ("Suspended", "Enabled", True),
        ("Enabled", "Disabled", False),
        ("Suspended", "Disabled", False),
    ],
)
def test_versioning_transitions(old: str, new: str, allowed: bool) -> None:
    (rule,) = [
        rule
        for rule in all_rules()
        if isinstance(rule, TransitionRule) and "versioning" in rule.message
    ]
    assert rule.message == "versioning cannot be disabled once enabled; use Suspended"
    assert evaluate(rule.expression, new, old) is allowed


def schema_values(schema: dict[str, Any], value: Any) -> Iterator[tuple[dict[str, Any], Any]]:
    yield schema, value
    if isinstance(value, dict):
        for name, child in schema.get("properties", {}).items():
            if name in value:
                yield from schema_values(child, value[name])
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            yield from schema_values(schema["items"], item)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_default_passes_the_rules_below_it(kind: ResourceKind) -> None:
    """The API server refuses a CRD whose defaults break its own CEL rules (it evaluates
    transition rules there with oldSelf = self)."""
    checked = 0
    for path, node in schema_nodes(root_schema(kind)):
        if "default" not in node:
            continue
        value = apply_defaults(node, node["default"])
        for schema, item in schema_values(node, value):
            for rule in schema.get("x-kubernetes-validations", []):
                old = item if "oldSelf" in rule["rule"] else None
                assert evaluate(rule["rule"], item, old), (path, rule["rule"])
                checked += 1
    if kind.kind == "ObjectStore":
        assert checked > 0
