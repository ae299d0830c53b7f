"""e2e.guest.probes: what a boot's output says, on log texts."""

from __future__ import annotations

from e2e.guest.probes import console_failure, firmware_failure, login_ready, qemu_failure

SEABIOS_NO_DISK = """\
SeaBIOS (version 1.16.2-debian-1.16.2-1)
Searching bootorder for: /pci@i0cf8/*@1
enter handle_19:
  NULL
Booting from Hard Disk...
Boot failed: not a bootable disk

enter handle_18:
  NULL
Booting from Floppy...
Boot failed: could not read the boot disk

enter handle_18:
  NULL
No bootable device.
"""
SEABIOS_BOOTS = """\
SeaBIOS (version 1.16.2-debian-1.16.2-1)
enter handle_19:
  NULL
Booting from Hard Disk...
Booting from 0000:7c00
"""


def test_the_firmware_failure_names_every_device_it_gave_up_on() -> None:
    assert firmware_failure(SEABIOS_NO_DISK) == (
        "the firmware found no bootable disk: Boot failed: not a bootable disk; "
        "Boot failed: could not read the boot disk; No bootable device."
    )
    # SeaBIOS retries every 60 s: the same lines again are not repeated.
    twice = firmware_failure(SEABIOS_NO_DISK + SEABIOS_NO_DISK)
    assert twice == firmware_failure(SEABIOS_NO_DISK)
    assert firmware_failure(SEABIOS_BOOTS) is None
    assert firmware_failure("") is None


def test_console_failures_are_panics_a_missing_root_or_a_missing_kernel() -> None:
    panic = (
        "[    2.1] VFS: Cannot open root device\n"
        "[    2.2] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n"
        "[    2.3] CPU: 0 PID: 1 Comm: swapper\n"
    )
    assert console_failure(panic) == (
        "the kernel panicked: Kernel panic - not syncing: VFS: Unable to mount root fs on "
        "unknown-block(0,0)"
    )
    no_root = (
        "Gave up waiting for root file system device.  Common problems:\n"
        "ALERT!  LABEL=nimbus-root does not exist.  Dropping to a shell!\n"
    )
    failure = console_failure(no_root)
    assert failure is not None
    assert failure.startswith("the initramfs did not find the root filesystem: Gave up waiting")
    assert console_failure("Could not find kernel image: /vmlinuz\nboot: ") == (
        "the boot loader did not find the kernel: Could not find kernel image: /vmlinuz"
    )
    assert console_failure("[    0.0] Linux version 6.1\nWelcome to Debian!\n") is None


def test_a_login_prompt_or_cloud_init_done_means_up() -> None:
    assert login_ready("\nDebian GNU/Linux 12 web-1 ttyS0\n\nweb-1 login: ")
    assert login_ready("localhost login:")
    assert login_ready(
        "[   40.1] cloud-init[412]: Cloud-init v. 22.4.2 finished at Sat, 06 Dec 2026 16:20:00"
    )
    assert not login_ready("[    3.0] systemd[1]: Starting getty@tty1.service - Getty...\n")
    assert not login_ready("Last login: Sat Dec  6 16:00 on ttyS0\n")


def test_only_an_error_exit_of_qemu_is_a_failure() -> None:
    output = "$ qemu-system-x86_64 ...\nqemu-system-x86_64: -drive x: Could not open 'x'\n"
    assert qemu_failure(1, output) == (
        "QEMU exited with status 1: qemu-system-x86_64: -drive x: Could not open 'x'"
    )
    assert qemu_failure(None, output) is None  # still running
    assert qemu_failure(0, output) is None  # the guest powered off
