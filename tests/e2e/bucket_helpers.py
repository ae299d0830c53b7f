"""Helpers of the Bucket and BucketAccess end-to-end tests: manifests, reads, clients.

Apps in the cluster reach a store at its Service name (the Secrets' AWS_ENDPOINT_URL, e.g.
``http://store.ns.svc``); a test on the host reaches the same Service at its local address
(``e2e.nodeagent.network.service_local_address``), so clients here swap only the host.
"""

from __future__ import annotations

import base64
from typing import Any, Literal
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from kubernetes import client
from mypy_boto3_s3 import S3Client
from nimbus_operator.clients.admin import AdminClient, AdminEndpoint

from e2e.nodeagent.network import service_local_address
from tests.e2e.operator_install import IMAGE

GROUP, VERSION = "storage.nimbus.dev", "v1alpha1"
SHARED_STORE_ANNOTATION = f"{GROUP}/bucket-namespaces"
ROTATE_ANNOTATION = f"{GROUP}/rotate"


def store_manifest(name: str, admitted: list[str]) -> dict[str, Any]:
    annotations = {SHARED_STORE_ANNOTATION: ",".join(admitted)} if admitted else {}
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ObjectStore",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "image": IMAGE,
            "nodes": {"count": 3, "volumeSize": "1Gi"},
            "gateway": {"replicas": 1},
        },
    }


def bucket_manifest(name: str, store: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Bucket",
        "metadata": {"name": name},
        "spec": {"storeRef": {"name": store}, **spec},
    }


def access_manifest(
    name: str, claims: list[tuple[str, str, str]], grace_period: str = "1h"
) -> dict[str, Any]:
    """A BucketAccess of ``claims``: (Bucket, accessMode, accessSecretName)."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "BucketAccess",
        "metadata": {"name": name},
        "spec": {
            "bucketClaims": [
                {"bucketClaimName": bucket, "accessMode": mode, "accessSecretName": secret}
                for bucket, mode, secret in claims
            ],
            "rotation": {"gracePeriod": grace_period},
        },
    }


class Resources:
    """Create, read, patch and delete the storage kinds of one namespace."""

    def __init__(self, api: client.CustomObjectsApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace

    def create(self, plural: str, manifest: dict[str, Any]) -> None:
        self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, manifest)

    def get(self, plural: str, name: str) -> dict[str, Any]:
        found: Any = self.api.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, name
        )
        return dict(found)

    def patch(self, plural: str, name: str, body: dict[str, Any]) -> None:
        self.api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name, body)

    def delete(self, plural: str, name: str) -> None:
        self.api.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)

    def exists(self, plural: str, name: str) -> bool:
        try:
            self.get(plural, name)
        except client.exceptions.ApiException as error:
            if error.status == 404:
                return False
            raise
        return True


def ready(obj: dict[str, Any]) -> dict[str, Any]:
    """The Ready condition of a custom resource (empty when it has none yet)."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return dict(condition)
    return {}


def is_ready(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    generation = obj["metadata"].get("generation")
    return ready(obj).get("status") == "True" and status.get("observedGeneration") == generation


def secret_data(core_v1: client.CoreV1Api, namespace: str, name: str) -> dict[str, str]:
    secret = core_v1.read_namespaced_secret(name, namespace)
    return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}


def local_url(core_v1: client.CoreV1Api, endpoint: str) -> str:
    """``endpoint`` (``http://<svc>.<ns>.svc[:port]``) at the Service's local address."""
    parts = urlsplit(endpoint)
    service, namespace = (parts.hostname or "").split(".")[:2]
    found = core_v1.read_namespaced_service(service, namespace)
    address = service_local_address(found.spec.cluster_ip if found.spec else None)
    assert address is not None, f"Service {namespace}/{service} has no local address"
    port = parts.port or 80
    # No ":80": signers drop a default port from the Host they sign, urllib would send it.
    return f"http://{address}" if port == 80 else f"http://{address}:{port}"


def s3_from_secret(core_v1: client.CoreV1Api, namespace: str, secret: str) -> S3Client:
    """boto3 configured from nothing but an app's Secret (as ``envFrom`` would), plus the
    local address of its endpoint."""
    data = secret_data(core_v1, namespace, secret)
    style: Literal["path", "virtual"] = (
        "path" if data["AWS_S3_ADDRESSING_STYLE"] == "path" else "virtual"
    )
    return boto3.client(
        "s3",
        endpoint_url=local_url(core_v1, data["AWS_ENDPOINT_URL"]),
        aws_access_key_id=data["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=data["AWS_SECRET_ACCESS_KEY"],
        region_name=data["AWS_DEFAULT_REGION"],
        config=Config(
            s3={"addressing_style": style},
            retries={"max_attempts": 2},
        ),
    )


def s3_with_key(
    core_v1: client.CoreV1Api, namespace: str, store: str, key: str, secret: str
) -> S3Client:
    url = local_url(core_v1, f"http://{store}.{namespace}.svc")
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def admin_client(core_v1: client.CoreV1Api, namespace: str, store: str) -> AdminClient:
    """The store's admin API with its admin credential, as the operator uses it."""
    data = secret_data(core_v1, namespace, f"{store}-admin")
    url = local_url(core_v1, f"http://{store}.{namespace}.svc")
    return AdminClient(AdminEndpoint(url, data["accessKey"], data["secretKey"]))
