"""e2e.guest.disk: the partition layout, the sfdisk script, syslinux.cfg, the sparse copy,
and a small disk assembled for real from files (no loop device, no mount, no root)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from e2e.guest import disk, host_tools
from e2e.guest.disk import MIB, Partition, disk_layout, syslinux_config
from e2e.guest.recipe import BOOT_APPEND, DISK_SIZE_BYTES, ROOT_LABEL, ImageError

DISK_TOOLS = ("sfdisk", "mkfs.vfat", "mcopy", "mdir", "syslinux", "mkfs.ext4", "tune2fs")


def test_the_default_layout_is_a_boot_partition_then_the_root_to_the_end() -> None:
    layout = disk_layout()
    assert layout.size == DISK_SIZE_BYTES
    assert layout.boot == Partition(1, MIB, 128 * MIB, "e", bootable=True)
    assert layout.root == Partition(2, 129 * MIB, DISK_SIZE_BYTES - 129 * MIB, "83")
    assert layout.root.end == layout.size
    for partition in (layout.boot, layout.root):
        assert partition.start % MIB == 0
        assert partition.size % MIB == 0


def test_the_sfdisk_script_writes_an_mbr_with_the_boot_partition_active() -> None:
    script = disk_layout(512 * MIB, 64 * MIB).sfdisk_script()
    assert script == (
        "label: dos\n"
        "label-id: 0x6e696d62\n"
        "unit: sectors\n"
        "\n"
        "start=2048, size=131072, type=e, bootable\n"
        "start=133120, size=915456, type=83\n"
    )


@pytest.mark.parametrize(
    ("disk_bytes", "boot_bytes", "message"),
    [
        (2 * 1024**3 + 1, 128 * MIB, "multiple of 1 MiB"),
        (512 * MIB, 0, "multiple of 1 MiB"),
        (300 * MIB, 128 * MIB, "171 MiB for the root partition"),
    ],
)
def test_impossible_layouts_are_refused(disk_bytes: int, boot_bytes: int, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        disk_layout(disk_bytes, boot_bytes)


def test_syslinux_boots_the_kernel_at_once_with_the_root_label_on_the_serial_console() -> None:
    config = syslinux_config()
    lines = [line.strip() for line in config.splitlines()]
    assert lines[0] == "SERIAL 0 115200"
    assert "PROMPT 0" in lines
    assert "DEFAULT nimbus" in lines
    assert "LINUX /vmlinuz" in lines
    assert "INITRD /initrd.img" in lines
    assert f"APPEND {BOOT_APPEND}" in lines
    assert f"root=LABEL={ROOT_LABEL} console=ttyS0" == BOOT_APPEND


def test_copy_sparse_copies_data_at_the_offset_and_keeps_holes(tmp_path: Path) -> None:
    source = tmp_path / "source"
    with source.open("wb") as handle:
        handle.truncate(32 * MIB)
        handle.seek(MIB)
        handle.write(b"a" * 4096)
        handle.seek(20 * MIB)
        handle.write(b"b" * 8192)
    target = tmp_path / "target"
    with target.open("wb") as handle:
        handle.truncate(40 * MIB)
    copied = disk.copy_sparse(source, target, 4 * MIB)
    assert copied < 2 * MIB  # the data extents only, not 32 MiB
    data = target.read_bytes()
    assert data[5 * MIB : 5 * MIB + 4096] == b"a" * 4096
    assert data[24 * MIB : 24 * MIB + 8192] == b"b" * 8192
    assert data.count(0) == len(data) - 4096 - 8192
    assert target.stat().st_blocks * 512 < 4 * MIB  # still sparse


def _sha256(path: Path, offset: int = 0, size: int | None = None) -> str:
    with path.open("rb") as handle:
        handle.seek(offset)
        return hashlib.sha256(handle.read(size if size is not None else -1)).hexdigest()


@pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in DISK_TOOLS)
    or not any(os.path.isfile(path) for path in host_tools.MBR_FILES),
    reason="the disk tools are not installed (make host-tools)",
)
def test_a_disk_is_assembled_from_files_with_table_boot_code_and_both_filesystems(
    tmp_path: Path,
) -> None:
    layout = disk_layout(512 * MIB, 32 * MIB)
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc/hostname").write_text("localhost\n")
    kernel, initrd = tmp_path / "vmlinuz", tmp_path / "initrd.img"
    kernel.write_bytes(os.urandom(300_000))
    initrd.write_bytes(os.urandom(200_000))
    root, boot, raw = tmp_path / "root.ext4", tmp_path / "boot.fat", tmp_path / "disk.raw"

    disk.make_root_filesystem(rootfs, root, layout.root.size)
    disk.make_boot_filesystem(boot, layout.boot.size, [kernel, initrd], syslinux_config())
    mbr = disk.mbr_boot_code()
    disk.write_disk(raw, layout, boot, root, mbr)

    assert raw.stat().st_size == layout.size
    assert raw.read_bytes()[:440] == mbr
    table = json.loads(
        subprocess.run(["sfdisk", "--json", str(raw)], capture_output=True, check=True).stdout
    )["partitiontable"]
    assert table["label"] == "dos"
    parts = table["partitions"]
    assert [(p["start"], p["size"], p["type"]) for p in parts] == [
        (2048, 32 * 2048, "e"),
        (33 * 2048, (512 - 33) * 2048, "83"),
    ]
    assert parts[0].get("bootable") is True
    assert "bootable" not in parts[1]
    # Both filesystems sit at their partitions' offsets, byte for byte.
    assert _sha256(raw, layout.boot.start, boot.stat().st_size) == _sha256(boot)
    assert _sha256(raw, layout.root.start, root.stat().st_size) == _sha256(root)
    # mtools reads the boot partition inside the disk: SYSLINUX, its config, kernel, initrd.
    listing = subprocess.run(
        ["mdir", "-a", "-b", "-i", f"{raw}@@{layout.boot.start}", "::/"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    ).stdout.lower()
    for name in ("ldlinux.sys", "ldlinux.c32", "syslinux.cfg", "vmlinuz", "initrd.img"):
        assert name in listing
    label = subprocess.run(["e2label", str(root)], capture_output=True, text=True, check=True)
    assert label.stdout.strip() == ROOT_LABEL
    assert raw.stat().st_blocks * 512 < layout.size // 4  # sparse


def test_write_disk_refuses_a_filesystem_bigger_than_its_partition(tmp_path: Path) -> None:
    layout = disk_layout(512 * MIB, 32 * MIB)
    boot, root = tmp_path / "boot", tmp_path / "root"
    with boot.open("wb") as handle:
        handle.truncate(33 * MIB)
    root.write_bytes(b"")
    with pytest.raises(ImageError, match="larger than partition 1"):
        disk.write_disk(tmp_path / "disk.raw", layout, boot, root, b"\0" * 440)
