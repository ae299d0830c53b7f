"""What goes into the guest image: the package set, the release, the disk's shape, and the
cache key made of them (`ImageSpec.key`). Shared by the modules that build the image.

Bump `RECIPE_VERSION` whenever the recipe changes what ends up in the image: it is part of the
key, so the next `ensure_image` builds anew instead of reusing a stale image.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

RECIPE_VERSION = 4
"""Bump when the recipe (configuration, filesystem, layout) changes: it is part of the key.
3: partitioned disk (FAT boot partition with SYSLINUX, ext4 root), cloud-guest-utils.
4: cloud-init manages /etc/hosts."""

VARIANT = "minbase"
PACKAGES: tuple[str, ...] = (
    "systemd-sysv",
    "udev",
    "kmod",
    "linux-image-cloud-amd64",
    "initramfs-tools",
    "cloud-init",
    "openssh-server",
    "ifupdown",
    "isc-dhcp-client",
    "iproute2",
    "netbase",
    "locales",
    "dbus",
    "cloud-guest-utils",
    "sudo",
)
"""DESIGN's list plus ``dbus`` (without it systemd-logind does not run, and nothing acts on
the ACPI power button: QMP ``system_powerdown`` would be ignored), ``cloud-guest-utils``
(``growpart``: cloud-init grows the root partition to a bigger virtual disk) and ``sudo``
(cloud-init gives its default user password-less sudo, as every cloud image does)."""
LOCALE = "en_US.UTF-8"
DISK_SIZE_BYTES = 2 * 1024**3
"""The whole disk: MBR, boot partition and root partition."""
ROOT_LABEL = "nimbus-root"
BOOT_LABEL = "NIMBUS-BOOT"
"""The FAT boot partition's volume label (FAT labels are upper case, 11 characters)."""
KERNEL_CONSOLE = "console=ttyS0"
BOOT_APPEND = f"root=LABEL={ROOT_LABEL} {KERNEL_CONSOLE}"
"""The kernel command line, for SYSLINUX and for a direct ``-kernel`` boot alike: the
initramfs finds the root partition by its label, whatever the disk is called."""
DEFAULT_USER = "debian"
"""cloud-init's default user in Debian's cloud-init package: ``ssh_authorized_keys`` go there."""

RELEASE_ENV = "NIMBUS_GUEST_RELEASE"
STEP_TIMEOUT_SECONDS = 600.0


class ImageError(RuntimeError):
    """The guest image could not be built."""


@dataclass(frozen=True)
class ImageSpec:
    """What goes into an image: the inputs of its cache key."""

    release: str
    packages: tuple[str, ...] = PACKAGES
    variant: str = VARIANT
    recipe: int = RECIPE_VERSION
    architecture: str = "amd64"

    @property
    def key(self) -> str:
        inputs = {
            "release": self.release,
            "packages": sorted(set(self.packages)),
            "variant": self.variant,
            "recipe": self.recipe,
            "architecture": self.architecture,
        }
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
        return f"debian-{self.release}-{digest[:16]}"


def host_release(os_release: Path = Path("/etc/os-release")) -> str:
    """``$NIMBUS_GUEST_RELEASE`` or this machine's Debian codename (``VERSION_CODENAME``)."""
    override = os.environ.get(RELEASE_ENV)
    if override:
        return override
    try:
        text = os_release.read_text()
    except FileNotFoundError as error:
        raise ImageError(f"{os_release} is missing: set {RELEASE_ENV}") from error
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if name.strip() == "VERSION_CODENAME" and value.strip().strip("\"'"):
            return value.strip().strip("\"'")
    raise ImageError(f"no VERSION_CODENAME in {os_release}: set {RELEASE_ENV}")


def default_spec() -> ImageSpec:
    return ImageSpec(release=host_release())


def run(command: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """Run a build step (``stdin``: its input); its stdout, or an `ImageError` with the tail
    of its output."""
    try:
        completed = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_SECONDS,
            check=False,
            env={**os.environ, "LC_ALL": "C.UTF-8", **(env or {})},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ImageError(f"`{' '.join(command)}` failed: {error}") from error
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-4000:]
        raise ImageError(f"`{' '.join(command)}` failed ({completed.returncode}):\n{output}")
    return completed.stdout


def format_seconds(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"
