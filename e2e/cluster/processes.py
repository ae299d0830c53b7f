"""Start, check and stop control-plane processes by PID.

A PID only counts as "ours" while ``/proc/<pid>/cmdline`` still starts with the binary we
started, so a recycled PID is never signalled. Processes run in their own session (they outlive
``python -m e2e.cluster up``) with stdout and stderr appended to their log file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import deque
from pathlib import Path

STOP_TIMEOUT_SECONDS = 10.0
LOG_TAIL_LINES = 20
CMDLINE_RETRIES = 50


def spawn(
    argv: tuple[str, ...], log_file: Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached in its own session, output appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )


def is_running(pid: int, binary: str) -> bool:
    """True when ``pid`` is alive, not a zombie, and is still the process running ``binary``."""
    if pid <= 0:
        return False
    for _attempt in range(CMDLINE_RETRIES):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            return False
        state = stat.rpartition(")")[2].split()[0] if ")" in stat else "?"
        if state in {"Z", "X"}:
            _reap(pid)
            return False
        if cmdline:
            # argv[0] is the binary; for a script started via its #! line it is argv[1].
            leading = [arg.decode(errors="replace") for arg in cmdline.split(b"\0")[:2]]
            return binary in leading
        # Right after exec the kernel may not have published the new cmdline yet.
        time.sleep(0.01)
    return False


def stop(pid: int, binary: str, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
    """SIGTERM ``pid`` if it is ours, SIGKILL after ``timeout``; True if it was running."""
    if not is_running(pid, binary):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid, binary):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and is_running(pid, binary):
        time.sleep(0.05)
    return True


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The last ``lines`` lines of a log (empty if it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            start = max(0, size - 64 * 1024)
            handle.seek(start)
            if start:
                handle.readline()  # drop the partial first line
            tail: deque[str] = deque(maxlen=lines)
            for raw in handle:
                tail.append(raw.decode(errors="replace").rstrip("\n"))
    except FileNotFoundError:
        return []
    return list(tail)


def _reap(pid: int) -> None:
    """Collect a zombie child of this process (no-op for anyone else's)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
