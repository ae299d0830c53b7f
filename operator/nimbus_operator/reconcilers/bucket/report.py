"""What a Bucket or BucketAccess reconcile found, and how it reaches a store's APIs.

A reconcile returns a ``Report`` (status fields, conditions, Events) for its handler to
publish; ``connect`` is the one place a store's admin and S3 clients are made, so that tests
can hand the reconcilers fakes of those wrappers instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nimbus_operator.clients.admin import AdminClient
from nimbus_operator.clients.s3 import S3Client
from nimbus_operator.reconcilers.bucket.store_access import StoreAccess
from nimbus_operator.reconcilers.status import Event, Report
from nimbus_operator.settings import OperatorSettings

__all__ = ["Event", "Report", "StoreClients", "connect", "slow_resync_seconds"]


@dataclass(frozen=True)
class StoreClients:
    admin: AdminClient
    s3: S3Client


def connect(store: StoreAccess) -> StoreClients:
    return StoreClients(AdminClient(store.admin), S3Client(store.admin))


Connect = Callable[[StoreAccess], StoreClients]


SLOW_RESYNC_FLOOR_SECONDS = 60.0


def slow_resync_seconds(settings: OperatorSettings) -> float:
    """How often Buckets and BucketAccesses are resynced when nothing changed: the operator's
    resync period, but not more often than once a minute (thousands of them, each a few
    reads of the API server and the store; changes and retries do not wait for it)."""
    return max(settings.resync_seconds, SLOW_RESYNC_FLOOR_SECONDS)
