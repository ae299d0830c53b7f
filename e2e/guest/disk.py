"""The guest's disk: an MBR-partitioned raw file that firmware (SeaBIOS) boots, assembled from
files without loop devices or mounts, then converted to qcow2.

Layout (`disk_layout`), for a `DISK_SIZE_BYTES` disk::

    0          MBR: SYSLINUX's mbr.bin (first 440 bytes) + the partition table (sfdisk)
    1 MiB      partition 1, active, type 0x0e: FAT16 "NIMBUS-BOOT", 128 MiB
               ldlinux.sys + ldlinux.c32 (syslinux --install), syslinux.cfg, vmlinuz, initrd.img
    129 MiB    partition 2, type 0x83: ext4 "nimbus-root" to the end of the disk

Boot: the firmware runs the MBR code, which chain-loads the active partition's boot sector
(SYSLINUX), which loads the kernel and initrd with `syslinux_config`'s command line
(``root=LABEL=nimbus-root console=ttyS0``). Each partition is made as its own file
(``mkfs.vfat`` + ``mcopy`` + ``syslinux --install``; ``mkfs.ext4 -d``) and copied into the
disk file at its offset, holes skipped (`copy_sparse`).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from e2e.guest import host_tools
from e2e.guest.recipe import (
    BOOT_APPEND,
    BOOT_LABEL,
    DISK_SIZE_BYTES,
    ROOT_LABEL,
    ImageError,
    run,
)

MIB = 1024**2
SECTOR_BYTES = 512
ALIGNMENT_BYTES = MIB
"""Partitions start on MiB boundaries (as fdisk and every cloud image do)."""
BOOT_PARTITION_BYTES = 128 * MIB
"""Room for the kernel and initrd (about 30 MiB together) several times over."""
MIN_ROOT_BYTES = 256 * MIB
MBR_BOOT_CODE_BYTES = 440
"""The MBR's boot code area; the disk signature and the partition table follow it."""
BOOT_PARTITION_TYPE = "e"
"""W95 FAT16 (LBA): what ``mkfs.vfat -F 16`` makes."""
ROOT_PARTITION_TYPE = "83"
DISK_LABEL_ID = "0x6e696d62"
"""The MBR's disk identifier ("nimb"): fixed, so the same inputs give the same table."""
BOOT_VOLUME_ID = "6e696d62"
SYSLINUX_CONFIG_FILE = "syslinux.cfg"
COPY_CHUNK_BYTES = 64 * MIB


@dataclass(frozen=True)
class Partition:
    number: int
    start: int
    """Offset in the disk, bytes."""
    size: int
    """Bytes."""
    type: str
    """MBR partition type (hex, as sfdisk takes it)."""
    bootable: bool = False

    @property
    def end(self) -> int:
        return self.start + self.size

    def sfdisk_line(self) -> str:
        flags = ", bootable" if self.bootable else ""
        start, size = self.start // SECTOR_BYTES, self.size // SECTOR_BYTES
        return f"start={start}, size={size}, type={self.type}{flags}"


@dataclass(frozen=True)
class DiskLayout:
    size: int
    boot: Partition
    root: Partition

    def sfdisk_script(self) -> str:
        """The input of ``sfdisk`` that writes this partition table."""
        return (
            f"label: dos\nlabel-id: {DISK_LABEL_ID}\nunit: sectors\n\n"
            f"{self.boot.sfdisk_line()}\n{self.root.sfdisk_line()}\n"
        )


def disk_layout(
    disk_bytes: int = DISK_SIZE_BYTES, boot_bytes: int = BOOT_PARTITION_BYTES
) -> DiskLayout:
    """Boot partition at 1 MiB, root partition after it to the end of the disk (pure)."""
    for name, value in (("disk size", disk_bytes), ("boot partition size", boot_bytes)):
        if value <= 0 or value % ALIGNMENT_BYTES:
            raise ImageError(f"{name} {value} is not a positive multiple of 1 MiB")
    boot = Partition(1, ALIGNMENT_BYTES, boot_bytes, BOOT_PARTITION_TYPE, bootable=True)
    root_size = disk_bytes - boot.end
    if root_size < MIN_ROOT_BYTES:
        raise ImageError(
            f"a {disk_bytes // MIB} MiB disk leaves {max(root_size, 0) // MIB} MiB for the "
            f"root partition after a {boot_bytes // MIB} MiB boot partition"
        )
    return DiskLayout(disk_bytes, boot, Partition(2, boot.end, root_size, ROOT_PARTITION_TYPE))


def syslinux_config(
    append: str = BOOT_APPEND, kernel: str = "vmlinuz", initrd: str = "initrd.img"
) -> str:
    """``syslinux.cfg``: boot the one kernel at once, SYSLINUX's own output on the serial
    console too (pure)."""
    return (
        "SERIAL 0 115200\n"
        "DEFAULT nimbus\n"
        "PROMPT 0\n"
        "TIMEOUT 0\n"
        "LABEL nimbus\n"
        f"  LINUX /{kernel}\n"
        f"  INITRD /{initrd}\n"
        f"  APPEND {append}\n"
    )


def make_root_filesystem(rootfs: Path, path: Path, size: int) -> None:
    """ext4 labelled `ROOT_LABEL` holding ``rootfs``, in a file of ``size`` bytes."""
    _sparse_file(path, size)
    run(["mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-d", str(rootfs), str(path)])
    # Data reaches the disk with each journal commit (every 5 s) rather than up to 30 s later:
    # a hard reset (QMP system_reset) soon after first boot otherwise leaves cloud-init's new
    # files, the SSH host keys among them, empty, and sshd does not start again.
    run(["tune2fs", "-o", "nodelalloc", str(path)])


def make_boot_filesystem(path: Path, size: int, files: Sequence[Path], config: str) -> None:
    """FAT16 labelled `BOOT_LABEL` in a file of ``size`` bytes: ``files`` and ``config`` (as
    ``syslinux.cfg``) in its root, SYSLINUX installed (mtools-based: no mount)."""
    needed = sum(f.stat().st_size for f in files) + len(config)
    if needed > size * 0.9:
        raise ImageError(f"{needed // MIB} MiB of boot files do not fit {size // MIB} MiB")
    _sparse_file(path, size)
    run(["mkfs.vfat", "-F", "16", "-n", BOOT_LABEL, "-i", BOOT_VOLUME_ID, str(path)])
    config_file = path.with_name(SYSLINUX_CONFIG_FILE)
    config_file.write_text(config)
    mtools = {"MTOOLS_SKIP_CHECK": "1"}
    run(["mcopy", "-i", str(path), *map(str, files), str(config_file), "::/"], env=mtools)
    config_file.unlink()
    run(["syslinux", "--install", str(path)], env=mtools)


def write_disk(path: Path, layout: DiskLayout, boot: Path, root: Path, mbr_code: bytes) -> None:
    """The raw disk: partition table, MBR boot code, both partitions at their offsets."""
    if len(mbr_code) > MBR_BOOT_CODE_BYTES:
        raise ImageError(f"MBR boot code of {len(mbr_code)} bytes: at most 440 fit")
    for image, partition in ((boot, layout.boot), (root, layout.root)):
        if image.stat().st_size > partition.size:
            raise ImageError(f"{image} is larger than partition {partition.number}")
    _sparse_file(path, layout.size)
    sfdisk = ["sfdisk", "--no-reread", "--no-tell-kernel", "-q", str(path)]
    run(sfdisk, stdin=layout.sfdisk_script())
    with path.open("r+b") as disk:
        disk.write(mbr_code)  # the boot code only: the signature and table follow at 440
    copy_sparse(boot, path, layout.boot.start)
    copy_sparse(root, path, layout.root.start)


def mbr_boot_code() -> bytes:
    """SYSLINUX's ``mbr.bin``: boots the active partition."""
    return Path(host_tools.data_file(*host_tools.MBR_FILES)).read_bytes()


def copy_sparse(source: Path, target: Path, offset: int) -> int:
    """Copy ``source`` into the existing ``target`` at ``offset``, only its data (holes are
    skipped: ``target``'s stay holes); returns the bytes copied."""
    copied = 0
    with source.open("rb") as src, target.open("r+b") as dst:
        size = os.fstat(src.fileno()).st_size
        position = 0
        while position < size:
            try:
                start = os.lseek(src.fileno(), position, os.SEEK_DATA)
            except OSError as error:
                if error.errno == errno.ENXIO:  # only a hole is left
                    break
                raise
            end = min(os.lseek(src.fileno(), start, os.SEEK_HOLE), size)
            _copy_range(src.fileno(), dst.fileno(), start, end, offset)
            copied += end - start
            position = end
    return copied


def _copy_range(src: int, dst: int, start: int, end: int, offset: int) -> None:
    position = start
    while position < end:
        length = min(COPY_CHUNK_BYTES, end - position)
        try:
            done = os.copy_file_range(src, dst, length, position, position + offset)
        except OSError as error:
            if error.errno not in {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP}:
                raise
            data = os.pread(src, length, position)
            done = os.pwrite(dst, data, position + offset)
        if done <= 0:
            raise ImageError(f"copying into the disk stopped at byte {position}")
        position += done


def to_qcow2(raw: Path, qcow2: Path) -> None:
    run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(qcow2)])


def _sparse_file(path: Path, size: int) -> None:
    path.unlink(missing_ok=True)
    with path.open("wb") as handle:
        handle.truncate(size)
