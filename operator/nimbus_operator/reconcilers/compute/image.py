"""Image: a containerDisk is ready as it is; an http or bucket source is imported once by CDI
into a PVC (``<image>-image``) that servers' root disks are cloned from, as Glance images are
copied to Cinder volumes.

A bucket source is read through a presigned URL of Nimbus's own gateway, signed with the
store's admin credential and valid 7 days (the import reads it once): no key is handed to the
namespace, and CDI needs no S3 support. A store serving HTTPS gives CDI the authority of its
certificate in a ConfigMap (``certConfigMap``), which the importer checks the gateway against.
"""

from __future__ import annotations

from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.clients.s3 import S3Client
from nimbus_operator.constants import API_VERSION, STORAGE_GROUP
from nimbus_operator.errors import InvalidSpec, NotFound, RetryLater
from nimbus_operator.models.compute.image import Image, ImageSource
from nimbus_operator.reconcilers.bucket.store_access import find_store
from nimbus_operator.reconcilers.status import ConditionTuple, Report, ready
from nimbus_operator.render.image_import import (
    CDI_API,
    ImageImport,
    build_image_ca_configmap,
    build_image_data_volume,
    import_name,
)

STORAGE_API = f"{STORAGE_GROUP}/{API_VERSION}"
DEFAULT_DISK_BYTES = 10 * 2**30
PRESIGNED_SECONDS = 7 * 24 * 3600
WAIT_SECONDS = 5.0


def reconcile_image(kube: Kube, body: dict[str, Any]) -> Report:
    image = Image.from_body(body)
    source = image.spec.source
    fields: dict[str, Any] = {"source": source.summary}
    if source.container_disk is not None:
        message = f"containerDisk {source.container_disk.image}: servers boot it as it is."
        return Report("Ready", fields, ready(message, "ContainerDisk"))
    metadata = body["metadata"]
    namespace, name = str(metadata["namespace"]), str(metadata["name"])
    try:
        volume = kube.get(CDI_API, "DataVolume", import_name(name), namespace)
    except NotFound as error:
        raise RetryLater(
            "CDI is not installed (no cdi.kubevirt.io DataVolume API): http and bucket images "
            "are imported by it",
            reason="CDIMissing",
            delay=30.0,
        ) from error
    if volume is None:
        url, size, ca_pem = _download(kube, image, namespace)
        disk = max(image.spec.min_disk_bytes or DEFAULT_DISK_BYTES, size or 0)
        spec = ImageImport(namespace, name, str(metadata["uid"]), url, disk, ca_pem)
        if ca_pem is not None:
            kube.apply(build_image_ca_configmap(spec))
        kube.apply(build_image_data_volume(spec))
        fields["sizeBytes"] = size
        return _importing(fields, "the import has started", "0%")
    return _imported(volume, fields)


def _importing(fields: dict[str, Any], message: str, progress: str | None) -> Report:
    if progress:
        fields["progress"] = progress
    conditions: list[ConditionTuple] = [
        ("Ready", False, "Importing", f"Importing: {message}."),
        ("Progressing", True, "Importing", message),
    ]
    return Report("Importing", fields, conditions)


def _imported(volume: dict[str, Any], fields: dict[str, Any]) -> Report:
    status = volume.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    progress = status.get("progress")
    if phase == "Succeeded":
        fields.update({"claimName": volume["metadata"]["name"], "progress": "100.0%"})
        claim = volume["metadata"]["name"]
        message = f"Imported into PVC {claim}: servers clone their root disk from it."
        return Report("Ready", fields, ready(message, "Imported"))
    if phase == "Failed":
        why = _condition_messages(status) or "CDI reports the import failed"
        message = (
            f"The import failed: {why}. Fix the source, then delete and re-create the Image "
            "(its source cannot change)"
        )
        conditions: list[ConditionTuple] = [
            ("Ready", False, "ImportFailed", message),
            ("Progressing", False, "ImportFailed", "Waiting for a new Image."),
        ]
        return Report("Failed", fields, conditions)
    return _importing(fields, f"CDI reports {phase}", str(progress) if progress else None)


def _condition_messages(status: dict[str, Any]) -> str:
    messages = [
        str(c.get("message"))
        for c in status.get("conditions") or []
        if c.get("message") and c.get("status") != "True"
    ]
    return "; ".join(dict.fromkeys(messages))


def _download(kube: Kube, image: Image, namespace: str) -> tuple[str, int | None, str | None]:
    """The URL CDI downloads the image from, the file's size when known, and the authority
    to trust for it when it is a store's https URL."""
    source: ImageSource = image.spec.source
    if source.http is not None:
        return source.http.url, None, None
    assert source.bucket is not None
    bucket_ref = source.bucket
    bucket = kube.get(STORAGE_API, "Bucket", bucket_ref.name, namespace)
    if bucket is None:
        raise InvalidSpec(
            f"Bucket {namespace}/{bucket_ref.name} does not exist: create it (and upload "
            f"{bucket_ref.key} into it), or name another Bucket in source.bucket.name",
            reason="BucketNotFound",
        )
    status = bucket.get("status") or {}
    bucket_name = status.get("bucketName")
    if status.get("phase") != "Ready" or not bucket_name:
        raise RetryLater(
            f"Bucket {bucket_ref.name} is not Ready yet: the import starts once it is",
            reason="BucketNotReady",
            delay=WAIT_SECONDS,
        )
    store_ref = (bucket.get("spec") or {}).get("storeRef") or {}
    store = find_store(
        kube, str(store_ref.get("namespace") or namespace), str(store_ref["name"]), namespace
    )
    s3 = S3Client(store.admin)
    size = s3.object_size(bucket_name, bucket_ref.key)
    if size is None:
        raise RetryLater(
            f"Bucket {bucket_ref.name} has no object {bucket_ref.key} yet: upload it (aws s3 cp "
            f"FILE s3://{bucket_name}/{bucket_ref.key}); the import starts once it is there",
            reason="ObjectNotFound",
            delay=WAIT_SECONDS,
        )
    url = s3.presigned_get(bucket_name, bucket_ref.key, PRESIGNED_SECONDS)
    return url, size, store.admin.ca_pem if store.admin.secure else None
