"""The guest disk image: a minimal Debian with a cloud kernel, cloud-init and an SSH server, on
a disk that firmware boots.

Built from Debian packages with ``mmdebstrap`` (variant minbase plus `PACKAGES`) from this
machine's own apt sources (`apt_sources`), configured as a cloud guest (`rootfs`), then laid
out as a real cloud image (`disk`): an MBR with SYSLINUX's boot code, an active FAT boot
partition holding SYSLINUX, the kernel and the initrd, and the ext4 root partition (label
`ROOT_LABEL`, default mount option ``nodelalloc``), converted to qcow2. The kernel and initrd
are also copied out beside the disk, for a direct ``-kernel`` boot.

Cached outside the repository like the Kubernetes binaries (`cache`):
``$NIMBUS_GUEST_CACHE/<key>/`` (default ``~/.cache/nimbus/guest``) holding ``disk.qcow2``,
``vmlinuz``, ``initrd.img``, ``manifest.txt`` (every installed package and version: what the
image is pinned by), ``build.json`` (inputs, layout, build time, sizes) and ``build.log``
(mmdebstrap's output). The key is a hash of the requested package set, the Debian release and
`RECIPE_VERSION`; bump that constant whenever the recipe changes what ends up in the image.

This module builds (`ensure_image`) and re-exports the names its users import from it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from e2e.guest import disk, host_tools
from e2e.guest.apt_sources import (
    AptSource,
    host_apt_sources,
    parse_deb822_sources,
    parse_one_line_sources,
    release_sources,
)
from e2e.guest.cache import (
    BUILD_FILE,
    BUILD_LOG_FILE,
    CACHE_ENV,
    DISK_FILE,
    MANIFEST_FILE,
    GuestImage,
    ImageResult,
    build_lock,
    cached_image,
    guest_cache_root,
    image_for,
    mounts_below,
    remove_tree,
)
from e2e.guest.recipe import (
    BOOT_APPEND,
    BOOT_LABEL,
    DEFAULT_USER,
    DISK_SIZE_BYTES,
    LOCALE,
    PACKAGES,
    RECIPE_VERSION,
    RELEASE_ENV,
    ROOT_LABEL,
    VARIANT,
    ImageError,
    ImageSpec,
    default_spec,
    format_seconds,
    host_release,
)
from e2e.guest.rootfs import (
    DATASOURCE_CONFIG,
    INITRD_FILE,
    KERNEL_FILE,
    MASKED_UNITS,
    configure_rootfs,
    copy_kernel,
    mmdebstrap_command,
    package_manifest,
    run_mmdebstrap,
)

__all__ = [
    "BOOT_APPEND",
    "BOOT_LABEL",
    "BUILD_FILE",
    "BUILD_LOG_FILE",
    "CACHE_ENV",
    "DATASOURCE_CONFIG",
    "DEFAULT_USER",
    "DISK_FILE",
    "DISK_SIZE_BYTES",
    "INITRD_FILE",
    "KERNEL_FILE",
    "LOCALE",
    "MANIFEST_FILE",
    "MASKED_UNITS",
    "PACKAGES",
    "RECIPE_VERSION",
    "RELEASE_ENV",
    "ROOT_LABEL",
    "STEPS",
    "VARIANT",
    "AptSource",
    "GuestImage",
    "ImageError",
    "ImageResult",
    "ImageSpec",
    "cached_image",
    "configure_rootfs",
    "copy_kernel",
    "default_spec",
    "ensure_image",
    "format_seconds",
    "guest_cache_root",
    "host_apt_sources",
    "host_release",
    "image_for",
    "mmdebstrap_command",
    "mounts_below",
    "package_manifest",
    "parse_deb822_sources",
    "parse_one_line_sources",
    "release_sources",
    "remove_tree",
]

log = logging.getLogger(__name__)

STEPS = (
    "apt sources",
    "mmdebstrap",
    "configure",
    "manifest",
    "kernel",
    "root filesystem",
    "boot partition",
    "disk",
    "qcow2",
)


def ensure_image(
    spec: ImageSpec | None = None, *, cache_root: Path | None = None, force: bool = False
) -> ImageResult:
    """The cached image of ``spec``, built first when missing (or when ``force``)."""
    started = time.monotonic()
    spec = spec or default_spec()
    root = cache_root or guest_cache_root()
    image = image_for(spec, root)
    if not force and image.is_complete():
        log.info("guest image %s: cached in %s", spec.key, image.directory)
        return ImageResult(image, False, time.monotonic() - started)
    root.mkdir(parents=True, exist_ok=True)
    with build_lock(root):
        # Another process may have built it while we waited for the lock.
        if not force and image.is_complete():
            log.info("guest image %s: built meanwhile in %s", spec.key, image.directory)
            return ImageResult(image, False, time.monotonic() - started)
        _Builder(spec, image).run()
    return ImageResult(image, True, time.monotonic() - started)


def _check_root() -> None:
    if os.geteuid() != 0:
        raise ImageError(
            "building the guest image needs root (mmdebstrap in root mode, then a root-owned "
            "filesystem for mkfs.ext4 -d); run `python -m e2e.guest build` as root"
        )


@dataclass
class _Builder:
    spec: ImageSpec
    image: GuestImage
    started: float = field(default_factory=time.monotonic)

    @property
    def partial(self) -> Path:
        return self.image.directory.with_name(self.image.directory.name + ".partial")

    @property
    def rootfs(self) -> Path:
        return self.partial / "rootfs"

    def step(self, number: int, detail: str) -> None:
        log.info(
            "guest image [%d/%d] %s: %s (%s elapsed)",
            number,
            len(STEPS),
            STEPS[number - 1],
            detail,
            format_seconds(time.monotonic() - self.started),
        )

    def run(self) -> None:
        host_tools.require()
        _check_root()
        log.info(
            "guest image %s: cold build (Debian %s, %s + %d packages; about a minute or two)",
            self.spec.key,
            self.spec.release,
            self.spec.variant,
            len(self.spec.packages),
        )
        remove_tree(self.partial)
        self.partial.mkdir(parents=True)
        try:
            self._build()
        except BaseException:
            log.error("guest image: build failed; its log is %s", self.partial / BUILD_LOG_FILE)
            remove_tree(self.rootfs)
            for name in ("root.ext4", "boot.fat", "disk.raw"):
                (self.partial / name).unlink(missing_ok=True)
            raise
        remove_tree(self.image.directory)
        self.partial.rename(self.image.directory)
        log.info(
            "guest image %s: built in %s -> %s",
            self.spec.key,
            format_seconds(time.monotonic() - self.started),
            self.image.directory,
        )

    def _build(self) -> None:
        sources = host_apt_sources(self.spec.release)
        sources_file = self.partial / "sources.list"
        if sources:
            sources_file.write_text("".join(s.line() + "\n" for s in sources))
            mirrors = [str(sources_file)]
            self.step(1, f"{len(sources)} entries from this machine's apt sources")
        else:
            mirrors = []
            self.step(1, "none for this release on this machine: mmdebstrap's default mirror")
        self.step(2, f"{self.spec.variant} + {', '.join(self.spec.packages)}")
        counts = run_mmdebstrap(self.spec, self.rootfs, mirrors, self.partial / BUILD_LOG_FILE)
        self.step(2, f"done: {counts.set_up} packages set up, {counts.fetched} downloaded")
        self.step(3, f"locale {LOCALE}, fstab, cloud-init datasources, no SSH host keys")
        configure_rootfs(self.rootfs)
        manifest = package_manifest(self.rootfs)
        (self.partial / MANIFEST_FILE).write_text(manifest)
        self.step(4, f"{len(manifest.splitlines())} packages in {MANIFEST_FILE}")
        kernel_version = copy_kernel(self.rootfs, self.partial)
        self.step(5, f"vmlinuz and initrd.img of {kernel_version}")
        layout = disk.disk_layout(DISK_SIZE_BYTES)
        root_fs, boot_fs, raw = (self.partial / n for n in ("root.ext4", "boot.fat", "disk.raw"))
        self.step(6, f"ext4 {layout.root.size // disk.MIB} MiB, label {ROOT_LABEL}")
        disk.make_root_filesystem(self.rootfs, root_fs, layout.root.size)
        remove_tree(self.rootfs)
        self.step(7, f"FAT16 {layout.boot.size // disk.MIB} MiB, SYSLINUX, kernel and initrd")
        boot_files = [self.partial / KERNEL_FILE, self.partial / INITRD_FILE]
        disk.make_boot_filesystem(boot_fs, layout.boot.size, boot_files, disk.syslinux_config())
        self.step(8, f"MBR (mbr.bin, sfdisk) + both partitions: {layout.size // disk.MIB} MiB")
        disk.write_disk(raw, layout, boot_fs, root_fs, disk.mbr_boot_code())
        root_fs.unlink()
        boot_fs.unlink()
        self.step(9, f"qemu-img convert -O qcow2 -> {DISK_FILE}")
        disk.to_qcow2(raw, self.partial / DISK_FILE)
        raw.unlink()
        sources_file.unlink(missing_ok=True)
        seconds = time.monotonic() - self.started
        info = {
            "key": self.spec.key,
            "release": self.spec.release,
            "variant": self.spec.variant,
            "packages": list(self.spec.packages),
            "recipe": self.spec.recipe,
            "kernel": kernel_version,
            "kernel_command_line": BOOT_APPEND,
            "apt_sources": [s.line() for s in sources],
            "installed_packages": len(manifest.splitlines()),
            "disk_virtual_bytes": layout.size,
            "partitions": [
                {"number": p.number, "start": p.start, "size": p.size, "type": p.type}
                for p in (layout.boot, layout.root)
            ],
            "disk_file_bytes": (self.partial / DISK_FILE).stat().st_size,
            "build_seconds": round(seconds, 1),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (self.partial / BUILD_FILE).write_text(json.dumps(info, indent=2) + "\n")
        log.info(
            "guest image: %d packages, disk %s MiB (qcow2), kernel %s",
            info["installed_packages"],
            round((self.partial / DISK_FILE).stat().st_size / 1024**2),
            kernel_version,
        )
