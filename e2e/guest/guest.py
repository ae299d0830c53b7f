"""`Guest`: one guest booted under QEMU from a working directory (see `e2e.guest.qemu` for
the files it keeps there, the boot path and the KVM/TCG choice)."""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from e2e.guest import accel, host_tools, probes
from e2e.guest.accel import KVM
from e2e.guest.probes import free_port, ssh_banner
from e2e.guest.process import QemuProcess
from e2e.guest.qmp import Qmp
from e2e.guest.seed import make_overlay, make_seed, meta_data
from e2e.guest.spec import (
    ACCELS,
    BOOT_DEADLINE_SECONDS,
    CLOUD_INIT_DONE,
    FORWARD_FAILURE,
    POLL_SECONDS,
    PORT_ATTEMPTS,
    SHUTDOWN_DEADLINE_SECONDS,
    UNIX_PATH_MAX,
    BootInfo,
    GuestError,
    GuestSpec,
    PortForward,
    QemuStartError,
    qemu_command,
)

log = logging.getLogger(__name__)


class Guest:
    """One guest: `start`, `wait_for_ssh`, `boot_failure`, `is_up`, `powerdown`, `reset`,
    `kill`, `console_log`."""

    def __init__(self, spec: GuestSpec, workdir: Path) -> None:
        if spec.accel not in ACCELS:
            raise ValueError(f"accel must be one of {ACCELS}, not {spec.accel!r}")
        self.spec = spec
        self.workdir = workdir
        self.boot: BootInfo | None = None
        self._qemu = QemuProcess(
            workdir, workdir / "qemu.log", die_with_parent=spec.die_with_parent
        )
        self._socket_dir: Path | None = None
        self._instance_id = spec.instance_id or f"{spec.name}-{uuid.uuid4().hex[:12]}"

    # --- files -----------------------------------------------------------------------------

    @property
    def disk(self) -> Path:
        return self.spec.disk_path or self.workdir / "disk.qcow2"

    @property
    def seed(self) -> Path:
        return self.workdir / "seed.iso"

    @property
    def console_path(self) -> Path:
        return self.workdir / "console.log"

    @property
    def firmware_log(self) -> Path:
        return self.workdir / "firmware.log"

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
        return self._qemu.pid

    @property
    def ssh_port(self) -> int:
        return self._require_boot().ssh_port

    def console_log(self) -> str:
        return probes.read_from(self.console_path, 0)

    def console_size(self) -> int:
        return probes.file_size(self.console_path)

    def _console_since(self, offset: int) -> str:
        return probes.read_from(self.console_path, offset)

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
        make_seed(
            self.workdir / "seed",
            self.seed,
            user_data=self.spec.user_data,
            meta=meta_data(self._instance_id, self.spec.hostname or self.spec.name),
            network_config=self.spec.network_config,
        )
        first, kvm_error, explicit = accel.first_accel(self.spec.accel)
        if first == "kvm":
            try:
                boot = self._launch("kvm", "")
            except QemuStartError as error:
                if explicit:
                    raise
                failure = "QEMU did not start under KVM: " + probes.error_lines(error.output, 3)
                if "kvm" in error.output.lower():
                    # KVM's own failure (not, say, a missing disk): remember it.
                    KVM.remember(False, failure)
            else:
                failure = accel.probe_kvm(
                    self._qemu, self.qmp_path, self.console_path, self.firmware_log, boot
                )
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
            "guest %s: QEMU pid %d, accel %s%s; %d vCPU, %d MiB; %s; ssh %s:%d",
            self.spec.name,
            boot.pid,
            boot.accel,
            fallback,
            self.spec.cpus,
            self.spec.memory_mib,
            "direct kernel boot" if self.spec.kernel else "firmware boots the disk",
            boot.host_address,
            boot.ssh_port,
        )
        return boot

    def _make_overlay(self) -> None:
        make_overlay(self.spec.base_disk, self.spec.base_format, self.disk, self.spec.disk_size)

    def _launch(self, accel_name: str, kvm_error: str) -> BootInfo:
        """Start QEMU and wait for its QMP socket; auto-picked ports that clash are re-picked."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            forwards = self._forwards()
            qmp = self.qmp_path
            qmp.unlink(missing_ok=True)
            command = qemu_command(
                self.spec,
                accel=accel_name,
                disk=self.disk,
                seed=self.seed,
                console=self.console_path,
                qmp=qmp,
                forwards=forwards,
                firmware=self.firmware_log,
            )
            console_offset = self.console_size()
            firmware_offset = probes.file_size(self.firmware_log)
            started_at = self._qemu.start(command)
            if self._qemu.wait_for_qmp(qmp):
                return BootInfo(
                    pid=self._qemu.pid or 0,
                    accel=accel_name,
                    kvm_error=kvm_error,
                    host_address=self.spec.host_address,
                    ssh_port=forwards[0].host_port,
                    forwards=forwards,
                    command=tuple(command),
                    started_at=started_at,
                    console_offset=console_offset,
                    firmware_offset=firmware_offset,
                )
            output_text = self._qemu.output()
            self._qemu.reap()
            auto_ports = self.spec.ssh_port == 0 or any(
                f.host_port == 0 for f in self.spec.forwards
            )
            if FORWARD_FAILURE in output_text and auto_ports and attempt < PORT_ATTEMPTS:
                log.info("guest %s: a forwarded port was taken meanwhile; retrying", self.spec.name)
                continue
            raise QemuStartError(
                f"guest {self.spec.name}: QEMU ({accel_name}) did not start:\n"
                + output_text[-3000:],
                output_text,
            )
        raise AssertionError("unreachable")

    def _forwards(self) -> tuple[PortForward, ...]:
        wanted = (PortForward(22, self.spec.ssh_port), *self.spec.forwards)
        return tuple(
            f if f.host_port else replace(f, host_port=free_port(self.spec.host_address))
            for f in wanted
        )

    def _discard_attempt(self, reason: str) -> None:
        log.info("guest %s: KVM failed (%s); falling back to TCG", self.spec.name, reason)
        self.kill()
        for path in (self.console_path, self.firmware_log):
            with contextlib.suppress(FileNotFoundError):
                path.replace(path.with_name(f"{path.stem}-kvm-attempt.log"))

    def is_running(self) -> bool:
        return self._qemu.is_running()

    @property
    def returncode(self) -> int | None:
        return self._qemu.returncode

    # --- how the boot goes -----------------------------------------------------------------

    def boot_failure(self) -> str | None:
        """Why this boot cannot succeed, from this boot's output only: the firmware found no
        bootable disk, a kernel panic or missing root filesystem on the console, or QEMU
        exited by itself with an error. None: no failure seen (yet), or never started."""
        if self.boot is None:
            return None
        firmware = probes.read_from(self.firmware_log, self.boot.firmware_offset)
        reason = probes.firmware_failure(firmware) or probes.console_failure(
            self._console_since(self.boot.console_offset)
        )
        if reason or self._qemu.stopping:
            return reason
        return probes.qemu_failure(self.returncode, self._qemu.output())

    def is_up(self) -> bool:
        """QEMU runs and this boot's console shows a login prompt (``<hostname> login:``) or
        cloud-init's final line: a user can log in."""
        if self.boot is None or not self.is_running():
            return False
        return probes.login_ready(self._console_since(self.boot.console_offset))

    # --- waiting ---------------------------------------------------------------------------

    def wait_for_ssh(self, timeout: float = BOOT_DEADLINE_SECONDS) -> float:
        """Wait until the guest's SSH server sends its banner through the forwarded port;
        returns the seconds since QEMU started. A listening port alone proves nothing: QEMU
        accepts on the host side before the guest answers. A `boot_failure` ends the wait."""
        boot = self._require_boot()
        deadline = time.monotonic() + timeout
        while True:
            self._require_booting("waiting for SSH")
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
        ``pattern``; returns the seconds since QEMU started. A `boot_failure` ends the wait."""
        boot = self._require_boot()
        offset = boot.console_offset if since is None else since
        regex = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            if regex.search(self._console_since(offset)):
                return time.monotonic() - boot.started_at
            self._require_booting(f"waiting for {regex.pattern!r} on the console")
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
        if not self._qemu.started:
            raise GuestError(f"guest {self.spec.name} was never started")
        try:
            return self._qemu.wait(timeout)
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
                + self._qemu.output()[-2000:]
                + self._console_tail()
            )

    def _require_booting(self, doing: str) -> None:
        failure = self.boot_failure()
        if failure:
            raise GuestError(
                f"guest {self.spec.name} cannot boot ({doing}): {failure}" + self._console_tail()
            )
        self._require_running(doing)

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
        `BootInfo.console_offset` and `firmware_offset` move to where the new boot's output
        starts."""
        boot = self._require_boot()
        console_offset = self.console_size()
        firmware_offset = probes.file_size(self.firmware_log)
        self.qmp("system_reset")
        self.boot = replace(
            boot,
            started_at=time.monotonic(),
            console_offset=console_offset,
            firmware_offset=firmware_offset,
        )

    def kill(self) -> None:
        """Stop QEMU now, without shutting the guest down: QMP ``quit``, then SIGKILL."""
        self._qemu.kill(self.qmp_path)

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
