"""Names shared by every layer of the operator: API groups, versions, label keys."""

from __future__ import annotations

STORAGE_GROUP = "storage.nimbus.dev"
COMPUTE_GROUP = "compute.nimbus.dev"
API_VERSION = "v1alpha1"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "nimbus-operator"
