"""The Bucket reconciler: the bucket in its store, its ConfigMap and owner Secret, deletion."""

from nimbus_operator.reconcilers.bucket.deletion import delete_bucket
from nimbus_operator.reconcilers.bucket.reconcile import reconcile_bucket
from nimbus_operator.reconcilers.bucket.report import Report, slow_resync_seconds

__all__ = ["Report", "delete_bucket", "reconcile_bucket", "slow_resync_seconds"]
