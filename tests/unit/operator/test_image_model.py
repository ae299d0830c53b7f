"""Image: exactly one source (containerDisk, http, bucket), format, minDisk, immutability."""

from __future__ import annotations

from typing import Any

import pytest
from nimbus_operator.models.common import SpecError
from nimbus_operator.models.compute.image import (
    BucketSource,
    Image,
    ImageFormat,
    ImagePhase,
    ImageSpec,
    ImageStatus,
)

from tests.unit.operator.compute_samples import IMAGES

DISK = {"containerDisk": {"image": "quay.io/containerdisks/fedora:40"}}


def test_container_disk_with_defaults() -> None:
    spec = ImageSpec.from_body(IMAGES["container-disk"])
    assert spec.source.container_disk is not None
    assert spec.source.container_disk.image == "quay.io/containerdisks/fedora:40"
    assert (spec.source.http, spec.source.bucket) == (None, None)
    assert spec.format is ImageFormat.QCOW2
    assert (spec.min_disk, spec.min_disk_bytes, spec.public) == (None, None, False)
    assert spec.source.summary == "containerDisk:quay.io/containerdisks/fedora:40"


def test_http_image() -> None:
    spec = ImageSpec.from_body(IMAGES["http"])
    assert spec.source.http is not None
    assert spec.format is ImageFormat.RAW
    assert spec.min_disk_bytes == 5 * 2**30
    assert spec.source.summary == "http:https://cloud.example/noble.img"


def test_bucket_image() -> None:
    image = Image.from_body(IMAGES["bucket"])
    assert image.spec.source.bucket == BucketSource(
        name="images", key="noble.qcow2", access_secret_name="images-ro"
    )
    assert image.spec.public is True
    assert image.spec.source.summary == "bucket:images/noble.qcow2"
    unsigned = ImageSpec.from_body({"spec": {"source": {"bucket": {"name": "b", "key": "k"}}}})
    assert unsigned.source.bucket is not None
    assert unsigned.source.bucket.access_secret_name is None


ONE_OF = "spec.source: set exactly one of containerDisk, http and bucket"


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({}, "spec.source: is required"),
        ({"source": {}}, ONE_OF),
        ({"source": {**DISK, "http": {"url": "https://a.example/x.img"}}}, ONE_OF),
        ({"source": {"containerDisk": {}}}, "spec.source.containerDisk.image: is required"),
        (
            {"source": {"containerDisk": {"image": "quay.io/a b"}}},
            "spec.source.containerDisk.image: must be a container image reference without spaces",
        ),
        (
            {"source": {"http": {"url": "ftp://a.example/x.img"}}},
            "spec.source.http.url: must be an http:// or https:// URL without spaces",
        ),
        (
            {"source": {"http": {"url": "https:///x.img"}}},
            "spec.source.http.url: must be an http:// or https:// URL",
        ),
        ({"source": {"bucket": {"key": "k"}}}, "spec.source.bucket.name: is required"),
        ({"source": {"bucket": {"name": "b"}}}, "spec.source.bucket.key: is required"),
        (
            {"source": {"bucket": {"name": "Images", "key": "k"}}},
            "spec.source.bucket.name: must be a Kubernetes object name",
        ),
        (
            {"source": {"bucket": {"name": "b", "key": ""}}},
            "spec.source.bucket.key: must not be empty",
        ),
        (
            {"source": {"bucket": {"name": "b", "key": "k" * 1025}}},
            "spec.source.bucket.key: must be at most 1024 characters long",
        ),
        (
            {"source": {"bucket": {"name": "b", "key": "k", "accessSecretName": "A"}}},
            "spec.source.bucket.accessSecretName: must be a Kubernetes object name",
        ),
        ({"source": DISK, "format": "vmdk"}, "spec.format: must be one of qcow2, raw"),
        ({"source": DISK, "minDisk": "ten gigs"}, "spec.minDisk: must be a quantity"),
        ({"source": DISK, "minDisk": 0}, "spec.minDisk: must be more than 0 bytes"),
        ({"source": DISK, "public": "yes"}, "spec.public: must be true or false"),
    ],
)
def test_bad_images_name_the_field(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as caught:
        ImageSpec.from_body({"spec": spec})
    assert str(caught.value).startswith(error), str(caught.value)


def test_source_and_format_cannot_change_but_public_can() -> None:
    old = {"spec": {"source": DISK, "format": "qcow2"}}
    other = {"containerDisk": {"image": "quay.io/containerdisks/fedora:41"}}
    with pytest.raises(SpecError, match="source cannot change: create another Image"):
        ImageSpec.check_update(old, {"spec": {"source": other, "format": "qcow2"}})
    with pytest.raises(SpecError, match="format cannot change"):
        ImageSpec.check_update(old, {"spec": {"source": DISK, "format": "raw"}})
    ImageSpec.check_update(old, {"spec": {**old["spec"], "public": True, "minDisk": "1Gi"}})


def test_status_round_trips() -> None:
    body = {
        "status": {
            "phase": "Importing",
            "source": "bucket:images/noble.qcow2",
            "sizeBytes": 3 * 2**30,
            "progress": "45.2%",
            "claimName": "noble",
        }
    }
    status = ImageStatus.from_body(body)
    assert status.phase is ImagePhase.IMPORTING
    assert status.to_body() == {**body["status"], "conditions": []}
