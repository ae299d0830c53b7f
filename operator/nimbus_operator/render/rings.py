"""Rings of a store, planned from where its storage-node pods really run (pure).

``plan_ring`` takes the last builder state (None for a new ring) and the devices the store
should have now — one per storage-node pod, in the zone of the Kubernetes node it runs on — and
returns the next builder state and ring, rebalanced only when something changed (so applying
the same world twice changes nothing). Devices of nodes leaving the store are drained (weight 0)
first and removed once the caller says their data has moved (``removable``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from nimbus_storage.ring import RingBuilder

DEVICE_WEIGHT = 100.0
REGION = 1
REBALANCE_SEED = 0


@dataclass(frozen=True)
class WantedDevice:
    node: str
    """``host:port`` the storage node serves this ring on (a stable pod DNS name)."""
    zone: str
    device: str = "d0"


@dataclass(frozen=True)
class RingPlan:
    builder: str
    """The builder state to keep (JSON)."""
    ring: str
    """The ring nodes and gateways load (JSON)."""
    generation: int
    changed: bool
    draining: tuple[str, ...]
    """Nodes whose devices are drained (weight 0) but still in the ring."""
    problem: str | None
    """Why the ring cannot serve yet (too few devices for its replicas), or None."""


def plan_ring(
    previous: str | None,
    *,
    part_power: int,
    replicas: int,
    wanted: Iterable[WantedDevice],
    keep: Iterable[str] = (),
    removable: Iterable[str] = (),
) -> RingPlan:
    """``keep``: nodes to leave as they are although not placed now (a pod being recreated
    keeps its place and its data); every other node missing from ``wanted`` is drained."""
    builder = (
        RingBuilder.from_json(json.loads(previous))
        if previous
        else RingBuilder(part_power=part_power, replicas=replicas)
    )
    wanted_by_node = {device.node: device for device in wanted}
    removable_nodes = set(removable)
    kept = set(keep)
    changed = previous is None
    for device in builder.devices:
        if device.node in kept and device.node not in wanted_by_node:
            continue
        target = wanted_by_node.get(device.node)
        if target is not None and target.zone != device.zone:
            # The pod came back in another zone (its volume moved): a new device there.
            builder.remove_device(device.id)
            changed = True
        elif target is None and device.node in removable_nodes and not device.weight:
            # Only a device already drained in a published ring: it is a primary of nothing.
            builder.remove_device(device.id)
            changed = True
        elif target is None and device.weight:
            builder.set_weight(device.id, 0.0)
            changed = True
        elif target is not None and not device.weight:
            builder.set_weight(device.id, DEVICE_WEIGHT)
            changed = True
    present = {(device.node, device.device) for device in builder.devices}
    for wanted_device in sorted(wanted_by_node.values(), key=lambda d: d.node):
        if (wanted_device.node, wanted_device.device) not in present:
            builder.add_device(
                region=REGION,
                zone=wanted_device.zone,
                node=wanted_device.node,
                device=wanted_device.device,
                weight=DEVICE_WEIGHT,
            )
            changed = True
    serving = [device for device in builder.devices if device.weight > 0]
    problem = None
    ring_json = ""
    if len(serving) < builder.replicas:
        problem = (
            f"{builder.replicas} replicas need {builder.replicas} storage nodes; "
            f"{len(serving)} are placed"
        )
        last_good = _published_ring(previous)
        if last_good is not None:
            # Never take a ring out of service: keep the last one until the change can be made.
            return RingPlan(previous or "", last_good[0], last_good[1], False, (), problem)
    else:
        if changed or builder.to_json().get("pending_changes"):
            builder.rebalance(seed=REBALANCE_SEED)
        ring_json = json.dumps(builder.ring().to_json(), sort_keys=True)
    draining = tuple(sorted(d.node for d in builder.devices if d.weight == 0))
    return RingPlan(
        builder=json.dumps(builder.to_json(), sort_keys=True),
        ring=ring_json,
        generation=builder.generation,
        changed=changed,
        draining=draining,
        problem=problem,
    )


def _published_ring(previous: str | None) -> tuple[str, int] | None:
    """The ring ``previous`` (a builder state) last produced, with its generation, if any."""
    if not previous:
        return None
    try:
        ring = RingBuilder.from_json(json.loads(previous)).ring()
    except ValueError:
        return None
    return json.dumps(ring.to_json(), sort_keys=True), ring.generation
