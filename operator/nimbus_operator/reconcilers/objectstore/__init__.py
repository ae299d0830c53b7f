"""The ObjectStore reconciler: storage nodes, rings, gateways and status of one store."""

from nimbus_operator.reconcilers.objectstore.store import StoreReport, reconcile_store

__all__ = ["StoreReport", "reconcile_store"]
