"""The devices a node serves: one ``DiskBlobStore`` per device under the data directory."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from nimbus_storage.blobs.diskfile import DiskBlobStore
from nimbus_storage.blobs.layout import StoreIdentity

log = logging.getLogger("nimbus.node")

MISSING_HINT = "create the directory or mount the disk, or start the node with --create-devices"
_UNSEEN = "not checked yet"


class LocalDevices:
    """``<data_dir>/<device>`` for each device of this node.

    With ``create`` false (production: each device is a mounted disk) a device whose directory
    is missing is unavailable, and so is one that disappears later (an unmounted or failed
    disk): requests to it get 507 and nothing is written to the root filesystem instead. A
    device whose directory appears later (a disk mounted after the node started) is served from
    then on, as Swift's ``mount_check`` does: the node starts and answers even when none of its
    devices can be used. With ``create`` true (tests, single-disk setups) missing device
    directories are created when first used.

    Every check logs what changed since the last one (``device d0 missing: ...``, ``device d0
    is back``), so the log says what ``/_nimbus/healthz`` shows (``problems``).
    """

    def __init__(
        self,
        data_dir: Path,
        identity: StoreIdentity,
        names: Iterable[str],
        *,
        create: bool = False,
        fsync: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.identity = identity
        self.names = tuple(dict.fromkeys(names))
        self._create = create
        self._fsync = fsync
        self._stores: dict[str, DiskBlobStore] = {}
        # The last state seen of each device checked so far: None (usable) or why it is not.
        self._seen: dict[str, str | None] = {}

    @property
    def partition_count(self) -> int:
        return 1 << self.identity.part_power

    def get(self, name: str) -> DiskBlobStore | None:
        """The store of ``name``; None for a device that is not ours or not available."""
        if name not in self.names:
            return None
        if self._note({name: self._problem(name)})[name] is not None:
            return None
        store = self._stores.get(name)
        if store is None or not store.objects_dir.is_dir():
            store = DiskBlobStore(
                self.data_dir, device=name, fsync=self._fsync, identity=self.identity
            )
            self._stores[name] = store
        return store

    def available(self) -> list[DiskBlobStore]:
        stores = [self.get(name) for name in self.names]
        return [s for s in stores if s is not None]

    def problems(self) -> dict[str, str]:
        """Each device that cannot be used now, with why (``/data/d0 does not exist``)."""
        found = self._note({name: self._problem(name) for name in self.names})
        return {name: problem for name, problem in found.items() if problem is not None}

    def serving(self) -> str:
        """What the node serves now: ``d0, d1 (2 of 3 devices; missing: d2)``."""
        missing = self.problems()
        served = [name for name in self.names if name not in missing]
        text = f"{', '.join(served) or 'no devices'} ({len(served)} of {len(self.names)} devices"
        return text + (f"; missing: {', '.join(missing)})" if missing else ")")

    def check_identity(self) -> None:
        """Fail at start (``IdentityMismatch``) rather than at the first request."""
        StoreIdentity.adopt(self.data_dir, self.identity)

    def _problem(self, name: str) -> str | None:
        """Why device ``name`` cannot be used now; None when it can."""
        path = self.data_dir / name
        if path.is_dir():
            return None
        if path.exists():
            return f"{path} is not a directory"
        return None if self._create else f"{path} does not exist"  # created on first use

    def _note(self, found: dict[str, str | None]) -> dict[str, str | None]:
        """Record the state of the devices in ``found``; log those that changed."""
        changed = {
            name: (self._seen.get(name, _UNSEEN), problem)
            for name, problem in found.items()
            if self._seen.get(name, _UNSEEN) != problem
        }
        self._seen.update(found)
        serving = sum(1 for state in self._seen.values() if state is None)
        for name, (before, problem) in changed.items():
            if problem is not None:
                hint = "" if self._create else f" ({MISSING_HINT})"
                log.warning(
                    "device %s missing: %s; this node serves %d of %d devices%s",
                    name,
                    problem,
                    serving,
                    len(self.names),
                    hint,
                )
            elif before != _UNSEEN:
                log.info(
                    "device %s is back: %s; this node serves %d of %d devices",
                    name,
                    self.data_dir / name,
                    serving,
                    len(self.names),
                )
        return found
