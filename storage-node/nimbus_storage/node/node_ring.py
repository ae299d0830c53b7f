"""What a node needs from a ring file: the hashing constants, its own devices, the placements."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.ring import Ring
from nimbus_storage.ring.watch import RingFile


@dataclass(frozen=True, slots=True)
class NodeRing:
    identity: StoreIdentity
    devices: tuple[str, ...]  # device names of the ring whose node is this one
    generation: int


def node_ring(ring: Ring, node: str) -> NodeRing:
    """The part of ``ring`` that ``node`` ("host:port") serves."""
    identity = StoreIdentity(ring.hash_prefix, ring.hash_suffix, ring.part_power)
    local = tuple(d.device for d in ring.devices if d.node == node)
    return NodeRing(identity, local, ring.generation)


def load_node_ring(path: Path, node: str) -> NodeRing:
    """Read ``ring.json`` (docs/storage-cluster.md); ValueError when it is not a valid ring."""
    return node_ring(Ring.load(path), node)


def watch_ring(path: Path) -> Callable[[], Ring]:
    """The ring at ``path``, reloaded when the file changed since the last call.

    A file that fails to load leaves the previous ring in use (see ``RingFile``).
    """
    return RingFile(path, Ring.load, check_interval=0.0).current
