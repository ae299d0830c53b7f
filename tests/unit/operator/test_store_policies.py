"""Which policies a store serves: what it served before stays served, new ones join."""

from __future__ import annotations

from typing import Any

from nimbus_operator.models.storagepolicy import StoragePolicy
from nimbus_operator.reconcilers.objectstore.design import choose_policies
from nimbus_operator.render.store_design import PolicyDesign


def policy(name: str, spec: dict[str, Any]) -> StoragePolicy:
    body = {"metadata": {"name": name}, "spec": spec}
    return StoragePolicy.from_body(body)


IMPLICIT = PolicyDesign("default", 3, 6200)


def test_a_store_without_policies_serves_an_implicit_default() -> None:
    choice = choose_policies([], 3, {})

    assert choice.policies == (IMPLICIT,)
    assert (choice.default, choice.metadata) == ("default", "default")


def test_a_new_policy_joins_without_unmounting_the_implicit_default() -> None:
    gold = policy("gold", {"replicas": 3, "default": True})

    choice = choose_policies([gold], 3, {"default": 6200}, (IMPLICIT,), "default")

    assert [p.name for p in choice.policies] == ["default", "gold"]
    assert choice.default == "gold", "new buckets go to the marked default"
    assert choice.metadata == "default", "the catalog never moves"
    assert choice.policy_ports() == {"default": 6200, "gold": 6201}


def test_a_deleted_or_changed_policy_keeps_being_served_as_it_was() -> None:
    cold = PolicyDesign("cold", 3, 6201, (2, 1))
    warm = PolicyDesign("warm", 3, 6202)
    changed_warm = policy("warm", {"replicas": 2})

    choice = choose_policies([changed_warm], 3, {}, (IMPLICIT, cold, warm), "default")

    assert set(choice.policies) == {IMPLICIT, cold, warm}
    assert any("cold is gone" in message for message in choice.unplaceable)
    assert any("warm now asks for 2 replicas" in message for message in choice.unplaceable)
