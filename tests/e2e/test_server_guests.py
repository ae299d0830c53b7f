"""VirtualServers that really boot: the operator's VirtualMachine, run by the KubeVirt stand-in's
launcher as a QEMU guest (e2e/kubevirt_standin/launcher), from the guest image uploaded to a
Nimbus Bucket and imported through the Image's bucket source.

One server lives through Nova's actions, each checked inside the guest over SSH with the
KeyPair's private key at the server's documented address (``status.ip``, port 22): the user
data's file, a reboot (new boot id, disk kept), a stop and a start (disk kept), a rebuild on
another Image (the guest image as a containerDisk: a fresh disk of that image's own size). A
disk that does not boot ends in ERROR with the firmware's words. Each boot is about a minute
of TCG on 2 cores: every wait derives from the guest tier's BOOT_DEADLINE_SECONDS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from e2e.guest.image import ensure_image
from e2e.guest.qemu import BOOT_DEADLINE_SECONDS, SHUTDOWN_DEADLINE_SECONDS
from e2e.guest.recipe import DISK_SIZE_BYTES
from e2e.guest.ssh import SshError, keygen, ssh_run, ssh_until
from e2e.kubevirt_standin.guests import GUEST_CONTAINER_DISK, GUESTS_LABEL, GUESTS_LABEL_VALUE
from tests.e2e.compute_helpers import (
    COMPUTE,
    Compute,
    cluster_flavors,
    image_manifest,
    server_manifest,
)
from tests.e2e.image_helpers import bucket_image, image_status, images_namespace
from tests.e2e.operator_install import Operator
from tests.e2e.test_operator_store import s3_client
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

IMPORT_TIMEOUT = 300.0
"""The guest image (~470 MiB) through the gateway into the image's claim, then a clone."""
BOOT_TIMEOUT = BOOT_DEADLINE_SECONDS + 60.0
STOP_TIMEOUT = SHUTDOWN_DEADLINE_SECONDS + 30.0
USER = "debian"
"""cloud-init's default user in Debian's images."""
MARKER = "/var/lib/nimbus-e2e/from-user-data"
KEPT = "/var/lib/nimbus-e2e/written-over-ssh"
"""Written with sudo, as cloud-init's default user may."""
SSH_TIMEOUT = 60.0
LIFE_TIMEOUT = 2 * IMPORT_TIMEOUT + 4 * BOOT_TIMEOUT + 3 * STOP_TIMEOUT
"""The lifecycle test: an import and a clone, four boots, three shutdowns, each at its
deadline."""


@pytest.fixture(scope="module")
def guest_namespace(
    nimbus_operator: Operator, core_v1: client.CoreV1Api, custom_objects: client.CustomObjectsApi
) -> Iterator[tuple[str, str]]:
    """A namespace whose VMIs boot real guests, with a Ready store and Bucket ``images``
    holding the guest image as ``debian.qcow2``: (namespace, S3 bucket name)."""
    image = ensure_image().image
    namespace, s3_name = images_namespace(
        core_v1, custom_objects, "e2e-guest", {GUESTS_LABEL: GUESTS_LABEL_VALUE}
    )
    s3_client(core_v1, namespace, "store").upload_file(str(image.disk), s3_name, "debian.qcow2")
    yield namespace, s3_name
    core_v1.delete_namespace(namespace)


def keypair(name: str, public_key: str) -> dict[str, Any]:
    return {
        "apiVersion": "/".join(COMPUTE),
        "kind": "KeyPair",
        "metadata": {"name": name},
        "spec": {"publicKey": public_key},
    }


def _in_guest(address: str, key: Path, command: str, timeout: float = SSH_TIMEOUT) -> str:
    done = ssh_until(address, 22, key, command, timeout=timeout, user=USER)
    assert done.returncode == 0, f"{command!r} in the guest: {done.stderr}"
    return done.stdout.strip()


def _address(status: dict[str, Any]) -> str:
    """The server's documented address: ``status.ip``, the pod IP its ports are forwarded from
    (a new instance, after a reboot or a start, has a new one, as on KubeVirt's pod network)."""
    address = str(status.get("ip") or "")
    assert address.startswith("127."), f"a pod address on loopback, not {address!r}"
    return address


def _active_again(compute: Compute, before: dict[str, Any], timeout: float) -> str:
    """Wait for a new instance of vm-1 to be ACTIVE (``launchedAt`` moved on from ``before``'s:
    the status read right after a spec change may still be the old instance's); its address."""
    status = wait_until(
        lambda: compute.server_status("vm-1"),
        lambda seen: (
            seen.get("status") == "ACTIVE"
            and not seen.get("taskState")
            and seen.get("launchedAt") != before.get("launchedAt")
        ),
        "vm-1 ACTIVE on a new instance",
        timeout,
    )
    return _address(status)


@pytest.mark.timeout(LIFE_TIMEOUT)
def test_a_server_boots_its_image_from_a_bucket_and_lives_through_nova_actions(
    guest_namespace: tuple[str, str],
    custom_objects: client.CustomObjectsApi,
    tmp_path: Path,
) -> None:
    namespace, _ = guest_namespace
    compute = Compute(custom_objects, namespace)
    key = tmp_path / "id_ed25519"
    compute.create("keypairs", keypair("tester", keygen(key)))
    compute.create("images", bucket_image("debian", "debian.qcow2", "3Gi"))
    wait_until(
        lambda: image_status(compute, "debian"),
        lambda seen: seen.get("phase") == "Ready",
        "the Image imported from the bucket",
        IMPORT_TIMEOUT,
    )
    token = uuid.uuid4().hex
    user_data = f"#cloud-config\nwrite_files:\n  - path: {MARKER}\n    content: {token}\n"
    (flavor,) = next(cluster_flavors(custom_objects, (1, "1Gi")))
    server = server_manifest(
        "vm-1",
        flavor,
        "debian",
        keyPairs=["tester"],
        userData=user_data,
        networks=[{"name": "default", "ports": [{"name": "ssh", "port": 22}]}],
        volumes=[{"name": "data", "size": "1Gi"}],
    )
    compute.create("virtualservers", server)
    active = compute.wait_status("vm-1", "ACTIVE", IMPORT_TIMEOUT + BOOT_TIMEOUT)
    address = _address(active)

    # Boot: the key logs in, the user data ran, the hostname is the server's.
    first = _in_guest(
        address,
        key,
        f"cat {MARKER}; echo; hostname; cat /proc/sys/kernel/random/boot_id; "
        "lsblk -bdno SIZE /dev/disk/by-id/virtio-data; lsblk -bdno SIZE /dev/vda",
    )
    found_token, hostname, boot_1, data_bytes, root_bytes = first.splitlines()
    assert found_token == token
    assert hostname == "vm-1"
    assert int(data_bytes) == 1 << 30, "the blank 1Gi volume, by its serial"
    assert int(root_bytes) == 10 << 30, "the root disk: a clone of the image, the flavor's size"
    _in_guest(address, key, f"echo kept | sudo tee {KEPT} >/dev/null && sync")

    # Reboot: REBOOT, then ACTIVE with a new boot id and the disk as it was.
    before = compute.server_status("vm-1")
    compute.patch_server("vm-1", {"reboot": {"request": "2030-01-01T00:00:00Z"}})
    wait_until(
        lambda: compute.server_status("vm-1"),
        lambda seen: seen.get("status") == "REBOOT",
        "the server in REBOOT",
        STOP_TIMEOUT,
    )
    address = _active_again(compute, before, STOP_TIMEOUT + BOOT_TIMEOUT)
    kept, boot_2 = _in_guest(
        address, key, f"cat {KEPT}; cat /proc/sys/kernel/random/boot_id", BOOT_TIMEOUT
    ).splitlines()
    assert kept == "kept"
    assert boot_2 != boot_1

    # Stop: the guest shuts down (SSH stops answering); start: the same disk boots again.
    before = compute.server_status("vm-1")
    compute.patch_server("vm-1", {"powerState": "Stopped"})
    compute.wait_status("vm-1", "SHUTOFF", STOP_TIMEOUT)
    assert compute.instance_uid("vm-1") is None
    with pytest.raises(SshError):
        ssh_run(address, 22, key, "true", user=USER, timeout=10)
    compute.patch_server("vm-1", {"powerState": "Running"})
    address = _active_again(compute, before, BOOT_TIMEOUT)
    kept, boot_3 = _in_guest(
        address, key, f"cat {KEPT}; cat /proc/sys/kernel/random/boot_id", BOOT_TIMEOUT
    ).splitlines()
    assert kept == "kept"
    assert boot_3 not in (boot_1, boot_2)

    # Rebuild on another Image (the guest image as a containerDisk): a fresh root disk of that
    # image's own size; the user data ran again, the file written over SSH is gone.
    compute.create("images", image_manifest("debian-cd", f"{GUEST_CONTAINER_DISK}:latest"))
    before = compute.server_status("vm-1")
    compute.patch_server(
        "vm-1",
        {"image": {"name": "debian-cd"}, "rebuild": {"request": "2030-01-02T00:00:00Z"}},
    )
    address = _active_again(compute, before, IMPORT_TIMEOUT + STOP_TIMEOUT + BOOT_TIMEOUT)
    assert compute.server_status("vm-1")["image"] == f"{namespace}/debian-cd"
    rebuilt = _in_guest(
        address,
        key,
        f"cat {MARKER}; echo; test -e {KEPT} && echo still-there || echo gone; "
        "lsblk -bdno SIZE /dev/vda",
        BOOT_TIMEOUT,
    )
    assert rebuilt.splitlines() == [token, "gone", str(DISK_SIZE_BYTES)]

    compute.delete("virtualservers", "vm-1")
    wait_until(lambda: compute.vm("vm-1"), lambda vm: vm is None, "the VM to go", STOP_TIMEOUT)


@pytest.mark.timeout(IMPORT_TIMEOUT + BOOT_TIMEOUT + 60)
def test_a_disk_that_does_not_boot_puts_the_server_in_error_with_the_firmware_s_words(
    guest_namespace: tuple[str, str],
    core_v1: client.CoreV1Api,
    custom_objects: client.CustomObjectsApi,
) -> None:
    namespace, s3_name = guest_namespace
    compute = Compute(custom_objects, namespace)
    s3_client(core_v1, namespace, "store").put_object(
        Bucket=s3_name, Key="blank.img", Body=bytes(4 << 20)
    )
    compute.create("images", bucket_image("blank", "blank.img", "3Gi"))
    (flavor,) = next(cluster_flavors(custom_objects, (1, "512Mi")))
    compute.create("virtualservers", server_manifest("no-boot", flavor, "blank"))
    error = wait_until(
        lambda: compute.server_status("no-boot"),
        lambda seen: seen.get("status") == "ERROR",
        "the server in ERROR",
        IMPORT_TIMEOUT + BOOT_TIMEOUT,
    )
    message = error["fault"]["message"]
    assert "failed to start" in message
    assert "the guest did not boot" in message
    assert "bootable" in message
    compute.delete("virtualservers", "no-boot")
