"""One QEMU process: started through ``setpriv --pdeathsig KILL`` (it dies with the thread
that started it), its output appended to ``qemu.log``, stopped by QMP ``quit`` then SIGKILL."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from e2e.guest import host_tools, probes
from e2e.guest.qmp import Qmp
from e2e.guest.spec import QMP_READY_SECONDS, QUIT_GRACE_SECONDS, GuestError


class QemuProcess:
    """Start, watch and stop QEMU; `output` is what this process printed to ``qemu.log``."""

    def __init__(self, workdir: Path, log_path: Path, *, die_with_parent: bool = True) -> None:
        self.workdir = workdir
        self.log_path = log_path
        self.die_with_parent = die_with_parent
        self.log_offset = 0
        self.stopping = False
        """True once we asked QEMU to stop (`kill`): its exit is not the guest's failure."""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, command: list[str]) -> float:
        """Run ``command`` (its program looked up on PATH); ``time.monotonic()`` at start."""
        self.log_offset = probes.file_size(self.log_path)
        argv = list(command)
        argv[0] = host_tools.program(command[0])
        if self.die_with_parent and shutil.which("setpriv"):
            argv = ["setpriv", "--pdeathsig", "KILL", "--", *argv]
        with self.log_path.open("ab") as output:
            output.write(f"$ {' '.join(argv)}\n".encode())
            output.flush()
            self.stopping = False
            self._process = subprocess.Popen(
                argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return time.monotonic()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def started(self) -> bool:
        return self._process is not None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process is not None else None

    def output(self) -> str:
        """What this QEMU printed (after its command line)."""
        return probes.read_from(self.log_path, self.log_offset)

    def wait_for_qmp(self, qmp: Path) -> bool:
        """True once QEMU answers on QMP; False if it exits first."""
        deadline = time.monotonic() + QMP_READY_SECONDS
        while time.monotonic() < deadline:
            if not self.is_running():
                return False
            with contextlib.suppress(OSError, GuestError, ValueError):
                Qmp(qmp, timeout=2.0).execute("query-status")
                return True
            time.sleep(0.1)
        return self.is_running()

    def status(self, qmp: Path) -> str:
        """QMP ``query-status``'s status ('' when QEMU does not answer)."""
        with contextlib.suppress(OSError, GuestError, ValueError):
            status = Qmp(qmp, timeout=2.0).execute("query-status")
            return str(status.get("status", ""))
        return ""

    def wait(self, timeout: float) -> int:
        """QEMU's exit code once it exits (`subprocess.TimeoutExpired` after ``timeout``)."""
        if self._process is None:
            raise GuestError("QEMU was never started")
        return self._process.wait(timeout=timeout)

    def reap(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def kill(self, qmp: Path) -> None:
        """Stop QEMU now, without shutting the guest down: QMP ``quit``, then SIGKILL."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        self.stopping = True
        with contextlib.suppress(OSError, GuestError, ValueError):
            Qmp(qmp, timeout=2.0).execute("quit")
        try:
            process.wait(timeout=QUIT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
