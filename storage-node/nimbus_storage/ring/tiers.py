"""How many replicas each failure domain should hold: the tier tree and its targets.

The tiers are root > region > zone > node > device. Every tier gets a *share*: the replicas of
an average partition it should hold. Shares follow weights, but dispersion wins: a tier's
children split its share as evenly as their sizes allow first (each child between the fewest
and the most replicas an even spread gives it), and by weight only within those bounds. So with
3 replicas and 3 zones every zone holds exactly one replica of every partition, however
lopsided the zone weights; with 4 zones the share of each is between 0 and 1, by weight.

``wanted`` is ``share * partitions`` (what balance is measured against) and ``target`` its
integer apportionment, rounded top-down so that children always sum to their parent.
Only devices with a positive weight are in the tree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nimbus_storage.ring.device import Device

_EPSILON = 1e-9


def ceil_share(share: float) -> int:
    return math.ceil(share - _EPSILON)


def floor_share(share: float) -> int:
    return math.floor(share + _EPSILON)


@dataclass(frozen=True, slots=True)
class TierTree:
    """Tier 0 is the root; ``path[device_id]`` lists the device's tiers, region first."""

    children: tuple[tuple[int, ...], ...]
    path: dict[int, tuple[int, ...]]
    device_at: dict[int, int]  # device tier -> device id
    share: tuple[float, ...]
    most: tuple[int, ...]  # replicas of one partition a tier may hold: ceil(share)
    least: tuple[int, ...]  # replicas of one partition a tier must hold: floor(share)
    wanted: tuple[float, ...]
    target: tuple[int, ...]

    @property
    def device_ids(self) -> list[int]:
        return list(self.path)

    def device_tier(self, device_id: int) -> int:
        return self.path[device_id][-1]


def build_tier_tree(devices: Iterable[Device], replicas: int, partitions: int) -> TierTree:
    weighted = sorted(
        (d for d in devices if d.weight > 0),
        key=lambda d: (d.region, d.zone, d.node, d.id),
    )
    if len(weighted) < replicas:
        raise ValueError(
            f"replicas={replicas} needs at least {replicas} devices with a weight above 0;"
            f" there are {len(weighted)}"
        )
    keys: dict[tuple[object, ...], int] = {(): 0}
    children: list[list[int]] = [[]]
    weight: list[float] = [0.0]
    size: list[int] = [0]
    path: dict[int, tuple[int, ...]] = {}
    for device in weighted:
        key: tuple[object, ...] = ()
        tiers: list[int] = []
        for part in (device.region, device.zone, device.node, device.id):
            parent = keys[key]
            key = (*key, part)
            if key not in keys:
                keys[key] = len(children)
                children.append([])
                weight.append(0.0)
                size.append(0)
                children[parent].append(keys[key])
            tiers.append(keys[key])
        for tier in (0, *tiers):
            weight[tier] += device.weight
            size[tier] += 1
        path[device.id] = tuple(tiers)

    share = [0.0] * len(children)
    share[0] = float(replicas)
    target = [0] * len(children)
    target[0] = replicas * partitions
    # Parents are numbered before their children, so one pass in index order is top-down.
    for tier, kids in enumerate(children):
        if not kids:
            continue
        split = split_share(share[tier], [weight[k] for k in kids], [size[k] for k in kids])
        for kid, kid_share in zip(kids, split, strict=True):
            share[kid] = kid_share
        counts = apportion(
            target[tier],
            [s * partitions for s in split],
            [ceil_share(s) * partitions for s in split],
        )
        for kid, count in zip(kids, counts, strict=True):
            target[kid] = count
    return TierTree(
        children=tuple(tuple(k) for k in children),
        path=path,
        device_at={tiers[-1]: device_id for device_id, tiers in path.items()},
        share=tuple(share),
        most=tuple(ceil_share(s) for s in share),
        least=tuple(floor_share(s) for s in share),
        wanted=tuple(s * partitions for s in share),
        target=tuple(target),
    )


def split_share(share: float, weights: Sequence[float], sizes: Sequence[int]) -> list[float]:
    """Split ``share`` among children: within even-spread bounds, then by weight."""
    most = _spread_level(math.ceil(share - _EPSILON), sizes, at_least=True)
    least = _spread_level(math.floor(share + _EPSILON), sizes, at_least=False)
    upper = [min(size, most) for size in sizes]
    lower = [min(size, least) for size in sizes]

    def total(scale: float) -> float:
        return sum(
            min(u, max(lo, scale * w)) for w, lo, u in zip(weights, lower, upper, strict=True)
        )

    low, high = 0.0, max(u / w for u, w in zip(upper, weights, strict=True))
    for _ in range(200):
        mid = (low + high) / 2
        if total(mid) < share:
            low = mid
        else:
            high = mid
    return [min(u, max(lo, high * w)) for w, lo, u in zip(weights, lower, upper, strict=True)]


def _spread_level(replicas: int, sizes: Sequence[int], *, at_least: bool) -> int:
    """The level of an even spread of ``replicas`` over children of the given sizes.

    ``at_least``: the smallest level L at which ``sum(min(size, L)) >= replicas`` (no child need
    hold more than L); otherwise the largest L with ``sum(min(size, L)) <= replicas`` (every
    child can be given L).
    """
    level = 0
    while level < max(sizes):
        if at_least and sum(min(size, level) for size in sizes) >= replicas:
            return level
        if not at_least and sum(min(size, level + 1) for size in sizes) > replicas:
            return level
        level += 1
    return level


def apportion(total: int, exact: Sequence[float], limits: Sequence[int]) -> list[int]:
    """Integers summing to ``total``, each the floor or ceiling of its (rescaled) exact value.

    Largest remainders get the leftover units; ties go to the earlier child.
    """
    scale = total / sum(exact)
    scaled = [round(e * scale, 6) for e in exact]
    counts = [min(limit, math.floor(s)) for s, limit in zip(scaled, limits, strict=True)]
    order = sorted(range(len(exact)), key=lambda i: (-(scaled[i] - counts[i]), i))
    left = total - sum(counts)
    while left > 0:
        progressed = False
        for i in order:
            if left and counts[i] < limits[i]:
                counts[i] += 1
                left -= 1
                progressed = True
        if not progressed:
            raise ValueError(f"cannot place {total} assignments within the tier limits")
    return counts
