"""Images from a Nimbus Bucket, end to end: the object is imported once (a CDI DataVolume
reading a presigned URL of the store's own gateway; the harness's stand-in importer really
reads it), and servers' root disks are cloned from the imported claim.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.e2e.compute_helpers import COMPUTE, Compute, cluster_flavors, server_manifest
from tests.e2e.image_helpers import bucket_image, image_status, images_namespace
from tests.e2e.operator_install import Operator
from tests.e2e.test_operator_store import s3_client
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

IMPORT_TIMEOUT = 120.0
DISK = b"QFI\xfb" + os.urandom(64 * 1024)
"""Not a bootable disk: in this namespace the stand-in only checks the object can be read and
nothing boots (tests/e2e/test_server_guests.py boots a real one)."""


@pytest.fixture(scope="module")
def images_bucket(
    nimbus_operator: Operator, core_v1: client.CoreV1Api, custom_objects: client.CustomObjectsApi
) -> Iterator[tuple[str, str]]:
    """A namespace with a Ready store and a Ready Bucket ``images``: (namespace, S3 name)."""
    namespace, s3_name = images_namespace(core_v1, custom_objects, "e2e-img")
    yield namespace, s3_name
    core_v1.delete_namespace(namespace)


def test_an_image_in_a_bucket_is_imported_and_servers_clone_their_disk_from_it(
    images_bucket: tuple[str, str],
    core_v1: client.CoreV1Api,
    custom_objects: client.CustomObjectsApi,
) -> None:
    namespace, s3_name = images_bucket
    compute = Compute(custom_objects, namespace)
    compute.create("images", bucket_image("debian", "debian.qcow2"))

    waiting = wait_until(
        lambda: image_status(compute, "debian"),
        lambda seen: "has no object debian.qcow2" in str(seen.get("conditions")),
        "the Image to wait for its object",
        IMPORT_TIMEOUT,
    )
    assert waiting["phase"] == "Pending"
    s3_client(core_v1, namespace, "store").put_object(Bucket=s3_name, Key="debian.qcow2", Body=DISK)

    ready = wait_until(
        lambda: image_status(compute, "debian"),
        lambda seen: seen.get("phase") == "Ready",
        "the Image imported",
        IMPORT_TIMEOUT,
    )
    assert ready["sizeBytes"] == len(DISK)
    assert ready["claimName"] == "debian-image"
    assert ready["source"] == "bucket:images/debian.qcow2"
    volume: Any = custom_objects.get_namespaced_custom_object(
        "cdi.kubevirt.io", "v1beta1", namespace, "datavolumes", "debian-image"
    )
    url = volume["spec"]["source"]["http"]["url"]
    assert url.startswith(f"http://store.{namespace}.svc/{s3_name}/debian.qcow2?")
    assert "X-Amz-Signature=" in url, "a presigned URL: no key is handed to the namespace"
    assert f"size {len(DISK)}" in str(volume["status"]["conditions"]) or volume["status"][
        "phase"
    ] == ("Succeeded")

    flavors = cluster_flavors(custom_objects, (1, "512Mi"))
    (flavor,) = next(flavors)
    compute.create("virtualservers", server_manifest("from-bucket", flavor, "debian"))
    compute.wait_status("from-bucket", "ACTIVE")
    vm = compute.existing_vm("from-bucket")
    (root,) = [t for t in vm["spec"]["dataVolumeTemplates"] if "rootdisk" in t["metadata"]["name"]]
    assert root["spec"]["source"] == {"pvc": {"namespace": namespace, "name": "debian-image"}}
    compute.delete("virtualservers", "from-bucket")
    wait_until(lambda: compute.vm("from-bucket"), lambda vm: vm is None, "the VM to go", 60)
    compute.delete("flavors", flavor)


def test_an_image_that_cannot_be_imported_fails_and_so_do_its_servers(
    images_bucket: tuple[str, str], custom_objects: client.CustomObjectsApi
) -> None:
    namespace, _ = images_bucket
    compute = Compute(custom_objects, namespace)
    broken = {
        "apiVersion": "/".join(COMPUTE),
        "kind": "Image",
        "metadata": {"name": "broken"},
        "spec": {"source": {"http": {"url": "http://images.example.invalid/disk.qcow2"}}},
    }
    compute.create("images", broken)

    failed = wait_until(
        lambda: image_status(compute, "broken"),
        lambda seen: seen.get("phase") == "Failed",
        "the import to fail",
        IMPORT_TIMEOUT,
    )
    message = str(failed["conditions"])
    assert "The import failed" in message
    assert "images.example.invalid" in message

    flavors = cluster_flavors(custom_objects, (1, "512Mi"))
    (flavor,) = next(flavors)
    compute.create("virtualservers", server_manifest("doomed", flavor, "broken"))
    fault = wait_until(
        lambda: compute.server_status("doomed"),
        lambda seen: seen.get("status") == "ERROR",
        "the server to be in ERROR",
        IMPORT_TIMEOUT,
    )
    assert "Image " + namespace + "/broken failed to import" in fault["fault"]["message"]
    assert compute.vm("doomed") is None
    compute.delete("virtualservers", "doomed")
