"""Rebalances move close to the theoretical minimum, and deterministically."""

from __future__ import annotations

from pathlib import Path

import pytest
from nimbus_storage.ring import Ring, RingBuilder

from tests.unit.storage.ring_layouts import Spec, assignment_changes, builder_with, grid

REPLICAS, PARTS = 3, 1024
ASSIGNMENTS = REPLICAS * PARTS


def _settled(specs: list[Spec]) -> tuple[RingBuilder, Ring]:
    builder = builder_with(specs, part_power=10, replicas=REPLICAS)
    builder.rebalance()
    return builder, builder.ring()


def _partitions_with_replicas_moved(before: Ring, after: Ring, at_least: int) -> int:
    moved_per_partition = [0] * before.partition_count
    for row_before, row_after in zip(before.assignments, after.assignments, strict=True):
        for partition, (old, new) in enumerate(zip(row_before, row_after, strict=True)):
            moved_per_partition[partition] += old != new
    return sum(1 for n in moved_per_partition if n >= at_least)


@pytest.mark.parametrize("zone", ["z0", "z9"], ids=["existing zone", "new zone"])
def test_adding_one_of_n_plus_one_equal_devices_moves_about_its_share(zone: str) -> None:
    builder, before = _settled(grid(4, 3))
    builder.add_device(region=1, zone=zone, node="10.0.9.9:6200", device="new", weight=100)
    report = builder.rebalance()
    after = builder.ring()
    minimum = ASSIGNMENTS / 13
    assert report.moved == assignment_changes(before, after)
    assert minimum - 1 <= report.moved <= 1.1 * minimum
    assert after.parts_per_device()[12] == pytest.approx(minimum, abs=1)
    assert _partitions_with_replicas_moved(before, after, at_least=2) == 0


def test_removing_a_device_moves_about_what_it_held() -> None:
    builder, before = _settled(grid(4, 3))
    held = before.parts_per_device()[5]
    builder.remove_device(5)
    report = builder.rebalance()
    after = builder.ring()
    assert held <= report.moved <= 1.1 * held
    assert 5 not in after.parts_per_device()
    assert after.device_slots[5] is None


@pytest.mark.parametrize("weight", [50.0, 200.0])
def test_reweighting_moves_in_proportion(weight: float) -> None:
    builder, before = _settled(grid(4, 3))
    held = before.parts_per_device()[0]
    builder.set_weight(0, weight)
    report = builder.rebalance()
    after = builder.ring()
    wanted = after.wanted_parts()[0]
    minimum = abs(held - wanted)
    assert minimum - 1 <= report.moved <= 1.1 * minimum + 1
    assert after.parts_per_device()[0] == pytest.approx(wanted, abs=1)


def test_draining_to_weight_zero_empties_the_device() -> None:
    builder, before = _settled(grid(4, 3))
    held = before.parts_per_device()[3]
    builder.set_weight(3, 0)
    report = builder.rebalance()
    assert builder.ring().parts_per_device()[3] == 0
    assert held <= report.moved <= 1.1 * held


def test_a_new_zone_takes_one_replica_of_every_partition() -> None:
    builder, _ = _settled(grid(2, 4))
    for node in range(4):
        builder.add_device(region=1, zone="z2", node=f"10.0.2.{node}:6200", device="d", weight=100)
    report = builder.rebalance()
    after = builder.ring()
    assert PARTS <= report.moved <= 1.1 * PARTS
    assert report.dispersion == 0
    for partition in range(PARTS):
        assert len({d.zone for d in after.primaries(partition)}) == 3


def test_rebalancing_without_changes_moves_nothing() -> None:
    builder, before = _settled(grid(4, 3))
    report = builder.rebalance()
    assert report.moved == 0
    assert builder.ring() == before
    assert builder.ring().generation == before.generation


def test_every_change_bumps_the_generation() -> None:
    builder, before = _settled(grid(4, 3))
    builder.set_weight(1, 100)  # same weight: nothing moves, but the ring was edited
    builder.rebalance()
    assert builder.ring().generation == before.generation + 1
    builder.add_device(region=1, zone="z0", node="10.0.9.9:6200", device="x", weight=100)
    builder.rebalance()
    assert builder.ring().generation == before.generation + 2


def test_same_inputs_and_seed_give_the_same_ring() -> None:
    first, second = builder_with(grid(4, 3)), builder_with(grid(4, 3))
    first.rebalance(seed=7)
    second.rebalance(seed=7)
    assert first.ring() == second.ring()
    for builder in (first, second):
        builder.add_device(region=1, zone="z1", node="10.0.9.9:6200", device="x", weight=150)
        builder.rebalance(seed=3)
    assert first.ring().assignments == second.ring().assignments


def test_another_seed_moves_other_partitions() -> None:
    first, second = builder_with(grid(4, 3)), builder_with(grid(4, 3))
    first.rebalance()
    second.rebalance()
    for builder, seed in ((first, 1), (second, 2)):
        builder.add_device(region=1, zone="z1", node="10.0.9.9:6200", device="x", weight=100)
        builder.rebalance(seed=seed)
    assert first.ring().assignments != second.ring().assignments


def test_a_saved_and_reloaded_builder_rebalances_incrementally(tmp_path: Path) -> None:
    path = tmp_path / "builder.json"
    builder, before = _settled(grid(4, 3))
    builder.save(path)
    reloaded = RingBuilder.load(path)
    assert reloaded.ring() == before
    reloaded.add_device(region=1, zone="z2", node="10.0.9.9:6200", device="x", weight=100)
    report = reloaded.rebalance()
    assert report.moved <= 1.1 * ASSIGNMENTS / 13
