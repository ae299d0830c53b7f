"""The ObjectStore a Bucket lives in, as Buckets and BucketAccesses reach it: its S3 endpoint
(status.endpoint), its region, its admin credential (the store's admin Secret) and, for a store
serving HTTPS, the authority its gateways' certificate is checked against (its TLS Secret's).

Only read here: the store's reconciler owns its admin Secret and endpoint (creating or
repairing them from a Bucket could lock the operator out of the store). A store in another
namespace serves a Bucket only when its ``SHARED_STORE_ANNOTATION`` admits the Bucket's
namespace.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from nimbus_operator.clients.admin import AdminEndpoint
from nimbus_operator.clients.kube import Kube
from nimbus_operator.constants import API_VERSION, STORAGE_GROUP
from nimbus_operator.errors import InvalidSpec, RetryLater
from nimbus_operator.models.bucket import SHARED_STORE_ANNOTATION
from nimbus_operator.reconcilers.objectstore.tls import GatewayTls, read_gateway_tls
from nimbus_operator.render.bucket_keys import BucketLocation
from nimbus_operator.render.store_secrets import ACCESS_KEY, SECRET_KEY

STORAGE_API = f"{STORAGE_GROUP}/{API_VERSION}"
DEFAULT_REGION = "us-east-1"
NOT_READY_DELAY = 5.0


@dataclass(frozen=True)
class StoreAccess:
    namespace: str
    name: str
    endpoint: str
    region: str
    admin: AdminEndpoint
    deleting: bool = False

    @property
    def ref(self) -> str:
        """``<namespace>/<name>``, as status fields and messages name the store."""
        return f"{self.namespace}/{self.name}"

    def location(self, bucket_name: str) -> BucketLocation:
        parts = urlsplit(self.endpoint)
        default_port = 443 if parts.scheme == "https" else 80
        return BucketLocation(
            endpoint=self.endpoint,
            host=parts.hostname or "",
            port=parts.port or default_port,
            region=self.region,
            bucket_name=bucket_name,
            ca_pem=self.admin.ca_pem,
        )


def admits(store: dict[str, Any], namespace: str) -> bool:
    """Whether Buckets of ``namespace`` may live in ``store``."""
    if store["metadata"].get("namespace") == namespace:
        return True
    annotations = store["metadata"].get("annotations") or {}
    allowed = {
        item.strip() for item in str(annotations.get(SHARED_STORE_ANNOTATION, "")).split(",")
    }
    return "*" in allowed or namespace in allowed


def _ready_message(store: dict[str, Any]) -> str | None:
    """None when the store reports Ready=True, else what its Ready condition says."""
    for condition in (store.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") == "True":
                return None
            return str(condition.get("message") or condition.get("reason") or "not ready")
    return "it has reported no status yet"


def _gateway_ca(kube: Kube, namespace: str, name: str, spec: dict[str, Any]) -> str | None:
    """The authority of the store's gateways' certificate; None for a plain-HTTP store (or
    one whose TLS Secret is unusable: the store itself reports that, and calls fail until
    it is fixed rather than trust anything else)."""
    secret = ((spec.get("gateway") or {}).get("tls") or {}).get("secretName")
    if not secret:
        return None
    found = read_gateway_tls(kube, namespace, str(secret), f"{name}.{namespace}.svc")
    return found.ca_pem if isinstance(found, GatewayTls) else None


def find_store(
    kube: Kube,
    namespace: str,
    name: str,
    for_namespace: str,
    *,
    require_ready: bool = True,
    check_admission: bool = True,
) -> StoreAccess:
    """The store ``namespace/name`` as Buckets of ``for_namespace`` reach it.

    Raises ``InvalidSpec`` (StoreNotFound, StoreNotShared) when the Bucket must change or the
    store must be made, ``RetryLater`` (StoreNotReady) while the store is still coming up.
    Cleaning up after a deleted object needs neither readiness nor admission.
    """
    ref = f"{namespace}/{name}"
    store = kube.get(STORAGE_API, "ObjectStore", name, namespace)
    if store is None:
        raise InvalidSpec(
            f"ObjectStore {ref} does not exist: create it, or set spec.storeRef to an existing "
            "ObjectStore",
            reason="StoreNotFound",
        )
    if check_admission and not admits(store, for_namespace):
        raise InvalidSpec(
            f"ObjectStore {ref} does not admit Buckets of namespace {for_namespace}: its owner "
            f"can add {for_namespace} to its {SHARED_STORE_ANNOTATION} annotation, or use a "
            "store in this namespace",
            reason="StoreNotShared",
        )
    status = store.get("status") or {}
    endpoint = status.get("endpoint")
    problem = _ready_message(store) if require_ready else None
    if not endpoint or problem is not None:
        raise RetryLater(
            f"ObjectStore {ref} is not ready yet ({problem or 'no endpoint yet'}); the bucket "
            "is set up as soon as it serves S3",
            reason="StoreNotReady",
            delay=NOT_READY_DELAY,
        )
    secret_name = status.get("adminSecretName") or f"{name}-admin"
    secret = kube.get("v1", "Secret", secret_name, namespace) or {}
    data = secret.get("data") or {}
    if not data.get(ACCESS_KEY) or not data.get(SECRET_KEY):
        raise RetryLater(
            f"ObjectStore {ref} has no admin credential yet (Secret {secret_name})",
            reason="StoreNotReady",
            delay=NOT_READY_DELAY,
        )
    spec = store.get("spec") or {}
    region = str(spec.get("region") or DEFAULT_REGION)
    admin = AdminEndpoint(
        url=str(endpoint),
        access_key=base64.b64decode(data[ACCESS_KEY]).decode(),
        secret_key=base64.b64decode(data[SECRET_KEY]).decode(),
        region=region,
        ca_pem=_gateway_ca(kube, namespace, name, spec),
    )
    deleting = store["metadata"].get("deletionTimestamp") is not None
    return StoreAccess(namespace, name, str(endpoint), region, admin, deleting)
