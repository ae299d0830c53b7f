"""The host programs that build and boot guests, and the Debian packages that bring them.

``python -m e2e.guest.host_tools`` says what is missing and the exact command that installs it
(exit 1 when something is missing); ``--install`` runs that command (``apt-get update`` once,
then ``apt-get install -y --no-install-recommends ...``) when something is missing and this
process is root, and does nothing when everything is there. The Makefile's ``host-tools``
target and ``.ci/run`` call it.

Only the standard library is used: this runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

MBR_FILES = ("/usr/lib/syslinux/mbr/mbr.bin", "/usr/lib/SYSLINUX/mbr.bin")
"""SYSLINUX's MBR boot code (440 bytes): syslinux-common's copy, or the syslinux package's."""


@dataclass(frozen=True)
class Tool:
    """One program the guest modules run, and the Debian package that installs it."""

    purpose: str
    programs: tuple[str, ...]
    """Any one of these on PATH will do (the first found is used)."""
    package: str
    """The Debian package installed when none is found."""
    files: tuple[str, ...] = ()
    """Data files that count as the tool too (any one present will do)."""


TOOLS: tuple[Tool, ...] = (
    Tool("build the guest's root filesystem from Debian packages", ("mmdebstrap",), "mmdebstrap"),
    Tool("make the guest's ext4 filesystem (mkfs.ext4 -d)", ("mkfs.ext4",), "e2fsprogs"),
    Tool("convert and overlay qcow2 disks", ("qemu-img",), "qemu-utils"),
    Tool("boot the guest", ("qemu-system-x86_64",), "qemu-system-x86"),
    Tool("write the cloud-init NoCloud seed (ISO 9660)", ("genisoimage", "xorriso"), "genisoimage"),
    Tool("log into the guest and make key pairs", ("ssh", "ssh-keygen"), "openssh-client"),
    Tool("write the guest disk's MBR partition table", ("sfdisk",), "fdisk"),
    Tool("make the guest's FAT boot partition", ("mkfs.vfat",), "dosfstools"),
    Tool("copy the kernel and initrd into the FAT boot partition", ("mcopy",), "mtools"),
    Tool("install SYSLINUX into the FAT boot partition (no mount)", ("syslinux",), "syslinux"),
    Tool("the MBR boot code (mbr.bin)", (), "syslinux-common", MBR_FILES),
)
"""``ssh`` and ``ssh-keygen`` are both needed; every other entry needs one of its programs."""

ALL_REQUIRED = frozenset({"openssh-client"})
"""Packages whose every program is needed, not just one of them."""


def missing_tools(
    which: Callable[[str], str | None] | None = None,
    exists: Callable[[str], bool] | None = None,
) -> list[Tool]:
    """The tools none of whose programs is on PATH and none of whose files exists (for
    ``openssh-client``: any one program missing)."""
    which = which or shutil.which
    exists = exists or os.path.isfile
    missing = []
    for tool in TOOLS:
        found = [program for program in tool.programs if which(program)]
        partial = tool.package in ALL_REQUIRED and len(found) < len(tool.programs)
        absent = not found and not any(exists(path) for path in tool.files)
        if partial or absent:
            missing.append(tool)
    return missing


def missing_packages(
    which: Callable[[str], str | None] | None = None,
    exists: Callable[[str], bool] | None = None,
) -> list[str]:
    """The Debian packages to install, in a stable order, no duplicates."""
    return list(dict.fromkeys(tool.package for tool in missing_tools(which, exists)))


def data_file(*paths: str) -> str:
    """The first of ``paths`` that exists; a `HostToolsMissing` naming its package when none
    does."""
    for path in paths:
        if os.path.isfile(path):
            return path
    packages = list(dict.fromkeys(t.package for t in TOOLS if set(paths) & set(t.files)))
    raise HostToolsMissing(packages or list(paths))


def install_commands(packages: list[str]) -> list[list[str]]:
    """Exactly what installs ``packages`` on Debian."""
    if not packages:
        return []
    return [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *packages],
    ]


def program(*names: str) -> str:
    """The path of the first of ``names`` on PATH; a `HostToolsMissing` saying what to install
    when none is."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    packages = list(dict.fromkeys(t.package for t in TOOLS if set(names) & set(t.programs)))
    raise HostToolsMissing(packages or list(names))


class HostToolsMissing(RuntimeError):
    """A host program is missing; the message is the command that installs it."""

    def __init__(self, packages: list[str]) -> None:
        self.packages = packages
        commands = " && ".join(" ".join(c) for c in install_commands(packages))
        super().__init__(
            f"missing host tools (Debian packages {', '.join(packages)}); install them with: "
            f"{commands}  (or `make host-tools`)"
        )


def require() -> None:
    """Raise `HostToolsMissing` unless every tool is there."""
    packages = missing_packages()
    if packages:
        raise HostToolsMissing(packages)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.guest.host_tools", description=__doc__)
    parser.add_argument(
        "--install", action="store_true", help="install what is missing with apt-get (as root)"
    )
    args = parser.parse_args(argv)
    packages = missing_packages()
    if not packages:
        print("guest host tools: all present", file=sys.stderr)
        return 0
    commands = install_commands(packages)
    print(f"guest host tools: missing Debian packages: {' '.join(packages)}", file=sys.stderr)
    if not args.install:
        print("install them with:", file=sys.stderr)
        for command in commands:
            print(f"  {' '.join(command)}", file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print("not root: run these as root, then retry:", file=sys.stderr)
        for command in commands:
            print(f"  {' '.join(command)}", file=sys.stderr)
        return 1
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in commands:
        print(f"+ {' '.join(command)}", file=sys.stderr)
        completed = subprocess.run(command, env=env, check=False, stdout=sys.stderr)
        if completed.returncode != 0:
            return completed.returncode
    still = missing_packages()
    if still:
        print(f"still missing after install: {' '.join(still)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
