"""A real guest, booted by the firmware from its disk as any cloud image (SeaBIOS, the MBR,
SYSLINUX, the kernel): cloud-init applies the user data and the key and grows the root
partition to the bigger virtual disk, SSH logs in, a QMP reset reboots it (new boot id, disk
intact) and an ACPI power-down stops QEMU.

One boot plus one reboot: about two minutes under TCG on 2 cores. Every wait is a poll with a
deadline derived from `TCG_BOOT_SECONDS` (e2e/guest/spec.py).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.guest.image import GuestImage
from e2e.guest.qemu import (
    ACCEL_ENV,
    BOOT_DEADLINE_SECONDS,
    SHUTDOWN_DEADLINE_SECONDS,
    Guest,
    GuestSpec,
)
from e2e.guest.ssh import keygen, ssh_run, ssh_until

log = logging.getLogger(__name__)

TEST_TIMEOUT_SECONDS = 2 * BOOT_DEADLINE_SECONDS + SHUTDOWN_DEADLINE_SECONDS + 60
"""Two boots and a power-down, each at its deadline, and a margin."""
MARKER_FILE = "/var/lib/nimbus-e2e/hello.txt"
DISK_SIZE = "4G"
"""Bigger than the image's 2 GiB: cloud-init's growpart grows the root partition."""
GROWN_ROOT_BYTES = 3 * 1024**3


def _user_data(public_key: str, token: str) -> str:
    """What the operator renders for a server with a KeyPair and user data that writes a file:
    one #cloud-config with ``ssh_authorized_keys`` for cloud-init's default user."""
    return (
        "#cloud-config\n"
        "hostname: e2e-guest\n"
        "ssh_authorized_keys:\n"
        f"  - {public_key}\n"
        "write_files:\n"
        f"  - path: {MARKER_FILE}\n"
        f"    content: {token}\n"
    )


@pytest.mark.guest
@pytest.mark.timeout(TEST_TIMEOUT_SECONDS)
def test_guest_boots_with_user_data_resets_and_powers_down(
    guest_image: GuestImage, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    key = tmp_path / "id_ed25519"
    public_key = keygen(key)
    token = uuid.uuid4().hex
    spec = GuestSpec.for_image(
        "e2e-guest",
        guest_image,
        user_data=_user_data(public_key, token),
        cpus=1,
        memory_mib=1024,
        disk_size=DISK_SIZE,
    )
    assert spec.kernel is None, "for_image boots the disk through the firmware"
    workdir = tmp_path / "guest"
    with Guest(spec, workdir) as guest:
        boot = guest.start()
        assert "-kernel" not in boot.command
        assert boot.accel in {"kvm", "tcg"}
        if boot.accel == "tcg" and spec.accel == "auto" and not os.environ.get(ACCEL_ENV):
            assert boot.kvm_error, "TCG without saying why KVM was not used"
        host, port = boot.host_address, boot.ssh_port

        ssh_seconds = guest.wait_for_ssh(BOOT_DEADLINE_SECONDS)
        first = ssh_until(
            host,
            port,
            key,
            f"cat {MARKER_FILE}; echo; hostname; cat /proc/sys/kernel/random/boot_id",
            timeout=BOOT_DEADLINE_SECONDS - ssh_seconds,
        )
        assert first.returncode == 0, first.stderr
        content, hostname, first_boot_id = first.stdout.split()
        assert content == token
        assert hostname == "e2e-guest"
        cloud_init_seconds = guest.wait_for_cloud_init(BOOT_DEADLINE_SECONDS)
        _check_booted_from_its_disk(guest, workdir, host, port, key)

        guest.reset()
        reset_at = time.monotonic()
        reboot_ssh_seconds = guest.wait_for_ssh(BOOT_DEADLINE_SECONDS)
        second = ssh_until(
            host,
            port,
            key,
            f"cat {MARKER_FILE}; echo; cat /proc/sys/kernel/random/boot_id",
            timeout=BOOT_DEADLINE_SECONDS,
        )
        assert second.returncode == 0, second.stderr
        content_after, second_boot_id = second.stdout.split()
        assert second_boot_id != first_boot_id
        assert content_after == token, "the disk lost the file across the reset"
        reboot_seconds = time.monotonic() - reset_at
        assert guest.boot_failure() is None

        powerdown_at = time.monotonic()
        guest.powerdown()
        assert guest.wait_for_exit(SHUTDOWN_DEADLINE_SECONDS) == 0
        assert not guest.is_running()
        powerdown_seconds = time.monotonic() - powerdown_at

    timings = {
        "accel": boot.accel,
        "ssh_seconds": round(ssh_seconds, 1),
        "cloud_init_seconds": round(cloud_init_seconds, 1),
        "reboot_ssh_seconds": round(reboot_ssh_seconds, 1),
        "reboot_login_seconds": round(reboot_seconds, 1),
        "powerdown_seconds": round(powerdown_seconds, 1),
    }
    for name, value in timings.items():
        record_property(name, value)
    log.info("guest timings: %s", timings)
    # The overlay disk is the only large file; the logs stay with pytest's tmp_path.
    (workdir / "disk.qcow2").unlink()


def _check_booted_from_its_disk(
    guest: Guest, workdir: Path, host: str, port: int, key: Path
) -> None:
    """Up, through the firmware and SYSLINUX, cloud-init done, the root partition grown."""
    assert guest.is_up()
    assert guest.boot_failure() is None
    firmware = (workdir / "firmware.log").read_text(errors="replace")
    assert "Booting from Hard Disk" in firmware, firmware[-2000:]
    assert "SYSLINUX" in guest.console_log()
    status = ssh_run(host, port, key, "cloud-init status --long")
    assert "status: done" in status.stdout, status.stdout + status.stderr
    # The root is partition 2, found by its label, grown to the bigger disk.
    root = ssh_run(host, port, key, "findmnt -bno SOURCE,SIZE /").stdout.split()
    assert root[0] == "/dev/vda2", root
    assert int(root[1]) > GROWN_ROOT_BYTES, root
    # The image's root file system writes data with each journal commit (its superblock's
    # default mount options, which /proc/mounts does not show), so the reset that follows
    # does not leave cloud-init's fresh files, the SSH host keys among them, empty.
    options = ssh_run(host, port, key, "cat /proc/fs/ext4/vda2/options").stdout.split()
    assert "nodelalloc" in options, options
