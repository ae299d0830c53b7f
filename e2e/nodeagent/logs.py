"""Container logs as the node agent writes them, and ``python -m e2e.cluster logs``.

Each start of a container writes ``<run dir>/logs/pods/<ns>_<pod>_<uid>/<container>/<n>.log``
(``n`` = its restart count), the kubelet's layout. There is no kubelet API here, so
``kubectl logs`` cannot reach them; this module reads them instead.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

FOLLOW_POLL_SECONDS = 0.2


class LogNotFound(LookupError):
    pass


def attempt_logs(run_dir: Path, namespace: str, pod: str, container: str | None) -> list[Path]:
    """The log files of one container (every attempt, oldest first) of the newest pod so named."""
    pod_dirs = sorted(
        (run_dir / "logs" / "pods").glob(f"{namespace}_{pod}_*"),
        key=lambda path: path.stat().st_mtime,
    )
    if not pod_dirs:
        raise LogNotFound(f"no logs for pod {namespace}/{pod} in {run_dir}")
    pod_dir = pod_dirs[-1]
    containers = sorted(path.name for path in pod_dir.iterdir() if path.is_dir())
    if container is None:
        if len(containers) != 1:
            raise LogNotFound(f"pod {pod} has containers {containers}: choose one with -c")
        container = containers[0]
    files = sorted((pod_dir / container).glob("*.log"), key=lambda path: int(path.stem))
    if not files:
        raise LogNotFound(f"no logs for container {container} of {namespace}/{pod}")
    return files


def read_log(
    run_dir: Path, namespace: str, pod: str, container: str | None = None, previous: bool = False
) -> str:
    files = attempt_logs(run_dir, namespace, pod, container)
    if previous:
        if len(files) < 2:
            raise LogNotFound(f"pod {namespace}/{pod}: no previous container run")
        return files[-2].read_text(errors="replace")
    return files[-1].read_text(errors="replace")


def follow(path: Path) -> None:
    """Print ``path`` and keep printing what is appended until interrupted."""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(65536)
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            else:
                time.sleep(FOLLOW_POLL_SECONDS)
