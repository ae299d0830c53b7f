"""A node's settings, and the state its request handlers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from nimbus_storage.node.auditor import AuditorSettings
from nimbus_storage.node.db_replicator import DBReplicatorSettings
from nimbus_storage.node.devices import LocalDevices
from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.node.replicator import ReplicatorSettings
from nimbus_storage.store.layout import StoreIdentity


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


@dataclass(frozen=True, slots=True)
class NodeContext:
    config: NodeConfig
    devices: LocalDevices
    metrics: NodeMetrics


NODE = web.AppKey("nimbus_node", NodeContext)
