"""A node's settings, and the state its request handlers share."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.node.auditor import AuditorSettings
from nimbus_storage.node.db_replicator import DBReplicatorSettings
from nimbus_storage.node.devices import LocalDevices
from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.node.reconstructor import ReconstructorSettings
from nimbus_storage.node.replicator import ReplicatorSettings

CLIENT_HEADER_TIMEOUT = 60.0
SHUTDOWN_TIMEOUT = 25.0
"""Seconds requests in flight at SIGTERM get to finish (a pod's grace period is 30 s)."""


@dataclass(frozen=True, slots=True)
class SpaceReserve:
    """Free space a PUT must leave on its device (Swift's ``fallocate_reserve``): a number of
    bytes, or a percent of the device's size. Checked before the body of a PUT that asked
    ``Expect: 100-continue`` is taken (node/objects.py)."""

    amount: float
    percent: bool = False

    @classmethod
    def parse(cls, text: str) -> SpaceReserve:
        """``"16777216"`` (bytes) or ``"1%"``, ``"0.5%"`` (of the device's size)."""
        value = text.strip()
        percent = value.endswith("%")
        try:
            amount = float(value[:-1]) if percent else int(value)
        except ValueError:
            raise ValueError(
                f"a reserve is bytes or a percent (16777216, 1%), not {text!r}"
            ) from None
        if not math.isfinite(amount) or amount < 0 or (percent and amount >= 100):
            raise ValueError(f"a reserve must be at least 0 bytes and below 100%, not {text!r}")
        return cls(amount, percent)

    def bytes_of(self, device_size: int) -> int:
        """The reserve on a device of ``device_size`` bytes."""
        return int(device_size * self.amount / 100) if self.percent else int(self.amount)

    def __str__(self) -> str:
        return f"{self.amount:g}%" if self.percent else str(int(self.amount))


class SpaceClaims:
    """Bytes promised, per device, to PUTs that passed the free-space check and are still being
    written: the filesystem does not show them yet (or only in part), so concurrent checks must
    not hand the same free bytes out twice."""

    def __init__(self) -> None:
        self._claimed: dict[str, int] = {}

    def claimed(self, device: str) -> int:
        return self._claimed.get(device, 0)

    @contextmanager
    def claim(self, device: str, size: int) -> Iterator[None]:
        self._claimed[device] = self.claimed(device) + size
        try:
            yield
        finally:
            left = self._claimed[device] - size
            if left:
                self._claimed[device] = left
            else:
                del self._claimed[device]


@dataclass(frozen=True, slots=True)
class NodeConfig:
    data_dir: Path
    identity: StoreIdentity
    devices: tuple[str, ...]
    token: str  # the cluster token every request must carry
    host: str = "127.0.0.1"
    port: int = 6200  # 0: any free port
    fsync: bool = True
    create_devices: bool = False  # see LocalDevices
    auditor: AuditorSettings | None = field(default_factory=AuditorSettings)  # None: no auditor
    chunk_size: int = 64 * 1024  # request body read size
    ring_file: Path | None = None  # the ring to replicate by; None: no replicator
    ring_node: str | None = None  # this node in the ring ("host:port"); None: host:port
    replicator: ReplicatorSettings | None = field(default_factory=ReplicatorSettings)
    # Replication of catalog and bucket index replicas (with ring_file); None: none.
    db_replicator: DBReplicatorSettings | None = field(default_factory=DBReplicatorSettings)
    # Rebuilding and reverting erasure-coded fragment archives (with ring_file); None: none.
    reconstructor: ReconstructorSettings | None = None
    # Free space an ``Expect: 100-continue`` PUT must leave on its device, or it is refused
    # (507) before its body is sent: Swift's default, 1% of the device.
    fallocate_reserve: SpaceReserve = SpaceReserve(1.0, percent=True)
    # Seconds a connection may go without a complete request head (from its opening, or from
    # the previous answer when kept alive) before it is closed. Keep it above the 15 s after
    # which node clients (aiohttp's default) drop idle pooled connections themselves.
    client_header_timeout: float = CLIENT_HEADER_TIMEOUT


@dataclass(frozen=True, slots=True)
class NodeContext:
    config: NodeConfig
    devices: LocalDevices
    metrics: NodeMetrics
    claims: SpaceClaims = field(default_factory=SpaceClaims)


NODE = web.AppKey("nimbus_node", NodeContext)
