"""Leader election over a Lease: one holder at a time, takeover on release or expiry, and a
holder that cannot renew stops leading. The Lease store here keeps resourceVersions as the API
server does (a write based on a stale read is a conflict)."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from nimbus_operator.clients.leases import LeaseConflict, LeaseRecord
from nimbus_operator.errors import ApiFailure
from nimbus_operator.leadership import LeaderElector, Timing


class MemoryLeases:
    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.version = 0
        self.failing = False

    def read(self) -> LeaseRecord | None:
        if self.failing:
            raise ApiFailure("API server unreachable", 0)
        return self.record

    def write(self, record: LeaseRecord, *, acquired: bool) -> None:
        if self.failing:
            raise ApiFailure("API server unreachable", 0)
        current = self.record.resource_version if self.record else ""
        if record.resource_version != current:
            raise LeaseConflict("stale")
        self.version += 1
        self.record = replace(record, resource_version=str(self.version))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


TIMING = Timing(lease_duration=15, renew_deadline=10, retry_period=2)


def electors(leases: MemoryLeases, clock: Clock) -> tuple[LeaderElector, LeaderElector]:
    return (
        LeaderElector(leases, "a", TIMING, clock=clock),
        LeaderElector(leases, "b", TIMING, clock=clock),
    )


def test_the_first_candidate_creates_the_lease_and_the_second_waits() -> None:
    leases, clock = MemoryLeases(), Clock()
    first, second = electors(leases, clock)

    assert first.try_acquire_or_renew()
    assert not second.try_acquire_or_renew()
    assert leases.record is not None
    assert leases.record.holder == "a"
    assert leases.record.duration_seconds == 15


def test_a_holder_that_keeps_renewing_is_never_replaced() -> None:
    leases, clock = MemoryLeases(), Clock()
    first, second = electors(leases, clock)
    first.try_acquire_or_renew()

    for _ in range(20):
        clock.now += 5
        assert first.try_acquire_or_renew()
        assert not second.try_acquire_or_renew()
    assert leases.record is not None
    assert leases.record.transitions == 0


def test_a_lease_not_renewed_for_its_duration_is_taken_over() -> None:
    leases, clock = MemoryLeases(), Clock()
    first, second = electors(leases, clock)
    first.try_acquire_or_renew()
    assert not second.try_acquire_or_renew()

    clock.now += 14
    assert not second.try_acquire_or_renew(), "not expired yet by the candidate's own clock"
    clock.now += 2
    assert second.try_acquire_or_renew()
    assert leases.record is not None
    assert (leases.record.holder, leases.record.transitions) == ("b", 1)
    assert not first.try_acquire_or_renew(), "the old holder now sees b's fresh record"


def test_expiry_is_measured_from_when_the_candidate_saw_the_record_change() -> None:
    leases, clock = MemoryLeases(), Clock()
    first, _ = electors(leases, clock)
    first.try_acquire_or_renew()
    clock.now += 100  # a candidate that starts late must still wait a full duration
    late = LeaderElector(leases, "late", TIMING, clock=clock)

    assert not late.try_acquire_or_renew()
    clock.now += 16
    assert late.try_acquire_or_renew()


def test_a_released_lease_is_taken_at_once() -> None:
    leases, clock = MemoryLeases(), Clock()
    first, second = electors(leases, clock)
    first.try_acquire_or_renew()
    assert not second.try_acquire_or_renew()

    first.release()
    assert leases.record is not None
    assert leases.record.holder == ""
    assert second.try_acquire_or_renew()


def test_two_candidates_racing_on_one_read_cannot_both_win() -> None:
    leases, clock = MemoryLeases(), Clock()
    first, second = electors(leases, clock)
    first.try_acquire_or_renew()
    first.release()
    stale = leases.record
    assert stale is not None

    # b writes from the same read a is about to use: a's write conflicts.
    assert second.try_acquire_or_renew()
    with pytest.raises(LeaseConflict):
        leases.write(replace(stale, holder="a"), acquired=True)
    assert leases.record is not None
    assert leases.record.holder == "b"


def test_a_leader_that_cannot_renew_within_the_deadline_stops_leading() -> None:
    leases = MemoryLeases()
    fast = Timing(lease_duration=0.6, renew_deadline=0.3, retry_period=0.05)
    leader = LeaderElector(leases, "a", fast)
    assert leader.try_acquire_or_renew()
    stop, lost = threading.Event(), threading.Event()
    keeper = threading.Thread(target=leader.keep, args=(stop, lost.set))
    keeper.start()

    leases.failing = True
    assert lost.wait(timeout=30), "the leader noticed it can no longer renew"
    keeper.join(timeout=30)
    assert not keeper.is_alive()


def test_a_leader_whose_lease_was_taken_stops_leading_at_once() -> None:
    leases = MemoryLeases()
    fast = Timing(lease_duration=30, renew_deadline=20, retry_period=0.05)
    leader = LeaderElector(leases, "a", fast)
    assert leader.try_acquire_or_renew()
    stop, lost = threading.Event(), threading.Event()
    keeper = threading.Thread(target=leader.keep, args=(stop, lost.set))
    keeper.start()

    assert leases.record is not None
    leases.record = replace(leases.record, holder="intruder", resource_version="x")
    assert lost.wait(timeout=30)
    stop.set()
    keeper.join(timeout=30)


def test_acquire_waits_until_stopped() -> None:
    leases, clock = MemoryLeases(), Clock()
    holder, _ = electors(leases, clock)
    holder.try_acquire_or_renew()
    waiting = LeaderElector(leases, "b", Timing(1.0, 0.5, 0.01))
    stop = threading.Event()
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(waiting.acquire(stop)))
    thread.start()

    stop.set()
    thread.join(timeout=30)
    assert result == [False]


def test_timings_must_leave_room_to_renew() -> None:
    with pytest.raises(ValueError, match="lease duration > renew deadline > retry period"):
        Timing(lease_duration=10, renew_deadline=10, retry_period=2)
