"""Ring planning from pod placement (pure): minimal change, drains, problems said plainly."""

from __future__ import annotations

import json

from nimbus_operator.render.rings import WantedDevice, plan_ring
from nimbus_storage.ring import Ring

LEAVING = WantedDevice("store-node-3.store-nodes.ns.svc:6200", "a")
NODES = [
    WantedDevice(f"store-node-{i}.store-nodes.ns.svc:6200", zone) for i, zone in enumerate("abc")
]


def test_a_new_ring_waits_for_enough_placed_pods() -> None:
    plan = plan_ring(None, part_power=6, replicas=3, wanted=NODES[:2])

    assert plan.ring == ""
    assert plan.problem == "3 replicas need 3 storage nodes; 2 are placed"


def test_three_zones_get_one_replica_of_every_partition_each() -> None:
    plan = plan_ring(None, part_power=6, replicas=3, wanted=NODES)
    ring = Ring.from_json(json.loads(plan.ring))

    assert plan.problem is None
    assert plan.generation == 1
    for partition in range(ring.partition_count):
        assert sorted(d.zone for d in ring.primaries(partition)) == ["a", "b", "c"]


def test_the_same_world_twice_changes_nothing() -> None:
    first = plan_ring(None, part_power=6, replicas=3, wanted=NODES)

    again = plan_ring(first.builder, part_power=6, replicas=3, wanted=NODES)

    assert not again.changed
    assert (again.ring, again.generation) == (first.ring, first.generation)


def test_a_fourth_node_joins_and_a_missing_one_is_drained_before_removal() -> None:
    first = plan_ring(None, part_power=6, replicas=3, wanted=NODES)
    fourth = WantedDevice("store-node-3.store-nodes.ns.svc:6200", "a")

    grown = plan_ring(first.builder, part_power=6, replicas=3, wanted=[*NODES, fourth])
    drained = plan_ring(grown.builder, part_power=6, replicas=3, wanted=NODES)
    removed = plan_ring(
        drained.builder, part_power=6, replicas=3, wanted=NODES, removable=[fourth.node]
    )

    assert (grown.generation, drained.generation, removed.generation) == (2, 3, 4)
    assert drained.draining == (fourth.node,)
    assert fourth.node in {d.node for d in Ring.from_json(json.loads(drained.ring)).devices}
    assert fourth.node not in {d.node for d in Ring.from_json(json.loads(removed.ring)).devices}
    assert removed.draining == ()


def test_a_kept_node_absent_for_a_moment_keeps_its_place() -> None:
    first = plan_ring(None, part_power=6, replicas=3, wanted=NODES)

    restarting = plan_ring(
        first.builder, part_power=6, replicas=3, wanted=NODES[:2], keep=[NODES[2].node]
    )

    assert not restarting.changed
    assert restarting.ring == first.ring


def test_a_node_is_removed_only_after_a_published_drain() -> None:
    first = plan_ring(None, part_power=6, replicas=3, wanted=[*NODES, LEAVING])

    drained = plan_ring(
        first.builder, part_power=6, replicas=3, wanted=NODES, removable=[LEAVING.node]
    )

    assert drained.draining == (LEAVING.node,), "weight 0 first, however empty it says it is"


def test_a_change_that_leaves_too_few_nodes_keeps_the_last_ring_in_service() -> None:
    first = plan_ring(None, part_power=6, replicas=3, wanted=NODES)

    shrunk = plan_ring(first.builder, part_power=6, replicas=3, wanted=NODES[:2])

    assert shrunk.ring == first.ring, "the published ring stays"
    assert shrunk.builder == first.builder, "nothing is drained that cannot be"
    assert shrunk.problem == "3 replicas need 3 storage nodes; 2 are placed"
