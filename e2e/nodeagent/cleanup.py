"""Stop every container the node agent started and release its volumes (``down``'s last step).

The agent leaves containers running when it stops (its successor adopts them); taking the whole
cluster down must not. Containers are found from the shims' PID files under the run's pod
directories; a PID counts only while its command line still names that container's spec.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from e2e.nodeagent.provisioner import release_path

STOP_GRACE_SECONDS = 5.0


def _live_shims(pods_dir: Path) -> list[int]:
    found = []
    for pid_file in pods_dir.glob("*/containers/*/*/shim-pid"):
        try:
            pid = int(pid_file.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if str(pid_file.parent / "spec.json").encode() in cmdline:
            found.append(pid)
    return found


def stop_containers(pods_dir: Path, grace: float = STOP_GRACE_SECONDS) -> int:
    """SIGTERM every container, SIGKILL what is left after ``grace``; the number stopped."""
    shims = _live_shims(pods_dir)
    for pid in shims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _live_shims(pods_dir):
        time.sleep(0.1)
    # Only shims still alive now: a PID that ended meanwhile may already be someone else's.
    for pid in _live_shims(pods_dir):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    return len(shims)


def release_volumes(volumes_dir: Path) -> None:
    """Unmount the sized volumes' filesystems (their directories go with the run dir)."""
    if not volumes_dir.is_dir():
        return
    for path in volumes_dir.iterdir():
        if path.is_mount():
            release_path(path)
