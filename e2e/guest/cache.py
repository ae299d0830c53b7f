"""Where built images live: ``$NIMBUS_GUEST_CACHE/<key>/`` (default ``~/.cache/nimbus/guest``),
one directory per `ImageSpec.key`, built as ``<key>.partial`` and renamed when complete (an
interrupted build never looks valid), one build at a time per cache (`build_lock`)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from e2e.guest.recipe import ImageError, ImageSpec, default_spec
from e2e.guest.rootfs import INITRD_FILE, KERNEL_FILE

log = logging.getLogger(__name__)

CACHE_ENV = "NIMBUS_GUEST_CACHE"
DISK_FILE = "disk.qcow2"
MANIFEST_FILE = "manifest.txt"
BUILD_FILE = "build.json"
BUILD_LOG_FILE = "build.log"
LOCK_FILE = ".build.lock"


@dataclass(frozen=True)
class GuestImage:
    """A built image in the cache."""

    directory: Path
    key: str

    @property
    def disk(self) -> Path:
        """The bootable disk (MBR, FAT boot partition with SYSLINUX, ext4 root), qcow2."""
        return self.directory / DISK_FILE

    @property
    def kernel(self) -> Path:
        """A copy of the kernel on the disk, for a direct ``-kernel`` boot."""
        return self.directory / KERNEL_FILE

    @property
    def initrd(self) -> Path:
        return self.directory / INITRD_FILE

    @property
    def manifest(self) -> Path:
        return self.directory / MANIFEST_FILE

    @property
    def build_info(self) -> dict[str, object]:
        loaded = json.loads((self.directory / BUILD_FILE).read_text())
        return loaded if isinstance(loaded, dict) else {}

    def is_complete(self) -> bool:
        files = (self.disk, self.kernel, self.initrd, self.manifest, self.directory / BUILD_FILE)
        return all(path.is_file() and path.stat().st_size > 0 for path in files)


@dataclass(frozen=True)
class ImageResult:
    image: GuestImage
    built: bool
    """False when the cached image was reused."""
    seconds: float


def guest_cache_root() -> Path:
    """``$NIMBUS_GUEST_CACHE`` or ``~/.cache/nimbus/guest``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "nimbus" / "guest"


def image_for(spec: ImageSpec | None = None, cache_root: Path | None = None) -> GuestImage:
    """Where the image of ``spec`` lives (built or not)."""
    spec = spec or default_spec()
    return GuestImage((cache_root or guest_cache_root()) / spec.key, spec.key)


def cached_image(
    spec: ImageSpec | None = None, cache_root: Path | None = None
) -> GuestImage | None:
    """The complete cached image of ``spec``, or None."""
    image = image_for(spec, cache_root)
    return image if image.is_complete() else None


@contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """One image build at a time per cache (a CLI build and a test session may race)."""
    with (root / LOCK_FILE).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another guest image build holds %s; waiting for it", root / LOCK_FILE)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mounts_below(path: Path, mounts_file: Path = Path("/proc/self/mounts")) -> list[Path]:
    """Mount points at or under ``path``, deepest first."""
    try:
        text = mounts_file.read_text()
    except OSError:
        return []
    base = os.path.realpath(path)
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        point = fields[1].replace("\\040", " ")
        if point == base or point.startswith(base + os.sep):
            found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def remove_tree(path: Path) -> None:
    """Remove a build directory, never following it into a mount (an interrupted mmdebstrap can
    leave /proc or /dev mounted inside its root): such mounts are unmounted first, and a
    directory still holding one is refused."""
    if not path.exists():
        return
    for point in mounts_below(path):
        subprocess.run(["umount", "--lazy", str(point)], check=False, capture_output=True)
    remaining = mounts_below(path)
    if remaining:
        raise ImageError(f"{path} still has mounts inside ({remaining}); not removing it")
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)
