"""Valid custom-resource bodies of each kind, from the least a user writes to every field."""

from __future__ import annotations

from typing import Any

from tests.unit.operator.compute_samples import COMPUTE_SAMPLES

Body = dict[str, Any]


def body(kind: str, spec: dict[str, Any] | None, name: str = "sample") -> Body:
    """A custom-resource body around a spec (``None``: no spec at all)."""
    made: Body = {
        "apiVersion": "storage.nimbus.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "apps", "uid": "u-1", "generation": 2},
    }
    if spec is not None:
        made["spec"] = spec
    return made


OBJECT_STORES: dict[str, Body] = {
    "no-spec": body("ObjectStore", None),
    "empty": body("ObjectStore", {}),
    "full": body(
        "ObjectStore",
        {
            "image": "registry.example/nimbus:1.2",
            "region": "eu-west-3",
            "partPower": 14,
            "nodes": {
                "count": 6,
                "volumeSize": "1Ti",
                "storageClassName": "fast-ssd",
                "zones": ["zone-a", "zone-b", "zone-c"],
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {}},
            },
            "gateway": {
                "replicas": 3,
                "resources": {"limits": {"memory": "2Gi"}},
                "serviceType": "LoadBalancer",
                "port": 8080,
                "tls": {"secretName": "sample-tls"},
                "trustForwardedProto": True,
            },
            "encryption": {"keySecretName": "sample-sse-keys"},
            "forceDelete": True,
        },
    ),
}

STORAGE_POLICIES: dict[str, Body] = {
    "replicas": body("StoragePolicy", {"replicas": 3}),
    "erasure-coded": body(
        "StoragePolicy",
        {"erasureCoding": {"data": 4, "parity": 2}, "failureDomain": "node", "default": True},
    ),
}

BUCKETS: dict[str, Body] = {
    "minimal": body("Bucket", {"storeRef": {"name": "store"}}),
    "full": body(
        "Bucket",
        {
            "storeRef": {"name": "store"},
            "bucketName": "team-a.logs-2024",
            "storagePolicy": "ec-4-2",
            "versioning": "Enabled",
            "quota": {"maxSize": "100Gi", "maxObjects": 1000000},
            "lifecycle": {
                "rules": [
                    {"id": "expire-tmp", "prefix": "tmp/", "expirationDays": 7},
                    {
                        "id": "tidy",
                        "noncurrentVersionExpirationDays": 30,
                        "abortIncompleteMultipartUploadDays": 2,
                        "enabled": False,
                    },
                ]
            },
            "policy": {
                "statements": [
                    {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"]},
                ]
            },
            "deletionPolicy": "Delete",
            "ownerSecret": {"name": "logs-owner"},
        },
    ),
    "generated-name": body(
        "Bucket", {"storeRef": {"name": "store"}, "generateBucketName": "logs", "ownerSecret": {}}
    ),
}

BUCKET_ACCESSES: dict[str, Body] = {
    "minimal": body(
        "BucketAccess", {"bucketClaims": [{"bucketClaimName": "logs", "accessSecretName": "s"}]}
    ),
    "full": body(
        "BucketAccess",
        {
            "bucketClaims": [
                {"bucketClaimName": "logs", "accessMode": "ReadOnly", "accessSecretName": "a"},
                {"bucketClaimName": "dumps", "accessMode": "WriteOnly", "accessSecretName": "b"},
                {"bucketClaimName": "work", "accessMode": "ReadWrite", "accessSecretName": "c"},
            ],
            "rotation": {"requestedAt": "2024-05-01T12:00:00Z", "gracePeriod": "1h30m"},
        },
    ),
}

SAMPLES: dict[str, dict[str, Body]] = {
    "ObjectStore": OBJECT_STORES,
    "StoragePolicy": STORAGE_POLICIES,
    "Bucket": BUCKETS,
    "BucketAccess": BUCKET_ACCESSES,
    **COMPUTE_SAMPLES,
}
