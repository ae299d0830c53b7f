"""The replicas of catalogs and bucket indexes a node keeps on its devices.

A database is named ``catalog`` or ``bucket:<bucket name>`` and placed by the ring like a blob of
that name; its replica lives in ``<device>/dbs/<partition>/<name>.sqlite``. Databases are opened
on first use and kept open, up to ``max_open`` at a time (least recently used closed first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nimbus_storage.meta.catalog import CatalogDB
from nimbus_storage.meta.db_names import CATALOG, valid_name
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.meta.replicated_db import ReplicatedDB


@dataclass(frozen=True, slots=True)
class LocalDB:
    device: str
    partition: int
    name: str
    path: Path


class Databases:
    def __init__(self, data_dir: Path, max_open: int = 256) -> None:
        self.data_dir = data_dir
        self.max_open = max_open
        self._open: OrderedDict[Path, ReplicatedDB] = OrderedDict()
        self._pinned: dict[Path, int] = {}  # in use across awaits: never closed by eviction
        self._lock = threading.Lock()

    def path(self, device: str, partition: int, name: str) -> Path:
        return self.data_dir / device / "dbs" / str(partition) / f"{name}.sqlite"

    def get(
        self, device: str, partition: int, name: str, *, create: bool, pin: bool = False
    ) -> ReplicatedDB | None:
        """The replica, opened (and with ``create`` made) on demand; None when absent.

        ``pin``: keep it open, whatever else is opened, until ``unpin`` (for a caller that
        uses it across awaits, such as the replicator)."""
        if not valid_name(name):
            raise ValueError(f"bad database name {name!r}: expected catalog or bucket:<name>")
        path = self.path(device, partition, name)
        with self._lock:
            db = self._open.get(path)
            if db is not None:
                self._open.move_to_end(path)
                if pin:
                    self._pinned[path] = self._pinned.get(path, 0) + 1
                return db
            if not path.exists():
                if not create:
                    return None
                path.parent.mkdir(parents=True, exist_ok=True)
            db = CatalogDB(path) if name == CATALOG else BucketIndex(path)
            self._open[path] = db
            if pin:
                self._pinned[path] = self._pinned.get(path, 0) + 1
            self._evict()
            return db

    def unpin(self, device: str, partition: int, name: str) -> None:
        path = self.path(device, partition, name)
        with self._lock:
            left = self._pinned.get(path, 0) - 1
            if left > 0:
                self._pinned[path] = left
            else:
                self._pinned.pop(path, None)
            self._evict()

    def _evict(self) -> None:
        """Close the least recently used replicas beyond ``max_open`` that nobody pinned."""
        excess = len(self._open) - self.max_open
        for path in [p for p in self._open if p not in self._pinned][: max(excess, 0)]:
            self._open.pop(path).close()

    def local(self, devices: list[str]) -> Iterator[LocalDB]:
        """Every database replica on ``devices``."""
        for device in devices:
            root = self.data_dir / device / "dbs"
            if not root.is_dir():
                continue
            for part_dir in sorted(root.iterdir()):
                if not part_dir.name.isdigit():
                    continue
                for path in sorted(part_dir.glob("*.sqlite")):
                    name = path.name.removesuffix(".sqlite")
                    if valid_name(name):
                        yield LocalDB(device, int(part_dir.name), name, path)

    def remove(self, found: LocalDB) -> None:
        """Drop a replica that now lives elsewhere (a handoff moved home)."""
        with self._lock:
            self._pinned.pop(found.path, None)
            db = self._open.pop(found.path, None)
            if db is not None:
                db.close()
            for suffix in ("", "-wal", "-shm"):
                found.path.with_name(found.path.name + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            for db in self._open.values():
                db.close()
            self._open.clear()
