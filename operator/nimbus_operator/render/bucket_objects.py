"""The Kubernetes objects of Buckets and BucketAccesses: a ConfigMap per Bucket, credential
Secrets for apps (pure builders: data in, manifest dict out).

Each is owned (controller reference) by the Bucket or BucketAccess that asked for it, so it
goes with its owner; the labels say which one, for ``kubectl get -l``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nimbus_operator.constants import (
    API_VERSION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    STORAGE_GROUP,
)
from nimbus_operator.render.bucket_keys import BucketLocation, credential_keys, location_keys

BUCKET_LABEL = f"{STORAGE_GROUP}/bucket"
BUCKET_ACCESS_LABEL = f"{STORAGE_GROUP}/bucket-access"
COMPONENT_LABEL = "app.kubernetes.io/component"


@dataclass(frozen=True)
class Owner:
    """The custom resource that owns what is rendered for it."""

    kind: str
    """``Bucket`` or ``BucketAccess``."""
    name: str
    namespace: str
    uid: str

    @property
    def label(self) -> str:
        return BUCKET_LABEL if self.kind == "Bucket" else BUCKET_ACCESS_LABEL


def owner_reference(owner: Owner) -> dict[str, Any]:
    return {
        "apiVersion": f"{STORAGE_GROUP}/{API_VERSION}",
        "kind": owner.kind,
        "name": owner.name,
        "uid": owner.uid,
        "controller": True,
    }


def object_meta(owner: Owner, name: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": {
            MANAGED_BY_LABEL: MANAGED_BY,
            COMPONENT_LABEL: component,
            owner.label: owner.name,
        },
        "ownerReferences": [owner_reference(owner)],
    }


def build_bucket_configmap(owner: Owner, name: str, location: BucketLocation) -> dict[str, Any]:
    """Where the bucket is, for apps: endpoint, region, S3 name (no credentials)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(owner, name, "bucket"),
        "data": location_keys(location),
    }


def build_credential_secret(
    owner: Owner,
    name: str,
    location: BucketLocation,
    access_key: str,
    secret_key: str,
    *,
    component: str,
) -> dict[str, Any]:
    """Credentials for one bucket and everything needed to reach it: an app's ``envFrom`` of
    this Secret alone is enough for boto3 and the aws CLI."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(owner, name, component),
        "type": "Opaque",
        "stringData": credential_keys(location, access_key, secret_key),
    }
