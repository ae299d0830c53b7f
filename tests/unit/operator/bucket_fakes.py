"""In-memory stand-ins for the operator's own wrappers (Kube, AdminClient, S3Client), for the
Bucket and BucketAccess reconciler tests: never HTTP, never a Kubernetes client.

`FakeKube` keeps objects by (kind, namespace, name) and applies a manifest as server-side apply
would for these tests (stringData becomes base64 data). `FakeStore` is one store's admin API and
S3 lifecycle calls, with the admin API's rules the reconcilers rely on (owners, storage
policies, idempotent deletes) and a ``down`` switch for an unreachable gateway.
"""

from __future__ import annotations

import base64
import copy
import itertools
from typing import Any

from nimbus_operator.clients.admin import AdminClient, AdminRefused
from nimbus_operator.clients.kube import Kube
from nimbus_operator.clients.s3 import S3Client
from nimbus_operator.errors import NotFound, RetryLater
from nimbus_operator.reconcilers.bucket.report import StoreClients
from nimbus_operator.reconcilers.bucket.store_access import StoreAccess

STORAGE_API = "storage.nimbus.dev/v1alpha1"
_uids = itertools.count(1)


class FakeKube(Kube):
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.applied: list[dict[str, Any]] = []
        self.patched: list[tuple[str, str | None, str, dict[str, Any]]] = []

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` as it is (a test's setup)."""
        metadata = obj["metadata"]
        metadata.setdefault("uid", f"uid-{next(_uids)}")
        metadata.setdefault("creationTimestamp", f"2024-01-01T00:00:{next(_uids) % 60:02d}Z")
        self.objects[(obj["kind"], metadata.get("namespace"), metadata["name"])] = obj
        return obj

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.applied.append(copy.deepcopy(manifest))
        stored = copy.deepcopy(manifest)
        if "stringData" in stored:
            strings = stored.pop("stringData")
            stored["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in strings.items()}
        metadata = stored["metadata"]
        old = self.objects.get((stored["kind"], metadata.get("namespace"), metadata["name"]))
        if old is not None:
            metadata["uid"] = old["metadata"]["uid"]
        return self.put(stored)

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        found = self.objects.get((kind, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(obj)
            for (k, ns, _), obj in sorted(self.objects.items(), key=lambda item: str(item[0]))
            if k == kind and (namespace is None or ns == namespace)
        ]

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        return self.objects.pop((kind, namespace, name), None) is not None

    def patch_merge(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: dict[str, Any],
    ) -> dict[str, Any]:
        """A JSON merge patch (RFC 7386) of a stored object; ``NotFound`` when absent."""
        found = self.objects.get((kind, namespace, name))
        if found is None:
            raise NotFound(f"patch {kind} {namespace or ''}/{name}: not found")
        self.patched.append((kind, namespace, name, copy.deepcopy(patch)))
        _merge(found, patch)
        return copy.deepcopy(found)


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class FakeStore:
    """One store as its admin API and S3 endpoint answer."""

    def __init__(self, policies: tuple[str, ...] = ("default",)) -> None:
        self.buckets: dict[str, dict[str, Any]] = {}
        self.credentials: dict[str, dict[str, Any]] = {}
        self.lifecycle: dict[str, list[dict[str, Any]]] = {}
        self.policies = policies
        self.writes: list[tuple[str, str]] = []
        self.down = False

    def check(self) -> None:
        if self.down:
            raise RetryLater("the store's gateway is unreachable", reason="GatewayUnavailable")


class FakeAdmin(AdminClient):
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get_bucket(self, name: str) -> dict[str, Any] | None:
        self.store.check()
        found = self.store.buckets.get(name)
        return copy.deepcopy(found) if found is not None else None

    def put_bucket(self, name: str, settings: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        store.check()
        policy = settings.get("storagePolicy") or store.policies[0]
        if policy not in store.policies:
            raise AdminRefused(400, "InvalidRequest", f"Unknown storage policy {policy!r}")
        existing = store.buckets.get(name)
        if existing is not None and existing["owner"] != settings["owner"]:
            raise AdminRefused(409, "BucketAlreadyExists", f"bucket {name} is owned by another")
        view = existing or {
            "name": name,
            "owner": settings["owner"],
            "versioning": "Disabled",
            "usage": {"bytes": 0, "objects": 0},
            "storagePolicy": policy,
        }
        view.update(
            {key: settings[key] for key in ("versioning", "quota", "policy") if key in settings}
        )
        store.buckets[name] = view
        store.writes.append(("PUT bucket", name))
        return copy.deepcopy(view)

    def delete_bucket(self, name: str, purge: bool) -> None:
        self.store.check()
        self.store.writes.append(("DELETE bucket" + (" purge" if purge else ""), name))
        self.store.buckets.pop(name, None)

    def put_credential(
        self,
        access_key: str,
        *,
        secret_key: str | None = None,
        grants: dict[str, str] | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        self.store.check()
        self.store.writes.append(("PUT credential", access_key))
        view = {
            "accessKey": access_key,
            "admin": False,
            "grants": dict(grants or {}),
            "description": description,
            "secretKey": secret_key,
        }
        self.store.credentials[access_key] = view
        return dict(view)

    def delete_credential(self, access_key: str) -> None:
        self.store.check()
        self.store.writes.append(("DELETE credential", access_key))
        self.store.credentials.pop(access_key, None)

    def credentials(self) -> list[dict[str, Any]]:
        self.store.check()
        return [
            {k: v for k, v in c.items() if k != "secretKey"}
            for c in self.store.credentials.values()
        ]


class FakeS3(S3Client):
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def lifecycle_rules(self, bucket: str) -> list[dict[str, Any]]:
        self.store.check()
        return copy.deepcopy(self.store.lifecycle.get(bucket, []))

    def put_lifecycle_rules(self, bucket: str, rules: list[dict[str, Any]]) -> None:
        self.store.check()
        self.store.writes.append(("PUT lifecycle", bucket))
        self.store.lifecycle[bucket] = copy.deepcopy(rules)


class FakeStores:
    """Every store by ``namespace/name``, and the ``connect`` the reconcilers take."""

    def __init__(self) -> None:
        self.stores: dict[str, FakeStore] = {}

    def __getitem__(self, ref: str) -> FakeStore:
        return self.stores.setdefault(ref, FakeStore())

    def connect(self, access: StoreAccess) -> StoreClients:
        store = self[access.ref]
        return StoreClients(FakeAdmin(store), FakeS3(store))


def object_store(
    kube: FakeKube, namespace: str, name: str = "store", *, ready: bool = True, **annotations: str
) -> dict[str, Any]:
    """An ObjectStore as its reconciler leaves it, with its admin Secret."""
    kube.put(
        {
            "kind": "Secret",
            "metadata": {"name": f"{name}-admin", "namespace": namespace},
            "data": {
                "accessKey": base64.b64encode(b"ADMINKEY").decode(),
                "secretKey": base64.b64encode(b"adminsecret").decode(),
            },
        }
    )
    return kube.put(
        {
            "kind": "ObjectStore",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
            "spec": {"region": "eu-west-1"},
            "status": {
                "endpoint": f"http://{name}.{namespace}.svc",
                "adminSecretName": f"{name}-admin",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        "message": "Serving" if ready else "1 of 3 storage nodes are ready",
                    }
                ],
            },
        }
    )


def bucket_body(kube: FakeKube, name: str, namespace: str = "team", **spec: Any) -> dict[str, Any]:
    spec.setdefault("storeRef", {"name": "store"})
    return kube.put(
        {
            "apiVersion": STORAGE_API,
            "kind": "Bucket",
            "metadata": {"name": name, "namespace": namespace, "generation": 1},
            "spec": spec,
        }
    )


def with_status(kube: FakeKube, body: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    """``body`` as it is after its status was published (kept in the fake too)."""
    updated = copy.deepcopy(body)
    updated["status"] = {key: value for key, value in status.items() if value is not None}
    return kube.put(updated)


def serve_https(
    kube: FakeKube, namespace: str, name: str = "store", *, tls: dict[str, str]
) -> dict[str, Any]:
    """Turn the ``object_store`` ``namespace/name`` into one serving HTTPS with a TLS Secret
    ``<name>-tls`` of ``tls`` (``tls.crt``, ``tls.key``, optionally ``ca.crt``: PEM text)."""
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": f"{name}-tls", "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in tls.items()},
        }
    )
    store = kube.objects[("ObjectStore", namespace, name)]
    store["spec"]["gateway"] = {"tls": {"secretName": f"{name}-tls"}}
    store["status"]["endpoint"] = f"https://{name}.{namespace}.svc"
    return store
