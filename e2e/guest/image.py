"""The guest disk image: a minimal Debian with a cloud kernel, cloud-init and an SSH server.

Built from Debian packages with ``mmdebstrap`` (variant minbase plus `PACKAGES`) from this
machine's own apt sources (its Debian entries for the release), then:

- configured: a generated locale (`LOCALE`; without one cloud-init reports an error), an fstab,
  cloud-init limited to the NoCloud and ConfigDrive datasources (no network metadata probes,
  which would only time out behind QEMU's restricted user networking), apt's timers masked,
  the SSH host keys removed (cloud-init makes new ones on each instance's first boot);
- ``mkfs.ext4 -d`` into a raw file of `DISK_SIZE_BYTES` (label `ROOT_LABEL`, no partition
  table: the kernel mounts ``root=/dev/vda``; default mount option ``nodelalloc``, so a hard
  reset loses at most the last 5 s of writes), then ``qemu-img convert -O qcow2``;
- the kernel and initrd copied out beside it, for QEMU's ``-kernel``/``-initrd``.

Cached outside the repository like the Kubernetes binaries:
``$NIMBUS_GUEST_CACHE/<key>/`` (default ``~/.cache/nimbus/guest``) holding ``disk.qcow2``,
``vmlinuz``, ``initrd.img``, ``manifest.txt`` (every installed package and version: what the
image is pinned by), ``build.json`` (inputs, build time, sizes) and ``build.log`` (mmdebstrap's
output). The key is a hash of the requested package set, the Debian release and
`RECIPE_VERSION`; bump that constant whenever this recipe changes what ends up in the image.
A directory is built as ``<key>.partial`` and renamed into place when complete, so an
interrupted build never looks valid; a complete one is reused without running anything.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from e2e.guest import host_tools

log = logging.getLogger(__name__)

RECIPE_VERSION = 2
"""Bump when the recipe (configuration, filesystem, layout) changes: it is part of the key."""

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
)
"""DESIGN's list plus ``dbus``: without it systemd-logind does not run, and nothing acts on
the ACPI power button (QMP ``system_powerdown`` would be ignored)."""
LOCALE = "en_US.UTF-8"
DISK_SIZE_BYTES = 2 * 1024**3
ROOT_LABEL = "nimbus-root"
DEFAULT_USER = "debian"
"""cloud-init's default user in Debian's cloud-init package: ``ssh_authorized_keys`` go there."""

CACHE_ENV = "NIMBUS_GUEST_CACHE"
RELEASE_ENV = "NIMBUS_GUEST_RELEASE"
DISK_FILE = "disk.qcow2"
KERNEL_FILE = "vmlinuz"
INITRD_FILE = "initrd.img"
MANIFEST_FILE = "manifest.txt"
BUILD_FILE = "build.json"
BUILD_LOG_FILE = "build.log"
PROGRESS_INTERVAL_SECONDS = 15.0
MMDEBSTRAP_TIMEOUT_SECONDS = 1800.0
STEP_TIMEOUT_SECONDS = 600.0
STEPS = (
    "apt sources",
    "mmdebstrap",
    "configure",
    "manifest",
    "kernel",
    "mkfs.ext4",
    "qcow2",
)

DATASOURCE_CONFIG = """\
# Nimbus guests get their data from a NoCloud seed (or a config drive); probing the network
# metadata services would only time out behind QEMU's restricted user networking.
datasource_list: [NoCloud, ConfigDrive, None]
"""
MASKED_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer")


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


@dataclass(frozen=True)
class GuestImage:
    """A built image in the cache."""

    directory: Path
    key: str

    @property
    def disk(self) -> Path:
        return self.directory / DISK_FILE

    @property
    def kernel(self) -> Path:
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


# --- apt sources --------------------------------------------------------------------------


@dataclass(frozen=True)
class AptSource:
    uri: str
    suite: str
    components: tuple[str, ...]
    signed_by: str = ""

    def line(self) -> str:
        options = f"[signed-by={self.signed_by}] " if self.signed_by else ""
        return f"deb {options}{self.uri} {self.suite} {' '.join(self.components)}"


def parse_one_line_sources(text: str) -> list[AptSource]:
    """``deb [options] uri suite components...`` entries (``deb-src`` and comments skipped)."""
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        rest = line[4:].strip()
        options: dict[str, str] = {}
        if rest.startswith("["):
            inside, _, rest = rest[1:].partition("]")
            for option in inside.split():
                name, _, value = option.partition("=")
                options[name] = value
        words = rest.split()
        if len(words) < 2:
            continue
        signed_by = options.get("signed-by", "")
        sources.append(AptSource(words[0], words[1], tuple(words[2:]), signed_by))
    return sources


def parse_deb822_sources(text: str) -> list[AptSource]:
    """The ``Types: deb`` stanzas of a ``.sources`` file, one entry per URI and suite. An inline
    (multi-line) Signed-By key is dropped: only a keyring path carries over."""
    sources = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        current = ""
        for raw in stanza.splitlines():
            if raw.startswith("#"):
                continue
            if raw[:1] in {" ", "\t"} and current:
                fields[current] += "\n" + raw.strip()
                continue
            name, sep, value = raw.partition(":")
            if sep:
                current = name.strip().lower()
                fields[current] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        signed_by = fields.get("signed-by", "")
        if "\n" in signed_by or "BEGIN PGP" in signed_by:
            signed_by = ""
        components = tuple(fields.get("components", "").split())
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                sources.append(AptSource(uri, suite, components, signed_by))
    return sources


def release_sources(sources: list[AptSource], release: str) -> list[AptSource]:
    """The entries for ``release`` and its own suites (``-updates``, ``-security``): Debian's,
    not a third party's (their suites have other names)."""
    wanted = []
    for source in sources:
        suite = source.suite
        ours = suite == release or suite.startswith((f"{release}-", f"{release}/"))
        if ours and source not in wanted:
            wanted.append(source)
    return wanted


def host_apt_sources(release: str, apt_dir: Path = Path("/etc/apt")) -> list[AptSource]:
    """This machine's apt entries for ``release`` (sources.list and sources.list.d)."""
    sources: list[AptSource] = []
    one_line = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if path.is_file():
            sources += parse_one_line_sources(path.read_text())
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        sources += parse_deb822_sources(path.read_text())
    return release_sources(sources, release)


# --- build ---------------------------------------------------------------------------------


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
    with _build_lock(root):
        # Another process may have built it while we waited for the lock.
        if not force and image.is_complete():
            log.info("guest image %s: built meanwhile in %s", spec.key, image.directory)
            return ImageResult(image, False, time.monotonic() - started)
        _Builder(spec, image).run()
    seconds = time.monotonic() - started
    return ImageResult(image, True, seconds)


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
        counts = _run_mmdebstrap(self.spec, self.rootfs, mirrors, self.partial / BUILD_LOG_FILE)
        self.step(2, f"done: {counts.set_up} packages set up, {counts.fetched} downloaded")
        self.step(3, f"locale {LOCALE}, fstab, cloud-init datasources, no SSH host keys")
        configure_rootfs(self.rootfs)
        manifest = package_manifest(self.rootfs)
        (self.partial / MANIFEST_FILE).write_text(manifest)
        self.step(4, f"{len(manifest.splitlines())} packages in {MANIFEST_FILE}")
        kernel_version = copy_kernel(self.rootfs, self.partial)
        self.step(5, f"vmlinuz and initrd.img of {kernel_version}")
        raw = self.partial / "disk.raw"
        self.step(6, f"{DISK_SIZE_BYTES // 1024**2} MiB raw, label {ROOT_LABEL}")
        make_filesystem(self.rootfs, raw)
        remove_tree(self.rootfs)
        self.step(7, f"qemu-img convert -O qcow2 -> {DISK_FILE}")
        _run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(self.partial / DISK_FILE)])
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
            "apt_sources": [s.line() for s in sources],
            "installed_packages": len(manifest.splitlines()),
            "disk_virtual_bytes": DISK_SIZE_BYTES,
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


@dataclass
class _Counts:
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


def _run_mmdebstrap(spec: ImageSpec, target: Path, mirrors: list[str], log_path: Path) -> _Counts:
    """Run mmdebstrap, its output to ``log_path``; its phases and package counts to the log."""
    command = mmdebstrap_command(spec, target, mirrors)
    counts = _Counts()
    started = time.monotonic()
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(PROGRESS_INTERVAL_SECONDS):
            planned = f"/{counts.planned}" if counts.planned else ""
            log.info(
                "guest image [2/%d] mmdebstrap: %s, %s; %d downloaded, %d unpacked, "
                "%d%s set up (latest: %s)",
                len(STEPS),
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
                _count(line, counts)
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


def _count(line: str, counts: _Counts) -> None:
    if line.startswith("I: ") and (line.endswith("...") or line.startswith("I: success")):
        # mmdebstrap's own phases ("I: extracting archives..."); package scripts print "I: "
        # lines too, which only go to the build log.
        counts.phase = line[3:].rstrip(".")
        log.info("guest image [2/%d] mmdebstrap: %s", len(STEPS), counts.phase)
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
    _run(["chroot", str(rootfs), "locale-gen"])
    (etc / "default" / "locale").write_text(f"LANG={LOCALE}\n")
    (etc / "fstab").write_text(f"LABEL={ROOT_LABEL} / ext4 defaults,errors=remount-ro 0 1\n")
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
    completed = _run(
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


def make_filesystem(rootfs: Path, raw: Path) -> None:
    with raw.open("wb") as handle:
        handle.truncate(DISK_SIZE_BYTES)
    _run(["mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-d", str(rootfs), str(raw)])
    # Data reaches the disk with each journal commit (every 5 s) rather than up to 30 s later:
    # a hard reset (QMP system_reset) soon after first boot otherwise leaves cloud-init's new
    # files, the SSH host keys among them, empty, and sshd does not start again.
    _run(["tune2fs", "-o", "nodelalloc", str(raw)])


def _run(command: list[str]) -> str:
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_SECONDS,
            check=False,
            env={**os.environ, "LC_ALL": "C.UTF-8"},
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ImageError(f"`{' '.join(command)}` failed: {error}") from error
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-4000:]
        raise ImageError(f"`{' '.join(command)}` failed ({completed.returncode}):\n{output}")
    return completed.stdout


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


def format_seconds(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"


@contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """One image build at a time per cache (a CLI build and a test session may race)."""
    with (root / ".build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another guest image build holds %s; waiting for it", root / ".build.lock")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
