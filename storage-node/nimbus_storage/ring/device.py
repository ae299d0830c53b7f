"""A device of the ring: one disk on one storage node, with its place in the failure domains."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Assignment rows hold uint16 device ids; the top value marks an unassigned slot.
UNASSIGNED = 0xFFFF
MAX_DEVICE_ID = UNASSIGNED - 1


@dataclass(frozen=True, slots=True)
class Device:
    """``region`` > ``zone`` > ``node`` ("host:port") > ``device`` (a directory on that node)."""

    id: int
    region: int
    zone: str
    node: str
    device: str
    weight: float

    def __post_init__(self) -> None:
        problem = device_problem(self)
        if problem:
            raise ValueError(f"device {self.id}: {problem}")

    @property
    def zone_key(self) -> tuple[int, str]:
        """Zones are named within a region: zone "a" of region 1 is not zone "a" of region 2."""
        return self.region, self.zone

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "region": self.region,
            "zone": self.zone,
            "node": self.node,
            "device": self.device,
            "weight": self.weight,
        }

    @classmethod
    def from_json(cls, doc: object) -> Device:
        if not isinstance(doc, dict):
            raise ValueError(f"a device must be a JSON object, not {type(doc).__name__}")
        missing = {"id", "region", "zone", "node", "device", "weight"} - doc.keys()
        if missing:
            raise ValueError(f"device is missing {', '.join(sorted(missing))}")
        weight = doc["weight"]
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise ValueError(f"device weight must be a number, not {weight!r}")
        for key in ("id", "region"):
            if isinstance(doc[key], bool) or not isinstance(doc[key], int):
                raise ValueError(f"device {key} must be an integer, not {doc[key]!r}")
        for key in ("zone", "node", "device"):
            if not isinstance(doc[key], str):
                raise ValueError(f"device {key} must be a string, not {doc[key]!r}")
        return cls(doc["id"], doc["region"], doc["zone"], doc["node"], doc["device"], float(weight))


def device_problem(device: Device) -> str | None:
    """What makes ``device`` unusable, or None."""
    if not 0 <= device.id <= MAX_DEVICE_ID:
        return f"id must be within 0..{MAX_DEVICE_ID}"
    if not device.zone:
        return "zone must not be empty"
    host, colon, port = device.node.rpartition(":")
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f"node must be host:port, not {device.node!r}"
    if not device.device or device.device in (".", "..") or "/" in device.device:
        return f"device must be a plain directory name, not {device.device!r}"
    if not math.isfinite(device.weight) or device.weight < 0:
        return f"weight must be a finite number >= 0, not {device.weight!r}"
    return None
