"""kopf handlers of Flavor, Image, KeyPair, ServerGroup and ComputeQuota.

A Flavor, Image or KeyPair that servers use keeps its finalizer until none does: its deletion
waits, and its status names them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kopf

from nimbus_operator.constants import API_VERSION, COMPUTE_GROUP
from nimbus_operator.handlers.runtime import (
    forget,
    generation,
    publish,
    run_report,
)
from nimbus_operator.reconcilers.compute.catalog import (
    reconcile_flavor,
    reconcile_keypair,
    reconcile_server_group,
)
from nimbus_operator.reconcilers.compute.image import reconcile_image
from nimbus_operator.reconcilers.compute.quota import reconcile_quota
from nimbus_operator.reconcilers.compute.refs import (
    flavor_users,
    image_users,
    in_use_message,
    keypair_users,
    servers,
)
from nimbus_operator.reconcilers.context import kube, settings
from nimbus_operator.reconcilers.status import Report, failure_status

RESYNC_SECONDS = 30.0
IN_USE_RETRY_SECONDS = 10.0


def _resource(plural: str) -> tuple[str, str, str]:
    return (COMPUTE_GROUP, API_VERSION, plural)


def _run(body: kopf.Body, patch: kopf.Patch, reconcile: Callable[[dict[str, Any]], Report]) -> None:
    run_report(body, patch, reconcile, waiting_phase="Pending")


def _refuse_while_used(body: kopf.Body, patch: kopf.Patch, kind: str, users: list[str]) -> None:
    if users:
        message = in_use_message(kind, body["metadata"]["name"], users)
        previous = dict(body.get("status") or {})
        publish(patch, failure_status(previous, generation(body), "InUse", message, "Deleting"))
        raise kopf.TemporaryError(message, delay=IN_USE_RETRY_SECONDS)
    forget(body)


def _deleting(body: kopf.Body) -> bool:
    return bool(body.get("metadata", {}).get("deletionTimestamp"))


# -- Flavor ------------------------------------------------------------------------------------


@kopf.on.resume(*_resource("flavors"))
@kopf.on.create(*_resource("flavors"))
@kopf.on.update(*_resource("flavors"), field="spec")
@kopf.timer(*_resource("flavors"), interval=RESYNC_SECONDS, initial_delay=5, idle=0)
def flavor_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    if not _deleting(body):
        _run(body, patch, lambda b: reconcile_flavor(kube(), b))


@kopf.on.delete(*_resource("flavors"))
def flavor_deleted(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    _refuse_while_used(body, patch, "Flavor", flavor_users(kube(), body["metadata"]["name"]))


# -- KeyPair -----------------------------------------------------------------------------------


@kopf.on.resume(*_resource("keypairs"))
@kopf.on.create(*_resource("keypairs"))
@kopf.on.update(*_resource("keypairs"), field="spec")
@kopf.timer(*_resource("keypairs"), interval=RESYNC_SECONDS, initial_delay=5, idle=0)
def keypair_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    if not _deleting(body):
        _run(body, patch, lambda b: reconcile_keypair(kube(), b))


@kopf.on.delete(*_resource("keypairs"))
def keypair_deleted(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    metadata = body["metadata"]
    users = keypair_users(kube(), metadata["namespace"], metadata["name"])
    _refuse_while_used(body, patch, "KeyPair", users)


# -- Image -------------------------------------------------------------------------------------


@kopf.on.resume(*_resource("images"))
@kopf.on.create(*_resource("images"))
@kopf.on.update(*_resource("images"), field="spec")
@kopf.timer(*_resource("images"), interval=settings().resync_seconds, initial_delay=2, idle=0)
def image_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    if not _deleting(body):
        _run(body, patch, lambda b: reconcile_image(kube(), b))


@kopf.on.delete(*_resource("images"))
def image_deleted(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    metadata = body["metadata"]
    public = bool((body.get("spec") or {}).get("public"))
    users = image_users(kube(), metadata["namespace"], metadata["name"], public)
    _refuse_while_used(body, patch, "Image", users)


# -- ServerGroup -------------------------------------------------------------------------------


@kopf.on.resume(*_resource("servergroups"))
@kopf.on.create(*_resource("servergroups"))
@kopf.on.update(*_resource("servergroups"), field="spec")
@kopf.timer(*_resource("servergroups"), interval=settings().resync_seconds, initial_delay=2, idle=0)
def server_group_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    if not _deleting(body):
        _run(body, patch, lambda b: reconcile_server_group(kube(), b))


# -- ComputeQuota ------------------------------------------------------------------------------


@kopf.on.resume(*_resource("computequotas"))
@kopf.on.create(*_resource("computequotas"))
@kopf.on.update(*_resource("computequotas"), field="spec")
@kopf.timer(
    *_resource("computequotas"), interval=settings().resync_seconds, initial_delay=2, idle=0
)
def compute_quota_changed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    if not _deleting(body):
        namespace = body["metadata"]["namespace"]
        _run(body, patch, lambda b: reconcile_quota(kube(), b, servers(kube(), namespace)))
