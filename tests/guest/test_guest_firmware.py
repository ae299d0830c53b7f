"""A disk the firmware cannot boot: `Guest.boot_failure` says so within seconds (SeaBIOS's
"No bootable device" on its debug port), instead of a boot deadline running out.

No guest image needed: the disks are made here. A few seconds under TCG.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from e2e.guest import host_tools
from e2e.guest.qemu import (
    FIRMWARE_DEADLINE_SECONDS,
    POLL_SECONDS,
    QMP_READY_SECONDS,
    Guest,
    GuestSpec,
)

log = logging.getLogger(__name__)

TEST_TIMEOUT_SECONDS = QMP_READY_SECONDS + FIRMWARE_DEADLINE_SECONDS + 60
"""QEMU's start, the firmware's verdict, and a margin (a KVM attempt first, where it fails)."""
DISK_BYTES = 64 * 1024**2


def _zero_qcow2(path: Path) -> str:
    subprocess.run(
        [host_tools.program("qemu-img"), "create", "-q", "-f", "qcow2", str(path), "64M"],
        check=True,
    )
    return "qcow2"


def _random_raw(path: Path) -> str:
    """Random bytes, the boot signature of sector 0 (bytes 510-511, 55 AA) cleared so the
    firmware's verdict does not depend on luck."""
    data = bytearray(os.urandom(1024**2))
    data[510:512] = b"\0\0"
    with path.open("wb") as handle:
        handle.write(data)
        handle.truncate(DISK_BYTES)
    return "raw"


@pytest.mark.guest
@pytest.mark.timeout(TEST_TIMEOUT_SECONDS)
@pytest.mark.parametrize("make_disk", [_zero_qcow2, _random_raw], ids=["zeros", "random"])
def test_a_disk_without_a_boot_loader_is_reported_by_the_firmware(
    tmp_path: Path,
    make_disk: Callable[[Path], str],
    record_property: Callable[[str, object], None],
) -> None:
    host_tools.require()
    base = tmp_path / "base.img"
    base_format = make_disk(base)
    spec = GuestSpec(name="no-boot", base_disk=base, base_format=base_format, memory_mib=256)
    with Guest(spec, tmp_path / "guest") as guest:
        boot = guest.start()
        deadline = time.monotonic() + FIRMWARE_DEADLINE_SECONDS
        failure = guest.boot_failure()
        while failure is None and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS / 5)
            failure = guest.boot_failure()
        seconds = time.monotonic() - boot.started_at
        firmware = (tmp_path / "guest" / "firmware.log").read_text(errors="replace")
        assert failure is not None, (
            f"no boot failure after {FIRMWARE_DEADLINE_SECONDS:.0f} s; firmware log:\n"
            + firmware[-2000:]
        )
        assert failure.startswith("the firmware found no bootable disk: "), failure
        assert "not a bootable disk" in failure or "No bootable device" in failure, failure
        assert not guest.is_up()
        assert guest.is_running()  # SeaBIOS waits and retries; QEMU itself is fine
    log.info("boot failure after %.2f s (%s): %s", seconds, boot.accel, failure)
    record_property("boot_failure_seconds", round(seconds, 2))
    record_property("accel", boot.accel)
