"""The operator's one Kubernetes client: server-side apply, reads, deletes, as plain dicts.

Everything goes through the dynamic client (discovery is cached), so a manifest from ``render``
is applied as it is, whatever its kind. API errors are translated here, once:
404 -> ``NotFound``, 422/400 -> ``InvalidSpec`` (the API server refused what we rendered),
everything else -> ``ApiFailure`` (retried).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import (
    DynamicApiError,
    NotFoundError,
    ResourceNotFoundError,
)
from urllib3.exceptions import HTTPError

from nimbus_operator.constants import FIELD_MANAGER
from nimbus_operator.errors import ApiFailure, InvalidSpec, NotFound

log = logging.getLogger(__name__)

Manifest = dict[str, Any]


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn the client's exceptions into the operator's error hierarchy."""
    try:
        yield
    except (NotFoundError, ResourceNotFoundError) as error:
        raise NotFound(f"{what}: not found") from error
    except (DynamicApiError, ApiException) as error:
        status = int(getattr(error, "status", 0) or 0)
        detail = _reason(error)
        if status == 404:
            raise NotFound(f"{what}: not found") from error
        if status in (400, 422):
            raise InvalidSpec(f"{what}: the API server refused it: {detail}") from error
        raise ApiFailure(f"{what}: {status} {detail}", status) from error
    except (HTTPError, OSError, ValueError) as error:  # ValueError: an answer that is not JSON
        raise ApiFailure(f"{what}: {error}", 0) from error


def _reason(error: Exception) -> str:
    body = getattr(error, "body", None) or getattr(error, "summary", lambda: "")()
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    return str(body)[:500]


CONNECTIONS = 32
"""Kept-alive connections to the API server: one per handler thread. urllib3's default of 10
made the other threads open (TLS handshake) and drop a connection per call, which under a
burst of reconciles ate the CPU kopf's event loop needs."""


def load_config() -> client.ApiClient:
    """In a pod, its service account; elsewhere, the kubeconfig (``$KUBECONFIG``)."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config()  # type: ignore[no-untyped-call]
    configuration = client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = CONNECTIONS
    return client.ApiClient(configuration)


def _json(response: Any) -> Manifest:
    """An answer as plain JSON: the dynamic client's own objects (a ResourceField per key)
    cost more CPU than the rest of a reconcile, a thousand Buckets' lists at a time."""
    data = response.data
    parsed: Manifest = json.loads(data.decode() if isinstance(data, bytes) else data)
    return parsed


class Kube:
    def __init__(self, api: client.ApiClient | None = None) -> None:
        self._api = api or load_config()
        self._dynamic: Any = None

    @property
    def dynamic(self) -> Any:
        """The dynamic client (untyped upstream)."""
        if self._dynamic is None:
            with translated("API discovery"):
                self._dynamic = DynamicClient(self._api)  # type: ignore[no-untyped-call]
        return self._dynamic

    def _resource(self, api_version: str, kind: str) -> Any:
        with translated(f"{kind}.{api_version}"):
            return self.dynamic.resources.get(api_version=api_version, kind=kind)

    def apply(self, manifest: Manifest) -> Manifest:
        """Server-side apply ``manifest`` as the operator's field manager (conflicts forced:
        the operator owns what it renders)."""
        metadata = manifest["metadata"]
        what = f"{manifest['kind']} {metadata.get('namespace', '')}/{metadata['name']}"
        resource = self._resource(manifest["apiVersion"], manifest["kind"])
        with translated(f"apply {what}"):
            result = self.dynamic.server_side_apply(
                resource,
                body=manifest,
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                serialize=False,
            )
            return _json(result)

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Manifest | None:
        resource = self._resource(api_version, kind)
        try:
            with translated(f"get {kind} {namespace or ''}/{name}"):
                return _json(
                    self.dynamic.get(resource, name=name, namespace=namespace, serialize=False)
                )
        except NotFound:
            return None

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> list[Manifest]:
        resource = self._resource(api_version, kind)
        with translated(f"list {kind} in {namespace or 'all namespaces'}"):
            result = self.dynamic.get(
                resource, namespace=namespace, label_selector=label_selector, serialize=False
            )
            return [dict(item) for item in _json(result).get("items") or []]

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete (foreground propagation is not needed: owners cascade). False if absent."""
        resource = self._resource(api_version, kind)
        try:
            with translated(f"delete {kind} {namespace or ''}/{name}"):
                self.dynamic.delete(resource, name=name, namespace=namespace)
        except NotFound:
            return False
        return True

    def patch_status(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        status: Manifest,
        *,
        resource_version: str,
    ) -> Manifest:
        """Merge ``status`` into the status subresource if the object is still at
        ``resource_version`` (else ``ApiFailure`` with status 409: read it again)."""
        resource = self._resource(api_version, kind).subresources["status"]
        body = {"metadata": {"resourceVersion": resource_version}, "status": status}
        with translated(f"patch {kind} {namespace or ''}/{name} status"):
            result = self.dynamic.patch(
                resource,
                body=body,
                name=name,
                namespace=namespace,
                content_type="application/merge-patch+json",
                serialize=False,
            )
            return _json(result)

    def patch_merge(
        self, api_version: str, kind: str, name: str, namespace: str | None, patch: Manifest
    ) -> Manifest:
        resource = self._resource(api_version, kind)
        with translated(f"patch {kind} {namespace or ''}/{name}"):
            result = self.dynamic.patch(
                resource,
                body=patch,
                name=name,
                namespace=namespace,
                content_type="application/merge-patch+json",
                serialize=False,
            )
            return _json(result)
