"""What to boot and how (`GuestSpec`, `PortForward`), what a start did (`BootInfo`), the QEMU
command line (`qemu_command`, pure), and the timing constants every wait derives from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.guest.cache import GuestImage
from e2e.guest.recipe import BOOT_APPEND

TCG_BOOT_SECONDS = 60.0
"""Start to cloud-init done for the guest image under TCG on this machine's 2 cores, booted
by the firmware from its disk (SSH answers at about 20-45 s); measured, see
e2e/guest/README.md. Every boot deadline derives from it."""
BUSY_MACHINE_FACTOR = 3.0
"""Head room for a machine that runs other test suites at the same time."""
BOOT_DEADLINE_SECONDS = TCG_BOOT_SECONDS * BUSY_MACHINE_FACTOR
SHUTDOWN_DEADLINE_SECONDS = TCG_BOOT_SECONDS * 1.5
"""An ACPI power-down under TCG takes a fraction of a boot."""
FIRMWARE_SECONDS = 5.0
"""QEMU start to the firmware's verdict on the boot disk under TCG (SeaBIOS says "No bootable
device" about 0.1 s after it starts here; generous)."""
FIRMWARE_DEADLINE_SECONDS = FIRMWARE_SECONDS * BUSY_MACHINE_FACTOR
QMP_READY_SECONDS = 15.0
QMP_COMMAND_SECONDS = 10.0
KVM_PROBE_SECONDS = 20.0
"""Under working KVM the guest's systemd starts within a few seconds."""
KVM_OK_MARKERS = ("Welcome to ",)
"""Console text that proves the guest got as far as its init system."""
KVM_FAILURE_MARKERS = ("KVM internal error", "emulation failure", "kvm_run failed")
QUIT_GRACE_SECONDS = 5.0
POLL_SECONDS = 0.5
SSH_BANNER_TIMEOUT_SECONDS = 3.0
UNIX_PATH_MAX = 100
"""sun_path holds 108 bytes; keep a margin."""
GUEST_ADDRESS = "10.0.2.15"
"""The address QEMU's user-mode DHCP server gives the guest."""
DEFAULT_APPEND = BOOT_APPEND
"""The kernel command line of a direct ``-kernel`` boot: the same as SYSLINUX's on the disk
(``root=LABEL=nimbus-root console=ttyS0``)."""
ACCEL_ENV = "NIMBUS_GUEST_ACCEL"
ACCELS = ("auto", "kvm", "tcg")
CLOUD_INIT_DONE = re.compile(r"Cloud-init v\. \S+ finished at")
"""What cloud-init prints on the console when its last stage is done."""
FORWARD_FAILURE = "Could not set up host forwarding rule"
PORT_ATTEMPTS = 3
COMMAND_SECONDS = 120.0
"""qemu-img and the ISO writer."""
DEBUGCON_PORT = "0x402"
"""SeaBIOS writes its log to this I/O port (QEMU's ``isa-debugcon``)."""


class GuestError(RuntimeError):
    """QEMU or the guest did not do what was asked; the message ends with the console's tail."""


class QemuStartError(GuestError):
    """QEMU exited before answering on QMP (``output``: what it printed)."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class PortForward:
    """A guest port reached at ``host_address:host_port`` (``host_port`` 0: pick a free one)."""

    guest_port: int
    host_port: int = 0
    protocol: str = "tcp"

    def hostfwd(self, host_address: str) -> str:
        return f"hostfwd={self.protocol}:{host_address}:{self.host_port}-:{self.guest_port}"


@dataclass(frozen=True)
class ExtraDisk:
    """A disk attached after the boot disk (virtio, in order: ``vdb``, ``vdc``, ...), used as
    it is (no overlay)."""

    path: Path
    serial: str = ""
    """The virtio serial (the guest sees ``/dev/disk/by-id/virtio-<serial>``); empty: none."""
    format: str = "qcow2"


@dataclass(frozen=True)
class GuestSpec:
    """What to boot, and how: a VMI's domain, roughly."""

    name: str
    base_disk: Path
    kernel: Path | None = None
    """None: the firmware (SeaBIOS) boots the disk, as for any cloud image. A path: QEMU loads
    this kernel directly (``-kernel``, with `initrd` and `append`), bypassing the disk's boot
    loader."""
    initrd: Path | None = None
    base_format: str = "qcow2"
    cpus: int = 1
    memory_mib: int = 1024
    user_data: str = ""
    instance_id: str = ""
    """Empty: the name and a random suffix (cloud-init then treats each guest as new)."""
    hostname: str = ""
    """Empty: the name."""
    network_config: str | None = None
    """cloud-init network config (v1 or v2 YAML), written as the seed's ``network-config``."""
    ssh_port: int = 0
    """Host port forwarded to the guest's port 22 (0: a free one)."""
    forwards: tuple[PortForward, ...] = ()
    """More forwarded ports, besides SSH."""
    host_address: str = "127.0.0.1"
    """Loopback address the forwarded ports listen on."""
    disk_size: str | None = None
    """Virtual size of the overlay (``qemu-img`` syntax, e.g. ``10G``); None: the base's. On
    a bigger disk cloud-init grows the root partition and its filesystem on first boot."""
    accel: str = "auto"
    append: str = DEFAULT_APPEND
    """The kernel command line of a direct kernel boot (unused when `kernel` is None)."""
    die_with_parent: bool = True
    disk_path: Path | None = None
    """Where the copy-on-write overlay over `base_disk` lives (None: ``<workdir>/disk.qcow2``).
    Made on the first start when missing, kept across starts (and across processes)."""
    extra_disks: tuple[ExtraDisk, ...] = ()
    """More disks, after the boot disk and before the seed."""

    @classmethod
    def for_image(cls, name: str, image: GuestImage, **options: Any) -> GuestSpec:
        """A spec booting ``image``'s disk through the firmware; pass ``kernel=image.kernel,
        initrd=image.initrd`` to boot its kernel directly instead."""
        return cls(name=name, base_disk=image.disk, **options)


@dataclass(frozen=True)
class BootInfo:
    """What `Guest.start` did."""

    pid: int
    accel: str
    """``kvm`` or ``tcg``: what the running guest uses."""
    kvm_error: str
    """Why KVM is not used ("" when it is)."""
    host_address: str
    ssh_port: int
    forwards: tuple[PortForward, ...]
    """Every forward with its real host port, SSH first."""
    command: tuple[str, ...]
    started_at: float
    """``time.monotonic()`` when the QEMU that runs the guest was started (or last reset)."""
    console_offset: int
    """Size of ``console.log`` before this boot: its output starts there."""
    firmware_offset: int = 0
    """Size of ``firmware.log`` before this boot: the firmware's output starts there."""


def qemu_command(
    spec: GuestSpec,
    *,
    accel: str,
    disk: Path,
    seed: Path,
    console: Path,
    qmp: Path,
    forwards: tuple[PortForward, ...],
    firmware: Path | None = None,
) -> list[str]:
    """The QEMU command line (pure): no default devices, the disk first in the boot order, no
    network boot ROM, serial console and firmware log (``firmware``, default
    ``firmware.log`` beside ``console``) to files, QMP."""
    firmware = firmware or console.with_name("firmware.log")
    netdev = ",".join(
        ["user", "id=net0", "restrict=on", *(f.hostfwd(spec.host_address) for f in forwards)]
    )
    command = [
        "qemu-system-x86_64",
        "-name",
        f"guest={spec.name}",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-machine",
        "q35",
        "-accel",
        accel,
        "-smp",
        str(spec.cpus),
        "-m",
        f"{spec.memory_mib}M",
        "-chardev",
        f"file,id=console,path={console},append=on",
        "-serial",
        "chardev:console",
        "-chardev",
        f"file,id=firmware,path={firmware},append=on",
        "-device",
        f"isa-debugcon,iobase={DEBUGCON_PORT},chardev=firmware",
        "-qmp",
        f"unix:{qmp},server=on,wait=off",
        "-drive",
        f"file={disk},format=qcow2,if=none,id=disk0,cache=writeback,discard=unmap",
        "-device",
        "virtio-blk-pci,drive=disk0,bootindex=1",
    ]
    for number, extra in enumerate(spec.extra_disks, start=1):
        serial = f",serial={extra.serial.replace(',', ',,')}" if extra.serial else ""
        command += [
            "-drive",
            f"file={extra.path},format={extra.format},if=none,id=disk{number},cache=writeback",
            "-device",
            f"virtio-blk-pci,drive=disk{number}{serial}",
        ]
    command += [
        "-drive",
        f"file={seed},format=raw,if=none,id=seed,readonly=on",
        "-device",
        "virtio-blk-pci,drive=seed",
        "-netdev",
        netdev,
        "-device",
        "virtio-net-pci,netdev=net0,romfile=",
        "-device",
        "virtio-rng-pci",
    ]
    if accel == "kvm":
        command += ["-cpu", "host"]
    if spec.kernel is not None:
        command += ["-kernel", str(spec.kernel), "-append", spec.append]
        if spec.initrd is not None:
            command += ["-initrd", str(spec.initrd)]
    return command
