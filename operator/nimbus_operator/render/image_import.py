"""The CDI DataVolume that imports an Image's file once (http, or a presigned URL of an object
in a Nimbus Bucket); servers' root disks are then cloned from the PVC it fills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nimbus_operator.constants import API_VERSION, COMPUTE_GROUP, MANAGED_BY, MANAGED_BY_LABEL

CDI_API = "cdi.kubevirt.io/v1beta1"
IMAGE_LABEL = f"{COMPUTE_GROUP}/image"
IMPORT_SUFFIX = "-image"
CA_SUFFIX = "-image-ca"
CA_KEY = "ca.pem"


def import_name(image: str) -> str:
    """The DataVolume (and the PVC CDI fills) of Image ``image``."""
    return f"{image}{IMPORT_SUFFIX}"


def ca_config_map_name(image: str) -> str:
    """The ConfigMap of the authority CDI trusts for an https presigned URL of Image ``image``."""
    return f"{image}{CA_SUFFIX}"


@dataclass(frozen=True)
class ImageImport:
    namespace: str
    image: str
    uid: str
    url: str
    """What CDI downloads: the http source, or a presigned GET of the bucket object."""
    size_bytes: int
    """The PVC's size: the Image's minDisk, at least the file's size."""
    ca_pem: str | None = None
    """For a presigned URL of a store serving HTTPS: the authority of its certificate, which
    CDI's importer trusts through ``certConfigMap`` (the store's TLS Secret's, public)."""


def _metadata(spec: ImageImport, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": spec.namespace,
        "labels": {MANAGED_BY_LABEL: MANAGED_BY, IMAGE_LABEL: spec.image},
        "ownerReferences": [
            {
                "apiVersion": f"{COMPUTE_GROUP}/{API_VERSION}",
                "kind": "Image",
                "name": spec.image,
                "uid": spec.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


def build_image_ca_configmap(spec: ImageImport) -> dict[str, Any]:
    """The ConfigMap ``certConfigMap`` names (only for a ``spec`` with ``ca_pem``)."""
    assert spec.ca_pem is not None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(spec, ca_config_map_name(spec.image)),
        "data": {CA_KEY: spec.ca_pem},
    }


def build_image_data_volume(spec: ImageImport) -> dict[str, Any]:
    http: dict[str, Any] = {"url": spec.url}
    if spec.ca_pem is not None:
        http["certConfigMap"] = ca_config_map_name(spec.image)
    return {
        "apiVersion": CDI_API,
        "kind": "DataVolume",
        "metadata": _metadata(spec, import_name(spec.image)),
        "spec": {
            "source": {"http": http},
            "contentType": "kubevirt",
            "storage": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": str(spec.size_bytes)}},
            },
        },
    }
