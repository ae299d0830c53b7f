"""The immutable ring: name -> partition -> devices, as every node and gateway reads it."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nimbus_storage.ring import codec
from nimbus_storage.ring.device import Device
from nimbus_storage.ring.hashing import MAX_PART_POWER, name_hash, partition_of
from nimbus_storage.ring.tiers import build_tier_tree

RING_FORMAT = "nimbus-ring"


@dataclass(frozen=True)
class Ring:
    """``assignments[replica][partition]`` is a device id; ``device_slots[id]`` its device
    (None once removed). Construction checks every invariant and raises ValueError."""

    part_power: int
    replicas: int
    hash_prefix: str
    hash_suffix: str
    device_slots: tuple[Device | None, ...]
    assignments: tuple[tuple[int, ...], ...]
    generation: int

    def __post_init__(self) -> None:
        problem = _ring_problem(self)
        if problem:
            raise ValueError(f"invalid ring: {problem}")

    @property
    def partition_count(self) -> int:
        return 1 << self.part_power

    @property
    def devices(self) -> tuple[Device, ...]:
        return tuple(d for d in self.device_slots if d is not None)

    def device(self, device_id: int) -> Device:
        found = self.device_slots[device_id] if 0 <= device_id < len(self.device_slots) else None
        if found is None:
            raise KeyError(f"no device {device_id} in the ring")
        return found

    def name_hash(self, name: str) -> str:
        return name_hash(self.hash_prefix, self.hash_suffix, name)

    def partition(self, name: str) -> int:
        return partition_of(self.name_hash(name), self.part_power)

    def primaries(self, partition: int) -> list[Device]:
        # Construction checked that every assigned id names a present device.
        slots = self.device_slots
        return [slots[row[partition]] for row in self.assignments]  # type: ignore[misc]

    def handoffs(self, partition: int) -> Iterator[Device]:
        """Every other device, in an order of this partition's own: devices in zones holding
        no replica first, then those on nodes holding none, then the rest."""
        primaries = self.primaries(partition)
        zones = {d.zone_key for d in primaries}
        nodes = {d.node for d in primaries}
        taken = {d.id for d in primaries}
        others = [d for d in self.devices if d.id not in taken]
        others.sort(
            key=lambda d: (d.zone_key in zones, d.node in nodes, _shuffle_rank(partition, d.id))
        )
        return iter(others)

    def parts_per_device(self) -> dict[int, int]:
        counts: Counter[int] = Counter()
        for row in self.assignments:
            counts.update(row)
        return {d.id: counts[d.id] for d in self.devices}

    def wanted_parts(self) -> dict[int, float]:
        """What each device should hold by its weight, as far as dispersion allows."""
        tree = build_tier_tree(self.devices, self.replicas, self.partition_count)
        return {
            d.id: tree.wanted[tree.path[d.id][-1]] if d.id in tree.path else 0.0
            for d in self.devices
        }

    # -- serialised form (docs/storage-cluster.md) -----------------------------------------

    def to_json(self) -> dict[str, object]:
        return {
            "format": RING_FORMAT,
            "version": codec.VERSION,
            "part_power": self.part_power,
            "replicas": self.replicas,
            "hash_prefix": self.hash_prefix,
            "hash_suffix": self.hash_suffix,
            "devices": codec.encode_device_slots(self.device_slots),
            "assignments": [codec.encode_row(row) for row in self.assignments],
            "generation": self.generation,
        }

    @classmethod
    def from_json(cls, doc: object) -> Ring:
        checked = codec.check_header(doc, RING_FORMAT)
        part_power = codec.part_power_field(checked)
        replicas = codec.int_field(checked, "replicas", 1)
        rows = codec.decode_rows(checked.get("assignments"), replicas, 1 << part_power)
        return cls(
            part_power=part_power,
            replicas=replicas,
            hash_prefix=codec.str_field(checked, "hash_prefix"),
            hash_suffix=codec.str_field(checked, "hash_suffix"),
            device_slots=tuple(codec.decode_device_slots(checked.get("devices"))),
            assignments=tuple(tuple(row) for row in rows),
            generation=codec.int_field(checked, "generation", 0),
        )

    def save(self, path: Path) -> None:
        codec.write_json_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> Ring:
        try:
            return cls.from_json(codec.read_json(path))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None


def _shuffle_rank(partition: int, device_id: int) -> bytes:
    return hashlib.md5(f"{partition}/{device_id}".encode(), usedforsecurity=False).digest()


def _ring_problem(ring: Ring) -> str | None:
    if not 0 <= ring.part_power <= MAX_PART_POWER:
        return f"part_power must be within 0..{MAX_PART_POWER}, not {ring.part_power}"
    if ring.replicas < 1:
        return f"replicas must be >= 1, not {ring.replicas}"
    if ring.generation < 0:
        return f"generation must be >= 0, not {ring.generation}"
    for index, device in enumerate(ring.device_slots):
        if device is not None and device.id != index:
            return f"device at index {index} has id {device.id}"
    places = [(d.node, d.device) for d in ring.devices]
    if len(set(places)) != len(places):
        duplicate = next(p for p in places if places.count(p) > 1)
        return f"device {duplicate[1]} of node {duplicate[0]} appears twice"
    zone_of_node: dict[str, tuple[int, str]] = {}
    for device in ring.devices:
        if zone_of_node.setdefault(device.node, device.zone_key) != device.zone_key:
            return f"node {device.node} appears in two zones"
    return _assignments_problem(
        ring.assignments, ring.device_slots, ring.replicas, ring.partition_count
    )


def _assignments_problem(
    rows: Sequence[Sequence[int]], slots: Sequence[Device | None], replicas: int, partitions: int
) -> str | None:
    if len(rows) != replicas:
        return f"{len(rows)} assignment rows for {replicas} replicas"
    present = {d.id for d in slots if d is not None}
    for index, row in enumerate(rows):
        if len(row) != partitions:
            return f"assignment row {index} has {len(row)} partitions, not {partitions}"
        unknown = set(row) - present
        if unknown:
            partition = next(p for p, d in enumerate(row) if d in unknown)
            return (
                f"assignment row {index}, partition {partition}: device {row[partition]}"
                " is not in the ring"
            )
    for partition, device_ids in enumerate(zip(*rows, strict=True)):
        if len(set(device_ids)) != len(device_ids):
            return f"partition {partition} has two replicas on one device: {list(device_ids)}"
    return None
