"""Names shared by every layer of the operator: API groups, versions, label keys."""

from __future__ import annotations

STORAGE_GROUP = "storage.nimbus.dev"
COMPUTE_GROUP = "compute.nimbus.dev"
API_VERSION = "v1alpha1"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "nimbus-operator"
FIELD_MANAGER = "nimbus-operator"

ROTATE_ANNOTATION = f"{STORAGE_GROUP}/rotate"
"""On a BucketAccess: any new value asks the operator to rotate its access key now."""
