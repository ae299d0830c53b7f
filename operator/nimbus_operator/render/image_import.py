"""The CDI DataVolume that imports an Image's file once (http, or a presigned URL of an object
in a Nimbus Bucket); servers' root disks are then cloned from the PVC it fills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nimbus_operator.constants import API_VERSION, COMPUTE_GROUP, MANAGED_BY, MANAGED_BY_LABEL

CDI_API = "cdi.kubevirt.io/v1beta1"
IMAGE_LABEL = f"{COMPUTE_GROUP}/image"
IMPORT_SUFFIX = "-image"


def import_name(image: str) -> str:
    """The DataVolume (and the PVC CDI fills) of Image ``image``."""
    return f"{image}{IMPORT_SUFFIX}"


@dataclass(frozen=True)
class ImageImport:
    namespace: str
    image: str
    uid: str
    url: str
    """What CDI downloads: the http source, or a presigned GET of the bucket object."""
    size_bytes: int
    """The PVC's size: the Image's minDisk, at least the file's size."""


def build_image_data_volume(spec: ImageImport) -> dict[str, Any]:
    return {
        "apiVersion": CDI_API,
        "kind": "DataVolume",
        "metadata": {
            "name": import_name(spec.image),
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
        },
        "spec": {
            "source": {"http": {"url": spec.url}},
            "contentType": "kubevirt",
            "storage": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": str(spec.size_bytes)}},
            },
        },
    }
