"""One container's processes: start an attempt through the shim, watch it, signal it.

Each attempt (the first start and every restart) has a directory
``<pod dir>/containers/<name>/<attempt>/`` holding the shim's spec, the container's writable
layer, its PID and its exit status; its output goes to
``<logs>/pods/<ns>_<pod>_<uid>/<name>/<attempt>.log`` (the kubelet's layout). The agent finds a
running attempt again after its own restart from those files.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIM_MODULE = "e2e.nodeagent.shim"
UNKNOWN_EXIT_CODE = 137


@dataclass(frozen=True)
class Exit:
    code: int
    signal: int
    finished_at: float
    message: str = ""


@dataclass(frozen=True)
class LaunchSpec:
    hostname: str
    argv: list[str]
    env: dict[str, str]
    working_dir: str
    mounts: list[dict[str, Any]]


class Attempt:
    """One start of a container, from spawn to exit."""

    def __init__(self, directory: Path, log_file: Path) -> None:
        self.directory = directory
        self.log_file = log_file
        self.spec_file = directory / "spec.json"
        self.exit_file = directory / "exit.json"
        self.pid_file = directory / "pid"
        self.shim_pid_file = directory / "shim-pid"
        self.started_at = 0.0
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, spec: LaunchSpec) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        shim_spec = {
            "hostname": spec.hostname,
            "argv": spec.argv,
            "env": spec.env,
            "working_dir": spec.working_dir,
            "mounts": spec.mounts,
            "rootfs": {
                "upper": str(self.directory / "upper"),
                "work": str(self.directory / "work"),
                "merged": str(self.directory / "root"),
            },
            "exit_file": str(self.exit_file),
            "pid_file": str(self.pid_file),
        }
        self.spec_file.write_text(json.dumps(shim_spec))
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", SHIM_MODULE, str(self.spec_file)],
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_at = time.time()
        self.shim_pid_file.write_text(f"{self._process.pid} {self.started_at}")

    def adopt(self) -> bool:
        """Take over an attempt a previous agent started; False if there is none here."""
        try:
            _pid, started = self.shim_pid_file.read_text().split()
        except (FileNotFoundError, ValueError):
            return False
        self.started_at = float(started)
        return True

    def was_started(self) -> bool:
        """True when some start already used this attempt's directory."""
        return self.shim_pid_file.exists() or self.exit_file.exists()

    def launched_env(self) -> dict[str, str]:
        """The environment the attempt was started with (exec probes run with it)."""
        try:
            env: dict[str, str] = json.loads(self.spec_file.read_text())["env"]
        except (FileNotFoundError, ValueError, KeyError):
            return {}
        return env

    @property
    def shim_pid(self) -> int:
        if self._process is not None:
            return self._process.pid
        try:
            return int(self.shim_pid_file.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return 0

    def _shim_alive(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        pid = self.shim_pid
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        state = stat.rpartition(")")[2].split()[0]
        return state not in ("Z", "X") and str(self.spec_file).encode() in cmdline

    def exit_status(self) -> Exit | None:
        """None while the container runs; its exit once it has ended."""
        recorded = self._read_exit()
        if recorded is not None:
            return recorded
        if self._shim_alive():
            return None
        recorded = self._read_exit()  # the shim may have finished between the two reads
        if recorded is not None:
            return recorded
        return Exit(UNKNOWN_EXIT_CODE, 0, time.time(), "the container's shim ended unexpectedly")

    def _read_exit(self) -> Exit | None:
        try:
            data = json.loads(self.exit_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return Exit(
            int(data["exitCode"]),
            int(data.get("signal", 0)),
            float(data["finishedAt"]),
            str(data.get("error", "")),
        )

    def container_pid(self) -> int:
        try:
            return int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return 0

    def terminate(self) -> None:
        """SIGTERM to the container's main process (through the shim, which passes it on)."""
        pid = self.shim_pid
        if pid and self._shim_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL every process of the container: the shim's process group."""
        pid = self.shim_pid
        if pid and (self._shim_alive() or self._container_alive()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    def _container_alive(self) -> bool:
        child = self.container_pid()
        try:
            stat = Path(f"/proc/{child}/stat").read_text() if child else ""
        except OSError:
            return False
        fields = stat.rpartition(")")[2].split()
        return bool(fields) and fields[0] not in ("Z", "X") and fields[2] == str(self.shim_pid)

    def discard_layer(self) -> None:
        """Remove the writable layer of an ended attempt (a restart starts from the image)."""
        for name in ("upper", "work", "root"):
            shutil.rmtree(self.directory / name, ignore_errors=True)
