"""The guest's root filesystem: ``mmdebstrap`` from Debian packages, then what makes the bare
system a cloud guest (`configure_rootfs`), its package manifest, and its kernel and initrd.

`configure_rootfs` sets a generated locale (`LOCALE`; without one cloud-init reports an error),
an fstab by label, cloud-init limited to the NoCloud and ConfigDrive datasources (network
metadata probes would only time out behind QEMU's restricted user networking), apt's and
e2scrub's timers masked, the SSH host keys and machine-id removed (each instance makes its own
on first boot).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from e2e.guest.recipe import LOCALE, ROOT_LABEL, ImageError, ImageSpec, format_seconds, run

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_SECONDS = 15.0
MMDEBSTRAP_TIMEOUT_SECONDS = 1800.0
MMDEBSTRAP_STEP = (2, 9)
"""(step, steps) of the image build, for the progress lines."""
KERNEL_FILE = "vmlinuz"
INITRD_FILE = "initrd.img"
DATASOURCE_CONFIG = """\
# Nimbus guests get their data from a NoCloud seed (or a config drive); probing the network
# metadata services would only time out behind QEMU's restricted user networking.
datasource_list: [NoCloud, ConfigDrive, None]
# /etc/hosts names the instance (as in Debian's cloud images), so sudo resolves its hostname.
manage_etc_hosts: true
"""
MASKED_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer")
FSTAB = f"LABEL={ROOT_LABEL} / ext4 defaults,errors=remount-ro 0 1\n"
"""Root by label, like the kernel's ``root=LABEL=``; the boot partition is not mounted (the
kernel and initrd on it are the image's, not updated from inside the guest)."""


@dataclass
class Counts:
    fetched: int = 0
    unpacked: int = 0
    set_up: int = 0
    planned: int = 0
    latest: str = ""
    phase: str = ""


_PLANNED = re.compile(r"(\d+) newly installed")


def mmdebstrap_command(spec: ImageSpec, target: Path, mirrors: list[str]) -> list[str]:
    return [
        "mmdebstrap",
        "--verbose",
        "--mode=root",
        f"--variant={spec.variant}",
        f"--architectures={spec.architecture}",
        f"--include={','.join(spec.packages)}",
        spec.release,
        str(target),
        *mirrors,
    ]


def run_mmdebstrap(spec: ImageSpec, target: Path, mirrors: list[str], log_path: Path) -> Counts:
    """Run mmdebstrap, its output to ``log_path``; its phases and package counts to the log."""
    command = mmdebstrap_command(spec, target, mirrors)
    counts = Counts()
    started = time.monotonic()
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(PROGRESS_INTERVAL_SECONDS):
            planned = f"/{counts.planned}" if counts.planned else ""
            log.info(
                "guest image [%d/%d] mmdebstrap: %s, %s; %d downloaded, %d unpacked, "
                "%d%s set up (latest: %s)",
                *MMDEBSTRAP_STEP,
                format_seconds(time.monotonic() - started),
                counts.phase or "starting",
                counts.fetched,
                counts.unpacked,
                counts.set_up,
                planned,
                counts.latest or "-",
            )

    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}
    tail: list[str] = []
    with log_path.open("w") as log_file:
        log_file.write("$ " + " ".join(command) + "\n")
        log_file.flush()
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=env,
        )
        assert process.stdout is not None
        reporter = threading.Thread(target=report, name="guest-image-progress", daemon=True)
        reporter.start()
        try:
            for raw in process.stdout:
                log_file.write(raw)
                line = raw.rstrip()
                tail = [*tail[-39:], line]
                count_progress(line, counts)
            returncode = process.wait(timeout=MMDEBSTRAP_TIMEOUT_SECONDS)
        finally:
            stop.set()
            reporter.join()
            if process.poll() is None:
                process.kill()
                process.wait()
    if returncode != 0:
        raise ImageError(
            f"mmdebstrap failed ({returncode}); last lines of {log_path}:\n" + "\n".join(tail)
        )
    return counts


def count_progress(line: str, counts: Counts) -> None:
    if line.startswith("I: ") and (line.endswith("...") or line.startswith("I: success")):
        # mmdebstrap's own phases ("I: extracting archives..."); package scripts print "I: "
        # lines too, which only go to the build log.
        counts.phase = line[3:].rstrip(".")
        log.info("guest image [%d/%d] mmdebstrap: %s", *MMDEBSTRAP_STEP, counts.phase)
    elif line.startswith("Get:"):
        counts.fetched += 1
    elif line.startswith("Unpacking "):
        counts.unpacked += 1
        counts.latest = line.split()[1]
    elif line.startswith("Setting up "):
        counts.set_up += 1
        counts.latest = line.split()[2]
    elif match := _PLANNED.search(line):
        counts.planned += int(match.group(1))


def configure_rootfs(rootfs: Path) -> None:
    """What makes the bare system a cloud guest (see the module's docstring)."""
    etc = rootfs / "etc"
    locale_gen = etc / "locale.gen"
    existing = locale_gen.read_text() if locale_gen.exists() else ""
    locale_gen.write_text(existing + f"{LOCALE} UTF-8\n")
    run(["chroot", str(rootfs), "locale-gen"])
    (etc / "default" / "locale").write_text(f"LANG={LOCALE}\n")
    (etc / "fstab").write_text(FSTAB)
    (etc / "hostname").write_text("localhost\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n")
    cloud_cfg = etc / "cloud" / "cloud.cfg.d"
    cloud_cfg.mkdir(parents=True, exist_ok=True)
    (cloud_cfg / "90-nimbus-datasources.cfg").write_text(DATASOURCE_CONFIG)
    interfaces = etc / "network" / "interfaces"
    if not interfaces.exists() or "interfaces.d" not in interfaces.read_text():
        interfaces.parent.mkdir(parents=True, exist_ok=True)
        (interfaces.parent / "interfaces.d").mkdir(exist_ok=True)
        interfaces.write_text(
            "source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n"
        )
    systemd = etc / "systemd" / "system"
    for unit in MASKED_UNITS:
        link = systemd / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    for key in (etc / "ssh").glob("ssh_host_*"):
        key.unlink()
    # A fresh machine-id per instance (systemd makes one on first boot when this is empty).
    (etc / "machine-id").write_text("")
    dbus_id = rootfs / "var" / "lib" / "dbus" / "machine-id"
    dbus_id.unlink(missing_ok=True)


def package_manifest(rootfs: Path) -> str:
    """``package version architecture`` of every installed package, sorted."""
    completed = run(
        [
            "dpkg-query",
            f"--admindir={rootfs / 'var' / 'lib' / 'dpkg'}",
            "--show",
            "--showformat=${Package} ${Version} ${Architecture}\\n",
        ]
    )
    return "".join(f"{line}\n" for line in sorted(completed.splitlines()) if line.strip())


def copy_kernel(rootfs: Path, directory: Path) -> str:
    """Copy the (only) installed kernel and its initrd to ``directory``; returns its version."""
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise ImageError(f"expected one kernel in {rootfs / 'boot'}, found {kernels}")
    version = kernels[0].name.removeprefix("vmlinuz-")
    initrd = rootfs / "boot" / f"initrd.img-{version}"
    if not initrd.is_file():
        raise ImageError(f"no initrd for kernel {version} in {rootfs / 'boot'}")
    shutil.copyfile(kernels[0], directory / KERNEL_FILE)
    shutil.copyfile(initrd, directory / INITRD_FILE)
    return version
