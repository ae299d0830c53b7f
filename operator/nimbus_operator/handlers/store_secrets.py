"""kopf handlers that follow the Secrets ObjectStores name (their SSE key store, their TLS
certificate): an index of the referenced names, kept from every ObjectStore, and a watch of
Secrets that acts only on those (`reconcilers.objectstore.secret_watch`). The store's own
handler (`handlers.objectstore.object_store_secret_changed`) then reconciles it."""

from __future__ import annotations

from typing import Any, cast

import kopf

from nimbus_operator.handlers.objectstore import RESOURCE as STORE_RESOURCE
from nimbus_operator.handlers.runtime import post_events
from nimbus_operator.reconcilers.context import kube
from nimbus_operator.reconcilers.objectstore.secret_watch import (
    mark_stores,
    secret_index_entries,
)


@kopf.index(*STORE_RESOURCE)
def object_store_secrets(
    namespace: str | None, name: str, spec: kopf.Spec, **_: Any
) -> dict[tuple[str, str], str]:
    """``(namespace, secret)`` -> the names of the stores there that reference it."""
    return secret_index_entries(namespace, name, dict(spec))


INDEX = "object_store_secrets"
"""The index's name: kopf passes it to every handler as a keyword argument of that name."""
StoreSecrets = kopf.Index[tuple[str, str], str]


def _referenced(namespace: str | None, name: str, **kwargs: Any) -> bool:
    index: StoreSecrets = kwargs[INDEX]
    return (namespace, name) in index


@kopf.on.event("", "v1", "secrets", when=_referenced)
def referenced_secret_changed(
    event: kopf.RawEvent, body: kopf.Body, namespace: str | None, name: str, **kwargs: Any
) -> None:
    """A Secret some store references was created, changed or deleted: mark those stores for
    a reconcile now, with an Event on each. (The listing kopf starts its watch with is not a
    change: every store is reconciled when the operator starts anyway.)"""
    change = event.get("type")
    if change is None or not namespace:
        return
    index: StoreSecrets = kwargs[INDEX]
    stores = list(index.get((namespace, name), []))
    revision = str(body.get("metadata", {}).get("resourceVersion") or "")
    for store, store_event in mark_stores(
        kube(), namespace, name, revision=revision, change=str(change), stores=stores
    ):
        post_events(kopf.Body(cast(kopf.RawBody, store)), [store_event])
