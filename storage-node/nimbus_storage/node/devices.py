"""The devices a node serves: one ``DiskBlobStore`` per device under the data directory."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from nimbus_storage.blobs.diskfile import DiskBlobStore
from nimbus_storage.blobs.layout import StoreIdentity

log = logging.getLogger("nimbus.node")


class LocalDevices:
    """``<data_dir>/<device>`` for each device of this node.

    With ``create`` false (production: each device is a mounted disk) a device whose directory
    is missing is unavailable, and so is one that disappears later (an unmounted or failed
    disk): requests to it get 507 and nothing is written to the root filesystem instead. With
    ``create`` true (tests, single-disk setups) missing device directories are created.
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

    @property
    def partition_count(self) -> int:
        return 1 << self.identity.part_power

    def get(self, name: str) -> DiskBlobStore | None:
        """The store of ``name``; None for a device that is not ours or not available."""
        if name not in self.names:
            return None
        if not self._create and not (self.data_dir / name).is_dir():
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

    def check_identity(self) -> None:
        """Fail at start (``IdentityMismatch``) rather than at the first request."""
        StoreIdentity.adopt(self.data_dir, self.identity)
