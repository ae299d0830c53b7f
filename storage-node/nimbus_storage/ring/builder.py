"""The ring builder: the operator's editable state, from which immutable rings are cut.

Its state (``builder.json``) keeps the assignments of the last rebalance, so every rebalance
starts from them and moves only what the change calls for. Device ids are never reused.
"""

from __future__ import annotations

import dataclasses
from array import array
from pathlib import Path

from nimbus_storage.ring import codec
from nimbus_storage.ring.device import MAX_DEVICE_ID, UNASSIGNED, Device
from nimbus_storage.ring.hashing import MAX_PART_POWER, random_salt
from nimbus_storage.ring.rebalance import RebalanceReport, rebalance_rows
from nimbus_storage.ring.ring import Ring
from nimbus_storage.ring.tiers import build_tier_tree

BUILDER_FORMAT = "nimbus-ring-builder"


class RingBuilder:
    def __init__(
        self,
        part_power: int,
        replicas: int,
        hash_prefix: str | None = None,
        hash_suffix: str | None = None,
    ) -> None:
        if isinstance(part_power, bool) or not 0 <= part_power <= MAX_PART_POWER:
            raise ValueError(f"part_power must be within 0..{MAX_PART_POWER}, not {part_power}")
        if isinstance(replicas, bool) or replicas < 1:
            raise ValueError(f"replicas must be >= 1, not {replicas}")
        self.part_power = part_power
        self.replicas = replicas
        self.hash_prefix = random_salt() if hash_prefix is None else hash_prefix
        self.hash_suffix = random_salt() if hash_suffix is None else hash_suffix
        self.generation = 0
        self._slots: list[Device | None] = []
        self._rows: list[array[int]] = [
            array("H", [UNASSIGNED]) * (1 << part_power) for _ in range(replicas)
        ]
        # Devices changed since the last rebalance: the ring must be rebalanced before use.
        self._pending = False
        self._rebalanced = False

    @property
    def partition_count(self) -> int:
        return 1 << self.part_power

    @property
    def devices(self) -> tuple[Device, ...]:
        return tuple(d for d in self._slots if d is not None)

    def device(self, device_id: int) -> Device:
        found = self._slots[device_id] if 0 <= device_id < len(self._slots) else None
        if found is None:
            raise KeyError(f"no device {device_id} in the builder")
        return found

    # -- editing ---------------------------------------------------------------------------

    def add_device(
        self, *, region: int, zone: str, node: str, device: str, weight: float
    ) -> Device:
        """Add a device under the next unused id."""
        if len(self._slots) > MAX_DEVICE_ID:
            raise ValueError(f"a ring holds at most {MAX_DEVICE_ID + 1} device ids")
        if any(d.node == node and d.device == device for d in self.devices):
            raise ValueError(f"device {device} of node {node} is already in the ring")
        for other in self.devices:
            if other.node == node and other.zone_key != (region, zone):
                raise ValueError(
                    f"node {node} is in region {other.region} zone {other.zone}, not"
                    f" region {region} zone {zone}"
                )
        added = Device(len(self._slots), region, zone, node, device, float(weight))
        self._slots.append(added)
        self._pending = True
        return added

    def remove_device(self, device_id: int) -> Device:
        """Forget a device; its partitions move at the next rebalance and its id stays unused."""
        removed = self.device(device_id)
        self._slots[device_id] = None
        self._pending = True
        return removed

    def set_weight(self, device_id: int, weight: float) -> Device:
        """Weight 0 drains the device at the next rebalance (it stays in the ring)."""
        changed = dataclasses.replace(self.device(device_id), weight=float(weight))
        self._slots[device_id] = changed
        self._pending = True
        return changed

    # -- rebalancing -----------------------------------------------------------------------

    def rebalance(self, seed: int = 0) -> RebalanceReport:
        """Reassign what the changes call for; the generation grows when anything changed."""
        tree = build_tier_tree(self.devices, self.replicas, self.partition_count)
        rows, report = rebalance_rows(self._rows, tree, seed)
        if report.moved or self._pending:
            self.generation += 1
        self._rows = rows
        self._pending = False
        self._rebalanced = True
        return report

    def ring(self) -> Ring:
        if not self._rebalanced:
            raise ValueError("the builder has never been rebalanced")
        if self._pending:
            raise ValueError("devices changed since the last rebalance; rebalance first")
        return Ring(
            part_power=self.part_power,
            replicas=self.replicas,
            hash_prefix=self.hash_prefix,
            hash_suffix=self.hash_suffix,
            device_slots=tuple(self._slots),
            assignments=tuple(tuple(row) for row in self._rows),
            generation=self.generation,
        )

    # -- serialised form -------------------------------------------------------------------

    def to_json(self) -> dict[str, object]:
        return {
            "format": BUILDER_FORMAT,
            "version": codec.VERSION,
            "part_power": self.part_power,
            "replicas": self.replicas,
            "hash_prefix": self.hash_prefix,
            "hash_suffix": self.hash_suffix,
            "devices": codec.encode_device_slots(self._slots),
            "assignments": [codec.encode_row(row) for row in self._rows],
            "generation": self.generation,
            "rebalanced": self._rebalanced,
            "pending_changes": self._pending,
        }

    @classmethod
    def from_json(cls, doc: object) -> RingBuilder:
        checked = codec.check_header(doc, BUILDER_FORMAT)
        builder = cls(
            codec.part_power_field(checked),
            codec.int_field(checked, "replicas", 1),
            codec.str_field(checked, "hash_prefix"),
            codec.str_field(checked, "hash_suffix"),
        )
        builder._slots = codec.decode_device_slots(checked.get("devices"))
        builder._rows = codec.decode_rows(
            checked.get("assignments"), builder.replicas, builder.partition_count
        )
        builder.generation = codec.int_field(checked, "generation", 0)
        for flag in ("rebalanced", "pending_changes"):
            if not isinstance(checked.get(flag), bool):
                raise ValueError(f"{flag} must be true or false")
        builder._rebalanced = bool(checked["rebalanced"])
        builder._pending = bool(checked["pending_changes"])
        return builder

    def save(self, path: Path) -> None:
        codec.write_json_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> RingBuilder:
        try:
            return cls.from_json(codec.read_json(path))
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
