"""Boot a guest image under QEMU: what virt-launcher does for a VMI, as a local process.

A `Guest` owns one working directory:

- ``disk.qcow2``: a copy-on-write overlay over the base disk
  (``qemu-img create -f qcow2 -b BASE -F FORMAT``), made on the first `Guest.start` and kept
  across later starts (a stopped guest starts again with its disk intact);
- ``seed/`` and ``seed.iso``: the cloud-init NoCloud seed (``user-data``, ``meta-data`` with
  ``instance-id`` and ``local-hostname``, an optional ``network-config``), an ISO 9660 volume
  labelled ``cidata``, attached read-only;
- ``console.log``: the serial console (``console=ttyS0``), appended across starts;
- ``qemu.log``: QEMU's own output; ``qmp.sock``: its QMP socket (in a short temporary
  directory instead when the working directory's path is too long for a Unix socket).

The kernel and initrd are given to QEMU directly (``-kernel``/``-initrd``/``-append``), as the
image builder leaves them beside the disk. The network is QEMU's user-mode stack with
``restrict=on`` (the guest reaches nothing outside; its address is `GUEST_ADDRESS`), and each
`PortForward` is a ``hostfwd`` from a loopback address: SSH first.

Acceleration: ``auto`` tries KVM first and falls back to TCG when KVM is unusable. Here
``/dev/kvm`` is the PVM variant of KVM, under which a stock Debian kernel stops with KVM
emulation failures; so KVM counts as working only once the guest's systemd has started
(`KVM_OK_MARKERS` on the console) within `KVM_PROBE_SECONDS`. The verdict is remembered for
the process when it is certain (that marker, or a KVM internal error). `BootInfo.accel` says
which was used and `BootInfo.kvm_error` why KVM was not; both are logged.
``$NIMBUS_GUEST_ACCEL`` (``kvm``, ``tcg`` or ``auto``) overrides a spec's ``auto``.

QEMU is started through ``setpriv --pdeathsig KILL`` (when `GuestSpec.die_with_parent`), so
it dies with the process that started it: no guest outlives a killed test run. The signal
follows the *thread* that started QEMU: start guests from a thread that lives as long as they
should.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from e2e.guest import host_tools
from e2e.guest.image import GuestImage

log = logging.getLogger(__name__)

TCG_BOOT_SECONDS = 60.0
"""Start to cloud-init done for the guest image under TCG on this machine's 2 cores (SSH
answers at about 45 s); measured, see e2e/README.md. Every boot deadline derives from it."""
BUSY_MACHINE_FACTOR = 3.0
"""Head room for a machine that runs other test suites at the same time."""
BOOT_DEADLINE_SECONDS = TCG_BOOT_SECONDS * BUSY_MACHINE_FACTOR
SHUTDOWN_DEADLINE_SECONDS = TCG_BOOT_SECONDS * 1.5
"""An ACPI power-down under TCG takes a fraction of a boot."""
QMP_READY_SECONDS = 15.0
QMP_COMMAND_SECONDS = 10.0
KVM_PROBE_SECONDS = 20.0
"""Under working KVM the guest's systemd starts within a few seconds."""
KVM_OK_MARKERS = ("Welcome to ",)
"""Console text that proves the guest got as far as its init system."""
KVM_FAILURE_MARKERS = ("KVM internal error", "emulation failure", "kvm_run failed")
QUIT_GRACE_SECONDS = 5.0
POLL_SECONDS = 0.5
SSH_BANNER_TIMEOUT_SECONDS = 3.0
UNIX_PATH_MAX = 100
"""sun_path holds 108 bytes; keep a margin."""
GUEST_ADDRESS = "10.0.2.15"
"""The address QEMU's user-mode DHCP server gives the guest."""
DEFAULT_APPEND = "root=/dev/vda console=ttyS0"
ACCEL_ENV = "NIMBUS_GUEST_ACCEL"
ACCELS = ("auto", "kvm", "tcg")
CLOUD_INIT_DONE = re.compile(r"Cloud-init v\. \S+ finished at")
"""What cloud-init prints on the console when its last stage is done."""
FORWARD_FAILURE = "Could not set up host forwarding rule"
PORT_ATTEMPTS = 3
COMMAND_SECONDS = 120.0
"""qemu-img and the ISO writer."""


class GuestError(RuntimeError):
    """QEMU or the guest did not do what was asked; the message ends with the console's tail."""


class QemuStartError(GuestError):
    """QEMU exited before answering on QMP (``output``: what it printed)."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class PortForward:
    """A guest port reached at ``host_address:host_port`` (``host_port`` 0: pick a free one)."""

    guest_port: int
    host_port: int = 0
    protocol: str = "tcp"

    def hostfwd(self, host_address: str) -> str:
        return f"hostfwd={self.protocol}:{host_address}:{self.host_port}-:{self.guest_port}"


@dataclass(frozen=True)
class GuestSpec:
    """What to boot, and how: a VMI's domain, roughly."""

    name: str
    base_disk: Path
    kernel: Path | None
    initrd: Path | None
    base_format: str = "qcow2"
    cpus: int = 1
    memory_mib: int = 1024
    user_data: str = ""
    instance_id: str = ""
    """Empty: the name and a random suffix (cloud-init then treats each guest as new)."""
    hostname: str = ""
    """Empty: the name."""
    network_config: str | None = None
    """cloud-init network config (v1 or v2 YAML), written as the seed's ``network-config``."""
    ssh_port: int = 0
    """Host port forwarded to the guest's port 22 (0: a free one)."""
    forwards: tuple[PortForward, ...] = ()
    """More forwarded ports, besides SSH."""
    host_address: str = "127.0.0.1"
    """Loopback address the forwarded ports listen on."""
    disk_size: str | None = None
    """Virtual size of the overlay (``qemu-img`` syntax, e.g. ``10G``); None: the base's."""
    accel: str = "auto"
    append: str = DEFAULT_APPEND
    die_with_parent: bool = True

    @classmethod
    def for_image(cls, name: str, image: GuestImage, **options: Any) -> GuestSpec:
        """A spec booting ``image`` (its disk, kernel and initrd)."""
        return cls(
            name=name, base_disk=image.disk, kernel=image.kernel, initrd=image.initrd, **options
        )


@dataclass(frozen=True)
class BootInfo:
    """What `Guest.start` did."""

    pid: int
    accel: str
    """``kvm`` or ``tcg``: what the running guest uses."""
    kvm_error: str
    """Why KVM is not used ("" when it is)."""
    host_address: str
    ssh_port: int
    forwards: tuple[PortForward, ...]
    """Every forward with its real host port, SSH first."""
    command: tuple[str, ...]
    started_at: float
    """``time.monotonic()`` when the QEMU that runs the guest was started."""
    console_offset: int
    """Size of ``console.log`` before this boot: its output starts there."""


@dataclass
class _KvmVerdict:
    works: bool | None = None
    reason: str = ""


_KVM = _KvmVerdict()


def reset_kvm_verdict() -> None:
    """Forget what was learnt about KVM (tests)."""
    _KVM.works = None
    _KVM.reason = ""


def kvm_device_usable() -> bool:
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def free_port(host_address: str = "127.0.0.1") -> int:
    """A TCP port free on ``host_address`` now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host_address, 0))
        port: int = sock.getsockname()[1]
        return port


def meta_data(instance_id: str, hostname: str) -> str:
    """NoCloud ``meta-data`` (JSON is YAML: values are quoted safely)."""
    return f"instance-id: {json.dumps(instance_id)}\nlocal-hostname: {json.dumps(hostname)}\n"


def qemu_command(
    spec: GuestSpec,
    *,
    accel: str,
    disk: Path,
    seed: Path,
    console: Path,
    qmp: Path,
    forwards: tuple[PortForward, ...],
) -> list[str]:
    """The QEMU command line (pure): no defaults devices, serial console to a file, QMP."""
    netdev = ",".join(
        ["user", "id=net0", "restrict=on", *(f.hostfwd(spec.host_address) for f in forwards)]
    )
    command = [
        "qemu-system-x86_64",
        "-name",
        f"guest={spec.name}",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-machine",
        "q35",
        "-accel",
        accel,
        "-smp",
        str(spec.cpus),
        "-m",
        f"{spec.memory_mib}M",
        "-chardev",
        f"file,id=console,path={console},append=on",
        "-serial",
        "chardev:console",
        "-qmp",
        f"unix:{qmp},server=on,wait=off",
        "-drive",
        f"file={disk},format=qcow2,if=virtio,cache=writeback,discard=unmap",
        "-drive",
        f"file={seed},format=raw,if=virtio,readonly=on",
        "-netdev",
        netdev,
        "-device",
        "virtio-net-pci,netdev=net0",
        "-device",
        "virtio-rng-pci",
    ]
    if accel == "kvm":
        command += ["-cpu", "host"]
    if spec.kernel is not None:
        command += ["-kernel", str(spec.kernel), "-append", spec.append]
        if spec.initrd is not None:
            command += ["-initrd", str(spec.initrd)]
    return command


class Qmp:
    """A QMP client: one connection per command (QEMU serves one client at a time)."""

    def __init__(self, path: Path, timeout: float = QMP_COMMAND_SECONDS) -> None:
        self.path = path
        self.timeout = timeout

    def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(str(self.path))
            with sock.makefile("rwb") as stream:
                greeting = json.loads(stream.readline() or b"{}")
                if "QMP" not in greeting:
                    raise GuestError(f"QMP {self.path}: unexpected greeting {greeting!r}")
                self._call(stream, "qmp_capabilities", None)
                return self._call(stream, command, arguments)

    @staticmethod
    def _call(stream: Any, command: str, arguments: dict[str, Any] | None) -> Any:
        message: dict[str, Any] = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        stream.write(json.dumps(message).encode() + b"\n")
        stream.flush()
        while True:
            line = stream.readline()
            if not line:
                raise GuestError(f"QMP: connection closed before {command} answered")
            reply = json.loads(line)
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise GuestError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")
            # An asynchronous event ({"event": ...}): not the answer.


class Guest:
    """One guest: `start`, `wait_for_ssh`, `powerdown`, `reset`, `kill`, `console_log`."""

    def __init__(self, spec: GuestSpec, workdir: Path) -> None:
        if spec.accel not in ACCELS:
            raise ValueError(f"accel must be one of {ACCELS}, not {spec.accel!r}")
        self.spec = spec
        self.workdir = workdir
        self.boot: BootInfo | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._socket_dir: Path | None = None
        self._log_offset = 0
        self._instance_id = spec.instance_id or f"{spec.name}-{uuid.uuid4().hex[:12]}"

    # --- files -----------------------------------------------------------------------------

    @property
    def disk(self) -> Path:
        return self.workdir / "disk.qcow2"

    @property
    def seed(self) -> Path:
        return self.workdir / "seed.iso"

    @property
    def console_path(self) -> Path:
        return self.workdir / "console.log"

    @property
    def qemu_log(self) -> Path:
        return self.workdir / "qemu.log"

    @property
    def qmp_path(self) -> Path:
        path = self.workdir / "qmp.sock"
        if len(str(path)) <= UNIX_PATH_MAX:
            return path
        if self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="nimbus-qmp-"))
        return self._socket_dir / "qmp.sock"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def ssh_port(self) -> int:
        if self.boot is None:
            raise GuestError(f"guest {self.spec.name} was never started")
        return self.boot.ssh_port

    def console_log(self) -> str:
        try:
            return self.console_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def console_size(self) -> int:
        try:
            return self.console_path.stat().st_size
        except FileNotFoundError:
            return 0

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> BootInfo:
        """Boot the guest (the overlay is made on the first start, kept afterwards)."""
        if self.is_running():
            raise GuestError(f"guest {self.spec.name} is already running (pid {self.pid})")
        host_tools.require()
        self.workdir.mkdir(parents=True, exist_ok=True)
        fresh_disk = not self.disk.exists()
        if fresh_disk:
            self._make_overlay()
        self._make_seed()
        accel, kvm_error, explicit = self._first_accel()
        if accel == "kvm":
            try:
                boot = self._launch("kvm", "")
            except QemuStartError as error:
                if explicit:
                    raise
                failure = "QEMU did not start under KVM: " + _error_lines(error.output, 3)
                if "kvm" in error.output.lower():
                    # KVM's own failure (not, say, a missing disk): remember it.
                    _KVM.works, _KVM.reason = False, failure
            else:
                failure = self._probe_kvm(boot)
                if not failure:
                    return self._started(boot)
                if explicit:
                    self.kill()
                    raise GuestError(f"guest {self.spec.name}: {failure}" + self._console_tail())
            self._discard_attempt(failure)
            if fresh_disk:
                self.disk.unlink()
                self._make_overlay()
            kvm_error = failure
        return self._started(self._launch("tcg", kvm_error))

    def _started(self, boot: BootInfo) -> BootInfo:
        self.boot = boot
        fallback = f" (KVM not used: {boot.kvm_error})" if boot.kvm_error else ""
        log.info(
            "guest %s: QEMU pid %d, accel %s%s; %d vCPU, %d MiB; ssh %s:%d",
            self.spec.name,
            boot.pid,
            boot.accel,
            fallback,
            self.spec.cpus,
            self.spec.memory_mib,
            boot.host_address,
            boot.ssh_port,
        )
        return boot

    def _first_accel(self) -> tuple[str, str, bool]:
        """(accel to try first, why not KVM, whether that accel was asked for explicitly)."""
        wanted = self.spec.accel
        if wanted == "auto":
            wanted = os.environ.get(ACCEL_ENV, "auto") or "auto"
        if wanted not in ACCELS:
            raise GuestError(f"${ACCEL_ENV} must be one of {ACCELS}, not {wanted!r}")
        if wanted == "tcg":
            return "tcg", "TCG requested", True
        if not kvm_device_usable():
            if wanted == "kvm":
                raise GuestError("KVM requested but /dev/kvm is not usable")
            return "tcg", "/dev/kvm is not usable", False
        if wanted == "auto" and _KVM.works is False:
            return "tcg", f"{_KVM.reason} (found earlier in this process)", False
        return "kvm", "", wanted == "kvm"

    def _make_overlay(self) -> None:
        command = [
            host_tools.program("qemu-img"),
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            str(self.spec.base_disk.resolve()),
            "-F",
            self.spec.base_format,
            str(self.disk),
        ]
        if self.spec.disk_size:
            command.append(self.spec.disk_size)
        _check_call(command)

    def _make_seed(self) -> None:
        seed_dir = self.workdir / "seed"
        shutil.rmtree(seed_dir, ignore_errors=True)
        seed_dir.mkdir()
        files = [seed_dir / "user-data", seed_dir / "meta-data"]
        files[0].write_text(self.spec.user_data)
        files[1].write_text(meta_data(self._instance_id, self.spec.hostname or self.spec.name))
        if self.spec.network_config is not None:
            files.append(seed_dir / "network-config")
            files[-1].write_text(self.spec.network_config)
        tool = host_tools.program("genisoimage", "xorriso")
        prefix = [tool] if Path(tool).name == "genisoimage" else [tool, "-as", "mkisofs"]
        self.seed.unlink(missing_ok=True)
        _check_call(
            [
                *prefix,
                "-quiet",
                "-output",
                str(self.seed),
                "-volid",
                "cidata",
                "-joliet",
                "-rock",
                *map(str, files),
            ]
        )

    def _launch(self, accel: str, kvm_error: str) -> BootInfo:
        """Start QEMU and wait for its QMP socket; auto-picked ports that clash are re-picked."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            forwards = self._forwards()
            qmp = self.qmp_path
            qmp.unlink(missing_ok=True)
            command = qemu_command(
                self.spec,
                accel=accel,
                disk=self.disk,
                seed=self.seed,
                console=self.console_path,
                qmp=qmp,
                forwards=forwards,
            )
            console_offset = self.console_size()
            log_offset = self._log_offset = self._qemu_log_size()
            argv = list(command)
            argv[0] = host_tools.program(command[0])
            if self.spec.die_with_parent and shutil.which("setpriv"):
                argv = ["setpriv", "--pdeathsig", "KILL", "--", *argv]
            with self.qemu_log.open("ab") as output:
                output.write(f"$ {' '.join(argv)}\n".encode())
                output.flush()
                self._process = subprocess.Popen(
                    argv,
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started_at = time.monotonic()
            if self._wait_for_qmp():
                return BootInfo(
                    pid=self._process.pid,
                    accel=accel,
                    kvm_error=kvm_error,
                    host_address=self.spec.host_address,
                    ssh_port=forwards[0].host_port,
                    forwards=forwards,
                    command=tuple(command),
                    started_at=started_at,
                    console_offset=console_offset,
                )
            output_text = self._qemu_output(log_offset)
            self._reap()
            auto_ports = self.spec.ssh_port == 0 or any(
                f.host_port == 0 for f in self.spec.forwards
            )
            if FORWARD_FAILURE in output_text and auto_ports and attempt < PORT_ATTEMPTS:
                log.info("guest %s: a forwarded port was taken meanwhile; retrying", self.spec.name)
                continue
            raise QemuStartError(
                f"guest {self.spec.name}: QEMU ({accel}) did not start:\n{output_text[-3000:]}",
                output_text,
            )
        raise AssertionError("unreachable")

    def _forwards(self) -> tuple[PortForward, ...]:
        wanted = (PortForward(22, self.spec.ssh_port), *self.spec.forwards)
        return tuple(
            f if f.host_port else replace(f, host_port=free_port(self.spec.host_address))
            for f in wanted
        )

    def _wait_for_qmp(self) -> bool:
        """True once QEMU answers on QMP; False if it exits first."""
        deadline = time.monotonic() + QMP_READY_SECONDS
        while time.monotonic() < deadline:
            if not self.is_running():
                return False
            with contextlib.suppress(OSError, GuestError, ValueError):
                Qmp(self.qmp_path, timeout=2.0).execute("query-status")
                return True
            time.sleep(0.1)
        return self.is_running()

    def _probe_kvm(self, boot: BootInfo) -> str:
        """'' when the guest runs under KVM; else why KVM fails."""
        deadline = time.monotonic() + KVM_PROBE_SECONDS
        log_offset = self._log_offset
        while time.monotonic() < deadline:
            console = self._console_since(boot.console_offset)
            if any(marker in console for marker in KVM_OK_MARKERS):
                _KVM.works, _KVM.reason = True, ""
                return ""
            output = self._qemu_output(log_offset)
            failure = next((m for m in KVM_FAILURE_MARKERS if m in output), "")
            status = self._status()
            if failure or status in {"internal-error", "guest-panicked"}:
                reason = f"KVM {failure or status}: " + _error_lines(output, 3)
                _KVM.works, _KVM.reason = False, reason
                return reason
            if not self.is_running():
                return "QEMU exited under KVM: " + _error_lines(output, 3)
            time.sleep(POLL_SECONDS)
        if not self._console_since(boot.console_offset).strip():
            # Any kernel booted with console=ttyS0 writes at once: KVM itself is stuck.
            reason = f"no console output under KVM in {KVM_PROBE_SECONDS:.0f} s"
            _KVM.works, _KVM.reason = False, reason
            return reason
        return f"the guest's init did not start under KVM in {KVM_PROBE_SECONDS:.0f} s"

    def _discard_attempt(self, reason: str) -> None:
        log.info("guest %s: KVM failed (%s); falling back to TCG", self.spec.name, reason)
        self.kill()
        attempt = self.workdir / "console-kvm-attempt.log"
        with contextlib.suppress(FileNotFoundError):
            self.console_path.replace(attempt)

    def _status(self) -> str:
        with contextlib.suppress(OSError, GuestError, ValueError):
            status = Qmp(self.qmp_path, timeout=2.0).execute("query-status")
            return str(status.get("status", ""))
        return ""

    def _qemu_log_size(self) -> int:
        try:
            return self.qemu_log.stat().st_size
        except FileNotFoundError:
            return 0

    def _qemu_output(self, offset: int) -> str:
        try:
            with self.qemu_log.open("rb") as handle:
                handle.seek(offset)
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _console_since(self, offset: int) -> str:
        try:
            with self.console_path.open("rb") as handle:
                handle.seek(offset)
                return handle.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process is not None else None

    def _reap(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    # --- waiting ---------------------------------------------------------------------------

    def wait_for_ssh(self, timeout: float = BOOT_DEADLINE_SECONDS) -> float:
        """Wait until the guest's SSH server sends its banner through the forwarded port;
        returns the seconds since QEMU started. A listening port alone proves nothing: QEMU
        accepts on the host side before the guest answers."""
        boot = self._require_boot()
        deadline = time.monotonic() + timeout
        while True:
            self._require_running("waiting for SSH")
            if ssh_banner(boot.host_address, boot.ssh_port):
                return time.monotonic() - boot.started_at
            if time.monotonic() >= deadline:
                raise GuestError(
                    f"guest {self.spec.name}: no SSH banner on {boot.host_address}:"
                    f"{boot.ssh_port} after {timeout:.0f} s ({boot.accel})" + self._console_tail()
                )
            time.sleep(POLL_SECONDS)

    def wait_for_console(
        self, pattern: str | re.Pattern[str], timeout: float, *, since: int | None = None
    ) -> float:
        """Wait until the console (from byte ``since``, default this boot's start) matches
        ``pattern``; returns the seconds since QEMU started."""
        boot = self._require_boot()
        offset = boot.console_offset if since is None else since
        regex = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            if regex.search(self._console_since(offset)):
                return time.monotonic() - boot.started_at
            self._require_running(f"waiting for {regex.pattern!r} on the console")
            if time.monotonic() >= deadline:
                raise GuestError(
                    f"guest {self.spec.name}: {regex.pattern!r} not on the console after "
                    f"{timeout:.0f} s" + self._console_tail()
                )
            time.sleep(POLL_SECONDS)

    def wait_for_cloud_init(self, timeout: float = BOOT_DEADLINE_SECONDS) -> float:
        """Wait for cloud-init's final "finished" line on this boot's console."""
        return self.wait_for_console(CLOUD_INIT_DONE, timeout)

    def wait_for_exit(self, timeout: float = SHUTDOWN_DEADLINE_SECONDS) -> int:
        """Wait for QEMU to exit (after a power-down); returns its exit code."""
        if self._process is None:
            raise GuestError(f"guest {self.spec.name} was never started")
        try:
            return self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise GuestError(
                f"guest {self.spec.name}: QEMU still running {timeout:.0f} s after the request"
                + self._console_tail()
            ) from error

    def _require_boot(self) -> BootInfo:
        if self.boot is None:
            raise GuestError(f"guest {self.spec.name} was never started")
        return self.boot

    def _require_running(self, doing: str) -> None:
        if not self.is_running():
            raise GuestError(
                f"guest {self.spec.name}: QEMU exited ({self.returncode}) while {doing}:\n"
                + self._qemu_output(self._log_offset)[-2000:]
                + self._console_tail()
            )

    def _console_tail(self, lines: int = 25) -> str:
        tail = self.console_log().splitlines()[-lines:]
        return "\nconsole (last lines):\n" + "\n".join(tail)

    # --- requests --------------------------------------------------------------------------

    def qmp(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        self._require_running(f"sending {command}")
        return Qmp(self.qmp_path).execute(command, arguments)

    def powerdown(self) -> None:
        """ACPI power button: the guest shuts down and QEMU exits (see `wait_for_exit`)."""
        self.qmp("system_powerdown")

    def reset(self) -> None:
        """Hard reset, as the reset button: the guest reboots at once, without shutting down.
        `BootInfo.console_offset` moves to where the new boot's output starts."""
        boot = self._require_boot()
        offset = self.console_size()
        self.qmp("system_reset")
        self.boot = replace(boot, started_at=time.monotonic(), console_offset=offset)

    def kill(self) -> None:
        """Stop QEMU now, without shutting the guest down: QMP ``quit``, then SIGKILL."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(OSError, GuestError, ValueError):
            Qmp(self.qmp_path, timeout=2.0).execute("quit")
        try:
            process.wait(timeout=QUIT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()

    def close(self) -> None:
        """Kill QEMU if it runs and remove the temporary socket directory, if any."""
        self.kill()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def __enter__(self) -> Guest:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@contextlib.contextmanager
def running_guest(spec: GuestSpec, workdir: Path) -> Iterator[Guest]:
    """A started guest, killed on the way out."""
    with Guest(spec, workdir) as guest:
        guest.start()
        yield guest


def ssh_banner(host: str, port: int, timeout: float = SSH_BANNER_TIMEOUT_SECONDS) -> str:
    """The SSH identification line the server at ``host:port`` sends, or '' (none yet)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            data = sock.recv(256)
    except OSError:
        return ""
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    return line if line.startswith("SSH-") else ""


def _error_lines(text: str, count: int) -> str:
    """QEMU's first ``count`` lines of output after its command line, joined."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("$ ")]
    return " | ".join(lines[:count]) or "no output"


def _check_call(command: list[str]) -> None:
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GuestError(f"`{' '.join(command)}` failed: {error}") from error
    if completed.returncode != 0:
        raise GuestError(
            f"`{' '.join(command)}` failed ({completed.returncode}):\n"
            + (completed.stdout + completed.stderr)[-2000:]
        )
