"""Reassigning partition replicas to devices with as little movement as the weights allow.

A rebalance never starts over. It

1. frees the replicas on devices that are gone or weigh nothing, and those that break
   dispersion (a tier holding more replicas of a partition than its share allows, or fewer than
   it must while a sibling tier holds a spare one), and places each by walking down the tier
   tree: at every level it takes the child that most needs one (a child below its per-partition
   minimum first, then the largest ``target - assigned``) among the children still allowed
   another replica of that partition, which never leads to a device already holding it;
2. moves each device's surplus over its target straight to a device below its target that may
   hold that partition, trying partitions none of whose replicas moved yet in this rebalance
   first (a partition keeps most of its replicas where they were).

Each move of step 2 closes one unit of surplus and one of deficit, so movement stays at the
theoretical minimum unless dispersion forbids it. When it does (no lacking device may take any
of a device's partitions), a few more rounds re-place the leftover surplus by tier need, which
routes it through a third device, and keep a round only if it left less surplus. Candidates
are shuffled by a generator seeded with ``seed``: the same inputs and seed give the same
assignments.
"""

from __future__ import annotations

import random
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from nimbus_storage.ring.device import UNASSIGNED
from nimbus_storage.ring.tiers import TierTree

Slot = tuple[int, int]  # (partition, replica row)
MAX_ROUNDS = 6
# Placement prefers a tier below its per-partition minimum over any difference in need.
_STARVED_BONUS = 1 << 48


@dataclass(frozen=True, slots=True)
class RebalanceReport:
    """What a rebalance did.

    ``moved``: partition-replica assignments that changed (every one on a first build);
    ``balance``: the largest ``|parts - wanted| / wanted`` over devices, in percent;
    ``dispersion``: partitions whose replicas are spread worse than the tiers allow.
    """

    moved: int
    balance: float
    dispersion: int


def rebalance_rows(
    rows: Sequence[array[int]], tree: TierTree, seed: int
) -> tuple[list[array[int]], RebalanceReport]:
    """New assignment rows for ``tree`` starting from ``rows``, and what it took."""
    work = _Rebalance([array("H", row) for row in rows], tree, seed)
    work.place(work.free_lost() + work.free_badly_dispersed())
    work.settle_surplus()
    moved = sum(
        sum(1 for old, new in zip(before, after, strict=True) if old != new)
        for before, after in zip(rows, work.rows, strict=True)
    )
    report = RebalanceReport(moved, round(work.balance(), 4), work.dispersion_problems())
    return work.rows, report


class _Rebalance:
    """Working state of one rebalance: the rows and how many replicas each tier holds."""

    def __init__(self, rows: list[array[int]], tree: TierTree, seed: int) -> None:
        self.rows = rows
        self.tree = tree
        self.random = random.Random(seed)
        self.assigned = [0] * len(tree.share)
        self.moved_partitions: set[int] = set()
        self._verdicts: dict[tuple[int, ...], bool] = {}
        for row in rows:
            for device_id, count in Counter(row).items():
                if device_id in tree.path:
                    for tier in (0, *tree.path[device_id]):
                        self.assigned[tier] += count

    # -- bookkeeping -------------------------------------------------------------------------

    def need(self, device_id: int) -> int:
        """Assignments the device lacks to reach its target (negative: its surplus)."""
        tier = self.tree.device_tier(device_id)
        return self.tree.target[tier] - self.assigned[tier]

    def release(self, slot: Slot) -> None:
        partition, replica = slot
        device_id = self.rows[replica][partition]
        if device_id in self.tree.path:
            for tier in (0, *self.tree.path[device_id]):
                self.assigned[tier] -= 1
        self.rows[replica][partition] = UNASSIGNED
        self.moved_partitions.add(partition)

    def assign(self, slot: Slot, device_id: int) -> None:
        partition, replica = slot
        self.rows[replica][partition] = device_id
        for tier in (0, *self.tree.path[device_id]):
            self.assigned[tier] += 1

    def holders(self, partition: int) -> list[int]:
        return [row[partition] for row in self.rows if row[partition] != UNASSIGNED]

    def tier_counts(self, device_ids: Sequence[int]) -> dict[int, int]:
        counts: dict[int, int] = {}
        path = self.tree.path
        for device_id in device_ids:
            for tier in path[device_id]:
                counts[tier] = counts.get(tier, 0) + 1
        return counts

    # -- step 1: free and place what cannot stay -------------------------------------------

    def free_lost(self) -> list[Slot]:
        """Unassigned slots and the slots of devices that are gone or weigh nothing."""
        known = set(self.tree.path)
        lost = [
            (partition, replica)
            for replica, row in enumerate(self.rows)
            if not set(row) <= known
            for partition, device_id in enumerate(row)
            if device_id not in known
        ]
        for slot in lost:
            self.release(slot)
        return lost

    def free_badly_dispersed(self) -> list[Slot]:
        freed: list[Slot] = []
        for partition, device_ids in enumerate(zip(*self.rows, strict=True)):
            if UNASSIGNED not in device_ids and self.well_dispersed(device_ids):
                continue
            while True:
                holders = self.holders(partition)
                counts = self.tier_counts(holders)
                crowded = [t for t, n in counts.items() if n > self.tree.most[t]]
                if crowded:
                    slot = self._slot_with_most_surplus(partition, min(crowded))
                elif len(holders) < len(self.rows):
                    break  # placing the missing replicas fills starved tiers first
                else:
                    spare = self._spare_for_starved(partition, counts)
                    if spare is None:
                        break
                    slot = spare
                self.release(slot)
                freed.append(slot)
        return freed

    def well_dispersed(self, device_ids: tuple[int, ...]) -> bool:
        """No tier above its per-partition maximum or below its minimum (memoised)."""
        verdict = self._verdicts.get(device_ids)
        if verdict is None:
            tree = self.tree
            counts = self.tier_counts(device_ids)
            verdict = all(n <= tree.most[t] for t, n in counts.items()) and all(
                counts.get(kid, 0) >= tree.least[kid]
                for parent in (0, *counts)
                for kid in tree.children[parent]
            )
            self._verdicts[device_ids] = verdict
        return verdict

    def _spare_for_starved(self, partition: int, counts: dict[int, int]) -> Slot | None:
        """A replica to free for a tier below its minimum, from a sibling above its own."""
        tree = self.tree
        for parent in (0, *sorted(counts)):
            kids = tree.children[parent]
            if all(counts.get(k, 0) >= tree.least[k] for k in kids):
                continue
            spare = [k for k in kids if counts.get(k, 0) > tree.least[k]]
            if spare:
                richest = max(spare, key=lambda k: counts[k])
                return self._slot_with_most_surplus(partition, richest)
        return None

    def _slot_with_most_surplus(self, partition: int, tier: int) -> Slot:
        candidates = [
            (replica, row[partition])
            for replica, row in enumerate(self.rows)
            if row[partition] != UNASSIGNED and tier in self.tree.path[row[partition]]
        ]
        replica, _ = min(candidates, key=lambda c: (self.need(c[1]), -c[0]))
        return partition, replica

    def place(self, slots: list[Slot]) -> None:
        self.random.shuffle(slots)
        tree, assigned = self.tree, self.assigned
        children, most, least, target = tree.children, tree.most, tree.least, tree.target
        for slot in slots:
            counts = self.tier_counts(self.holders(slot[0]))
            tier = 0
            while children[tier]:
                best, best_score = -1, 0
                for kid in children[tier]:
                    held = counts.get(kid, 0)
                    if held >= most[kid]:
                        continue
                    score = target[kid] - assigned[kid]
                    if held < least[kid]:
                        score += _STARVED_BONUS
                    if best < 0 or score > best_score:
                        best, best_score = kid, score
                tier = best
            self.assign(slot, tree.device_at[tier])

    # -- step 2: surplus straight to where it is lacking -----------------------------------

    def settle_surplus(self) -> None:
        """Direct moves; when dispersion blocks them, re-place some surplus by tier need
        (it may land on a third device that can pass a replica on) and try again."""
        best: tuple[int, list[array[int]], list[int]] | None = None
        for _ in range(MAX_ROUNDS):
            self.move_surplus()
            stuck = self.total_surplus()
            if stuck == 0:
                return
            if best is not None and stuck >= best[0]:
                if stuck > best[0]:  # that round made things worse: back to where it began
                    self.rows, self.assigned = best[1], best[2]
                return
            best = stuck, [array("H", row) for row in self.rows], list(self.assigned)
            self.place(self.free_surplus())
            self.place(self.free_badly_dispersed())

    def total_surplus(self) -> int:
        return sum(max(0, -self.need(d)) for d in self.tree.path)

    def free_surplus(self) -> list[Slot]:
        over = {d for d in self.tree.path if self.need(d) < 0}
        held = self.held_by(over)
        freed: list[Slot] = []
        for device_id in sorted(over):
            taken = list(self._candidates(held[device_id]))[: -self.need(device_id)]
            for slot in taken:
                self.release(slot)
            freed.extend(taken)
        return freed

    def held_by(self, device_ids: set[int]) -> dict[int, list[Slot]]:
        held: dict[int, list[Slot]] = {d: [] for d in device_ids}
        for replica, row in enumerate(self.rows):
            for partition, device_id in enumerate(row):
                if device_id in held:
                    held[device_id].append((partition, replica))
        return held

    def move_surplus(self) -> None:
        over = sorted(d for d in self.tree.path if self.need(d) < 0)
        if not over or not any(self.need(d) > 0 for d in self.tree.path):
            return
        held = self.held_by(set(over))
        candidates = {d: self._candidates(held[d]) for d in over}
        # Round robin over the devices with a surplus, so none is left to take the leftovers.
        while candidates:
            for device_id in list(candidates):
                if self.need(device_id) >= 0 or not self._move_one(device_id, candidates):
                    del candidates[device_id]

    def _candidates(self, slots: list[Slot]) -> Iterator[Slot]:
        self.random.shuffle(slots)
        unmoved = [s for s in slots if s[0] not in self.moved_partitions]
        yield from unmoved
        yield from (s for s in slots if s[0] in self.moved_partitions)

    def _move_one(self, source: int, candidates: dict[int, Iterator[Slot]]) -> bool:
        """Move one replica off ``source`` to a device that lacks some; False when none can."""
        lacking = sorted(
            (d for d in self.tree.path if self.need(d) > 0), key=lambda d: (-self.need(d), d)
        )
        if not lacking:
            return False
        for partition, replica in candidates[source]:
            others = [row[partition] for r, row in enumerate(self.rows) if r != replica]
            destination = self._destination(source, others, lacking)
            if destination is not None:
                self.release((partition, replica))
                self.assign((partition, replica), destination)
                return True
        return False

    def _destination(self, source: int, others: list[int], lacking: list[int]) -> int | None:
        tree = self.tree
        counts = self.tier_counts(others)
        leaving = tree.path[source]
        for device_id in lacking:
            arriving = tree.path[device_id]
            if any(counts.get(t, 0) >= tree.most[t] for t in arriving):
                continue
            if any(counts.get(t, 0) < tree.least[t] for t in leaving if t not in arriving):
                continue
            return device_id
        return None

    # -- report ----------------------------------------------------------------------------

    def dispersion_problems(self) -> int:
        return sum(
            1 for device_ids in zip(*self.rows, strict=True) if not self.well_dispersed(device_ids)
        )

    def balance(self) -> float:
        worst = 0.0
        for device_id in self.tree.path:
            tier = self.tree.device_tier(device_id)
            wanted = self.tree.wanted[tier]
            worst = max(worst, abs(self.assigned[tier] - wanted) / wanted * 100)
        return worst
