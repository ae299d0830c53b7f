"""A ring file that reloads itself when the operator publishes a new one.

The operator writes rings into a ConfigMap mounted as a file; kubelet swaps the file atomically.
``current()`` looks at the file's modification time at most once per ``check_interval`` and
loads a changed file; a file that fails to load leaves the running ring in place (and is logged),
so a bad publish never takes a gateway down.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

log = logging.getLogger("nimbus.ring")
RingT = TypeVar("RingT")


class RingFile(Generic[RingT]):
    def __init__(
        self, path: Path, load: Callable[[Path], RingT], *, check_interval: float = 1.0
    ) -> None:
        self.path = path
        self._load = load
        self._check_interval = check_interval
        self._ring = load(path)
        self._stamp = self._file_stamp()
        self._checked_at = time.monotonic()

    def _file_stamp(self) -> tuple[int, int]:
        status = os.stat(self.path)
        return status.st_mtime_ns, status.st_ino

    def current(self) -> RingT:
        now = time.monotonic()
        if now - self._checked_at < self._check_interval:
            return self._ring
        self._checked_at = now
        try:
            stamp = self._file_stamp()
            if stamp != self._stamp:
                self._ring = self._load(self.path)
                self._stamp = stamp
                log.info("loaded a new ring from %s", self.path)
        except (OSError, ValueError) as exc:
            log.error("keeping the running ring: %s could not be loaded: %s", self.path, exc)
        return self._ring
