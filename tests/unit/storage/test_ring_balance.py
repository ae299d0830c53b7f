"""Balance and dispersion of fresh rebalances over assorted layouts."""

from __future__ import annotations

import pytest
from nimbus_storage.ring import Ring, RingBuilder

from tests.unit.storage.ring_layouts import (
    Spec,
    builder_with,
    grid,
    most_per_partition,
    worst_deviation,
)

# No zone weighs more than a third, so weights alone decide the wanted counts.
UNEVEN = [
    Spec(1, "z0", "10.0.0.1:6200", 100),
    Spec(1, "z0", "10.0.0.2:6200", 300),
    Spec(1, "z1", "10.0.1.1:6200", 50),
    Spec(1, "z1", "10.0.1.2:6200", 250),
    Spec(1, "z2", "10.0.2.1:6200", 80),
    Spec(1, "z2", "10.0.2.2:6200", 300),
    Spec(1, "z3", "10.0.3.1:6200", 10),
    Spec(1, "z3", "10.0.3.2:6200", 150),
    Spec(1, "z3", "10.0.3.3:6200", 60),
]
THREE_WEIGHTS = [
    Spec(1, f"z{i % 5}", f"10.0.{i % 5}.{i % 3}:6200", 100.0 + 50 * (i % 3)) for i in range(30)
]
TWO_REGIONS = [Spec(1 + i % 2, f"z{i % 3}", f"10.{i % 2}.0.{i}:6200") for i in range(12)]

LAYOUTS = {
    "equal, 4 zones": grid(4, 3),
    "uneven weights": UNEVEN,
    "30 devices, 3 weights, 2 per node": THREE_WEIGHTS,
    "two regions": TWO_REGIONS,
    "2 zones, 6 nodes": grid(2, 3, 2),
    "one node": grid(1, 1, 5),
}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_every_device_holds_its_wanted_count_within_one_partition(layout: list[Spec]) -> None:
    builder = builder_with(layout)
    report = builder.rebalance()
    ring = builder.ring()
    assert worst_deviation(ring) <= 1.0
    assert sum(ring.parts_per_device().values()) == 3 * 1024
    assert report.balance == pytest.approx(
        max(abs(ring.parts_per_device()[d] - w) / w * 100 for d, w in ring.wanted_parts().items()),
        abs=1e-3,
    )
    assert report.dispersion == 0


def test_wanted_counts_follow_weights_when_dispersion_allows() -> None:
    ring = _rebalanced(builder_with(UNEVEN))
    total = sum(s.weight for s in UNEVEN)
    wanted = ring.wanted_parts()
    for device, spec in zip(ring.devices, UNEVEN, strict=True):
        assert wanted[device.id] == pytest.approx(3 * 1024 * spec.weight / total)


def test_dispersion_wins_over_weight_when_a_zone_is_too_heavy() -> None:
    # Zone z2 has 10/12 of the weight, but one replica of each partition is all it may hold.
    specs = [
        Spec(1, f"z{z}", f"10.0.{z}.{n}:6200", w)
        for z, w in ((0, 10), (1, 10), (2, 100))
        for n in range(2)
    ]
    ring = _rebalanced(builder_with(specs))
    assert most_per_partition(ring, "zone") == 1
    parts = ring.parts_per_device()
    zone_parts = {
        z: sum(parts[d.id] for d in ring.devices if d.zone == z) for z in ("z0", "z1", "z2")
    }
    assert zone_parts == {"z0": 1024, "z1": 1024, "z2": 1024}


@pytest.mark.parametrize("layout", [grid(3, 2), grid(5, 2), UNEVEN], ids=["3 zones", "5", "uneven"])
def test_no_zone_holds_two_replicas_when_there_are_enough_zones(layout: list[Spec]) -> None:
    assert most_per_partition(_rebalanced(builder_with(layout)), "zone") == 1


def test_replicas_spread_over_nodes_when_zones_are_fewer() -> None:
    ring = _rebalanced(builder_with(grid(2, 3, 2)))
    assert most_per_partition(ring, "node") == 1
    assert most_per_partition(ring, "zone") == 2


def test_replicas_spread_over_regions_first() -> None:
    ring = _rebalanced(builder_with(TWO_REGIONS))
    for partition in range(ring.partition_count):
        assert {d.region for d in ring.primaries(partition)} == {1, 2}


def test_replicas_land_on_distinct_devices_of_a_single_node() -> None:
    ring = _rebalanced(builder_with(grid(1, 1, 3)))
    assert most_per_partition(ring, "device") == 1
    assert set(ring.parts_per_device().values()) == {1024}


def test_four_replicas_over_three_zones_use_every_zone() -> None:
    specs = [Spec(1, f"z{i % 3}", f"10.0.0.{i}:6200", (100, 100, 5)[i % 3]) for i in range(9)]
    ring = _rebalanced(builder_with(specs, replicas=4))
    for partition in range(ring.partition_count):
        zones = [d.zone for d in ring.primaries(partition)]
        assert sorted(zones.count(z) for z in ("z0", "z1", "z2")) == [1, 1, 2]


def test_zero_weight_devices_get_nothing() -> None:
    specs = [*grid(3, 2), Spec(1, "z0", "10.0.9.9:6200", 0)]
    ring = _rebalanced(builder_with(specs))
    assert ring.parts_per_device()[len(specs) - 1] == 0


def test_more_replicas_than_weighted_devices_is_refused() -> None:
    builder = builder_with(grid(1, 2))
    with pytest.raises(ValueError, match="replicas=3 needs at least 3 devices"):
        builder.rebalance()


def _rebalanced(builder: RingBuilder) -> Ring:
    builder.rebalance()
    return builder.ring()
