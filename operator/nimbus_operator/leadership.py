"""Leader election over a ``coordination.k8s.io`` Lease, as client-go's ``leaderelection`` does it.

Replicas of the operator compete for one Lease; the holder reconciles, the others wait. The
holder renews every ``retry_period``; a renewal that has not succeeded for ``renew_deadline``
means it must stop reconciling. A candidate takes the Lease when its holder released it (a
graceful stop) or when the record has not changed for ``lease_duration`` seconds *as seen by the
candidate's own clock* (so clocks of different machines never have to agree).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from nimbus_operator.clients.leases import LeaseConflict, LeaseRecord
from nimbus_operator.errors import NimbusError

log = logging.getLogger(__name__)


class LeaseStore(Protocol):
    def read(self) -> LeaseRecord | None: ...

    def write(self, record: LeaseRecord, *, acquired: bool) -> None: ...


@dataclass(frozen=True)
class Timing:
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError(
                "leader election needs lease duration > renew deadline > retry period > 0, got "
                f"{self.lease_duration}, {self.renew_deadline}, {self.retry_period}"
            )


class LeaderElector:
    def __init__(
        self,
        leases: LeaseStore,
        identity: str,
        timing: Timing | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.leases = leases
        self.identity = identity
        self.timing = timing or Timing()
        self._clock = clock
        self._observed: LeaseRecord | None = None
        self._observed_at = 0.0

    def try_acquire_or_renew(self) -> bool:
        """One attempt: True when this replica holds the Lease afterwards."""
        record = self.leases.read()
        now = self._clock()
        if record is None:
            fresh = LeaseRecord(self.identity, self._duration(), "", "", 0, "")
            return self._write(fresh, acquired=True)
        if record != self._observed:
            self._observed, self._observed_at = record, now
        if record.holder and record.holder != self.identity:
            duration = record.duration_seconds or self.timing.lease_duration
            if now < self._observed_at + duration:
                return False
            log.info("the Lease of %s expired: taking it over", record.holder)
        acquired = record.holder != self.identity
        transitions = record.transitions + 1 if acquired else record.transitions
        mine = replace(
            record, holder=self.identity, duration_seconds=self._duration(), transitions=transitions
        )
        return self._write(mine, acquired=acquired)

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until this replica leads (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    return True
            except NimbusError as error:
                log.warning("leader election: %s", error)
            stop.wait(self.timing.retry_period * random.uniform(1.0, 1.2))
        return False

    def keep(self, stop: threading.Event, on_lost: Callable[[], None]) -> None:
        """Renew until ``stop``; call ``on_lost`` (once, then return) when another replica
        holds the Lease or no renewal succeeded for ``renew_deadline``."""
        renewed_at = self._clock()
        while not stop.wait(self.timing.retry_period):
            try:
                held = self.try_acquire_or_renew()
            except NimbusError as error:
                log.warning("renewing the leader Lease: %s", error)
                held = False
            if held:
                renewed_at = self._clock()
                continue
            taken = self._observed is not None and self._observed.holder not in ("", self.identity)
            if taken or self._clock() - renewed_at > self.timing.renew_deadline:
                on_lost()
                return

    def release(self) -> None:
        """Give the Lease up at a graceful stop, so a standby takes over at once."""
        try:
            record = self.leases.read()
            if record is not None and record.holder == self.identity:
                self.leases.write(replace(record, holder="", duration_seconds=1), acquired=False)
                log.info("released the leader Lease")
        except NimbusError as error:
            log.warning("could not release the leader Lease (it will expire): %s", error)

    def _duration(self) -> int:
        return max(1, round(self.timing.lease_duration))

    def _write(self, record: LeaseRecord, *, acquired: bool) -> bool:
        try:
            self.leases.write(record, acquired=acquired)
        except LeaseConflict:
            return False
        self._observed = None
        return True
