"""Device layouts and measurements shared by the ring tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from nimbus_storage.ring import Ring, RingBuilder


@dataclass(frozen=True)
class Spec:
    region: int
    zone: str
    node: str
    weight: float = 100.0


def builder_with(specs: Sequence[Spec], part_power: int = 10, replicas: int = 3) -> RingBuilder:
    builder = RingBuilder(part_power, replicas, hash_prefix="pre", hash_suffix="suf")
    for index, spec in enumerate(specs):
        builder.add_device(
            region=spec.region,
            zone=spec.zone,
            node=spec.node,
            device=f"d{index}",
            weight=spec.weight,
        )
    return builder


def grid(zones: int, nodes_per_zone: int, devices_per_node: int = 1) -> list[Spec]:
    return [
        Spec(1, f"z{z}", f"10.0.{z}.{n}:6200")
        for z in range(zones)
        for n in range(nodes_per_zone)
        for _ in range(devices_per_node)
    ]


def assignment_changes(before: Ring, after: Ring) -> int:
    return sum(
        sum(1 for old, new in zip(row_before, row_after, strict=True) if old != new)
        for row_before, row_after in zip(before.assignments, after.assignments, strict=True)
    )


def worst_deviation(ring: Ring) -> float:
    """The largest ``|parts - wanted|`` over devices, in partitions."""
    parts, wanted = ring.parts_per_device(), ring.wanted_parts()
    return max(abs(parts[d] - wanted[d]) for d in parts)


def most_per_partition(ring: Ring, key: str) -> int:
    """The most replicas of any partition that share one zone / node / device."""
    worst = 0
    for partition in range(ring.partition_count):
        devices = ring.primaries(partition)
        places: Counter[object] = Counter(
            (d.region, d.zone) if key == "zone" else d.node if key == "node" else d.id
            for d in devices
        )
        worst = max(worst, *places.values())
    return worst
