"""Secrets the ObjectStores name (spec.encryption.keySecretName, spec.gateway.tls.secretName):
when one is created, changed or deleted, the stores naming it are reconciled at once rather
than at their next resync.

The Secrets are the user's: the operator watches them but never writes them. It keeps an index
of the names its stores reference (``secret_index_entries``, kept by kopf from every
ObjectStore), so a Secret nobody references costs a dictionary lookup. For a referenced one,
each store naming it gets the annotation ``SECRET_CHANGE_ANNOTATION`` (``<secret>@<its
resourceVersion>``) and a Normal Event ``SecretChanged``; the store's handler reconciles it
when it sees a value of that annotation it has not acted on. An annotation, rather than a
reconcile run from the Secret's handler, keeps one reconcile of a store at a time, its status
written through kopf as every other reconcile of it, and survives an operator restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.constants import API_VERSION, STORAGE_GROUP
from nimbus_operator.errors import NotFound

STORAGE_API = f"{STORAGE_GROUP}/{API_VERSION}"
SECRET_CHANGE_ANNOTATION = f"{STORAGE_GROUP}/secret-change"
"""``<secret>@<resourceVersion>`` of the last referenced Secret seen to change."""
SECRET_CHANGED = "SecretChanged"

Event = tuple[str, str, str]

_WHAT_HAPPENED = {"ADDED": "was created", "MODIFIED": "changed", "DELETED": "was deleted"}


def referenced_secrets(spec: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The Secrets a store's raw spec names, in spec order (a spec that does not parse names
    what it can: its own reconcile reports what is wrong with it)."""
    spec = spec if isinstance(spec, Mapping) else {}
    encryption = spec.get("encryption")
    gateway = spec.get("gateway")
    tls = gateway.get("tls") if isinstance(gateway, Mapping) else None
    names = [
        section.get(field)
        for section, field in ((encryption, "keySecretName"), (tls, "secretName"))
        if isinstance(section, Mapping)
    ]
    return tuple(dict.fromkeys(name for name in names if isinstance(name, str) and name))


def secret_index_entries(
    namespace: str | None, name: str, spec: Mapping[str, Any] | None
) -> dict[tuple[str, str], str]:
    """The store ``namespace/name`` under each ``(namespace, secret)`` it references (Secrets
    are always in the store's namespace)."""
    if not namespace:
        return {}
    return {(namespace, secret): name for secret in referenced_secrets(spec)}


def change_mark(secret: str, revision: str) -> str:
    return f"{secret}@{revision}"


def pending_change(store: Mapping[str, Any], handled: str | None) -> str | None:
    """The store's change mark when it is one not acted on yet (``handled``: the last one
    acted on), else None; never for a store being deleted."""
    metadata = store.get("metadata") or {}
    if metadata.get("deletionTimestamp"):
        return None
    mark = (metadata.get("annotations") or {}).get(SECRET_CHANGE_ANNOTATION)
    return str(mark) if mark and mark != handled else None


def mark_stores(
    kube: Kube,
    namespace: str,
    secret: str,
    *,
    revision: str,
    change: str,
    stores: Iterable[str],
) -> list[tuple[dict[str, Any], Event]]:
    """Mark each of ``stores`` (names in ``namespace``, as the index has them) that still
    references ``secret``, for a reconcile now: each store as patched, with its Event.

    A store gone, being deleted, no longer naming the Secret (the index lags its spec by an
    event), or marked for this very revision already is left alone.
    """
    marked: list[tuple[dict[str, Any], Event]] = []
    mark = change_mark(secret, revision)
    happened = _WHAT_HAPPENED.get(change, "changed")
    for name in sorted(set(stores)):
        store = kube.get(STORAGE_API, "ObjectStore", name, namespace)
        if store is None or store["metadata"].get("deletionTimestamp"):
            continue
        if secret not in referenced_secrets(store.get("spec")):
            continue
        if (store["metadata"].get("annotations") or {}).get(SECRET_CHANGE_ANNOTATION) == mark:
            continue
        try:
            patched = kube.patch_merge(
                STORAGE_API,
                "ObjectStore",
                name,
                namespace,
                {"metadata": {"annotations": {SECRET_CHANGE_ANNOTATION: mark}}},
            )
        except NotFound:  # deleted since it was read
            continue
        message = f'Secret "{secret}" {happened}: reconciling the store now.'
        marked.append((patched, ("Normal", SECRET_CHANGED, message)))
    return marked
