"""The ring: which devices hold a name's replicas. Pure code: no HTTP, no disk store, no node.

``RingBuilder`` (operator side) adds, removes and reweights devices and rebalances with minimal
movement; ``Ring`` (immutable) is what nodes and gateways load. See docs/storage-cluster.md.
"""

from nimbus_storage.ring.builder import RingBuilder
from nimbus_storage.ring.device import Device
from nimbus_storage.ring.hashing import name_hash, partition_of
from nimbus_storage.ring.rebalance import RebalanceReport
from nimbus_storage.ring.ring import Ring

__all__ = ["Device", "RebalanceReport", "Ring", "RingBuilder", "name_hash", "partition_of"]
