"""Boot a guest image under QEMU: what virt-launcher does for a VMI, as a local process.

A `Guest` owns one working directory:

- ``disk.qcow2`` (or `GuestSpec.disk_path`): a copy-on-write overlay over the base disk
  (``qemu-img create -f qcow2 -b BASE -F FORMAT``), made on the first `Guest.start` and kept
  across later starts (a stopped guest starts again with its disk intact);
- ``seed/`` and ``seed.iso``: the cloud-init NoCloud seed (``user-data``, ``meta-data`` with
  ``instance-id`` and ``local-hostname``, an optional ``network-config``), an ISO 9660 volume
  labelled ``cidata``, attached read-only;
- ``console.log``: the serial console (``console=ttyS0``), appended across starts;
- ``firmware.log``: SeaBIOS's log (its debug port 0x402), appended across starts;
- ``qemu.log``: QEMU's own output; ``qmp.sock``: its QMP socket (in a short temporary
  directory instead when the working directory's path is too long for a Unix socket).

The firmware (SeaBIOS) boots the disk, as for any cloud image: the image's MBR, SYSLINUX on
its boot partition, its kernel (`GuestSpec.kernel` set: QEMU loads that kernel directly
instead). `Guest.boot_failure` says why a boot cannot succeed (no bootable disk, a kernel
panic, QEMU exiting with an error); `Guest.is_up` whether a user could log in. The network is
QEMU's user-mode stack with ``restrict=on`` (the guest reaches nothing outside; its address is
`GUEST_ADDRESS`), and each `PortForward` is a ``hostfwd`` from a loopback address: SSH first.

Acceleration (`accel`): ``auto`` tries KVM first and falls back to TCG when KVM is unusable.
Here ``/dev/kvm`` is the PVM variant of KVM, under which a stock Debian kernel stops with KVM
emulation failures; so KVM counts as working only once the guest's systemd has started
(`KVM_OK_MARKERS` on the console) within `KVM_PROBE_SECONDS`. `BootInfo.accel` says which was
used and `BootInfo.kvm_error` why KVM was not; both are logged. ``$NIMBUS_GUEST_ACCEL``
(``kvm``, ``tcg`` or ``auto``) overrides a spec's ``auto``.

QEMU is started through ``setpriv --pdeathsig KILL`` (when `GuestSpec.die_with_parent`), so
it dies with the process that started it: no guest outlives a killed test run. The signal
follows the *thread* that started QEMU: start guests from a thread that lives as long as they
should.

The pieces: `guest` (`Guest`), `spec` (`GuestSpec`, the command line, the constants),
`process` (the QEMU process), `qmp`, `probes` (what the logs say), `seed` (overlay and seed)
and `accel`. Import from here: this module re-exports their public names.
"""

from __future__ import annotations

from e2e.guest.accel import kvm_device_usable, reset_kvm_verdict
from e2e.guest.guest import Guest, running_guest
from e2e.guest.probes import free_port, ssh_banner
from e2e.guest.qmp import Qmp
from e2e.guest.seed import meta_data
from e2e.guest.spec import (
    ACCEL_ENV,
    ACCELS,
    BOOT_DEADLINE_SECONDS,
    BUSY_MACHINE_FACTOR,
    CLOUD_INIT_DONE,
    COMMAND_SECONDS,
    DEFAULT_APPEND,
    FIRMWARE_DEADLINE_SECONDS,
    FIRMWARE_SECONDS,
    FORWARD_FAILURE,
    GUEST_ADDRESS,
    KVM_FAILURE_MARKERS,
    KVM_OK_MARKERS,
    KVM_PROBE_SECONDS,
    POLL_SECONDS,
    PORT_ATTEMPTS,
    QMP_COMMAND_SECONDS,
    QMP_READY_SECONDS,
    QUIT_GRACE_SECONDS,
    SHUTDOWN_DEADLINE_SECONDS,
    SSH_BANNER_TIMEOUT_SECONDS,
    TCG_BOOT_SECONDS,
    UNIX_PATH_MAX,
    BootInfo,
    ExtraDisk,
    GuestError,
    GuestSpec,
    PortForward,
    QemuStartError,
    qemu_command,
)

__all__ = [
    "ACCELS",
    "ACCEL_ENV",
    "BOOT_DEADLINE_SECONDS",
    "BUSY_MACHINE_FACTOR",
    "CLOUD_INIT_DONE",
    "COMMAND_SECONDS",
    "DEFAULT_APPEND",
    "FIRMWARE_DEADLINE_SECONDS",
    "FIRMWARE_SECONDS",
    "FORWARD_FAILURE",
    "GUEST_ADDRESS",
    "KVM_FAILURE_MARKERS",
    "KVM_OK_MARKERS",
    "KVM_PROBE_SECONDS",
    "POLL_SECONDS",
    "PORT_ATTEMPTS",
    "QMP_COMMAND_SECONDS",
    "QMP_READY_SECONDS",
    "QUIT_GRACE_SECONDS",
    "SHUTDOWN_DEADLINE_SECONDS",
    "SSH_BANNER_TIMEOUT_SECONDS",
    "TCG_BOOT_SECONDS",
    "UNIX_PATH_MAX",
    "BootInfo",
    "ExtraDisk",
    "Guest",
    "GuestError",
    "GuestSpec",
    "PortForward",
    "QemuStartError",
    "Qmp",
    "free_port",
    "kvm_device_usable",
    "meta_data",
    "qemu_command",
    "reset_kvm_verdict",
    "running_guest",
    "ssh_banner",
]
