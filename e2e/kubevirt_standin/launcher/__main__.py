"""``python -m e2e.kubevirt_standin.launcher``: the launcher pod's process (see the package)."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from types import FrameType

from e2e.kubevirt_standin.launch import LAUNCH_ENV, POD_IP_ENV
from e2e.kubevirt_standin.launcher.boot import run


def main() -> int:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.info("signal %d: shutting the guest down", signum)
        stop.set()

    # PID 1 of the container: without handlers, SIGTERM would be ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    launch = json.loads(os.environ[LAUNCH_ENV])
    pod_ip = os.environ.get(POD_IP_ENV) or "127.0.0.1"
    logging.info(
        "launching %s/%s: %s vCPU, %s MiB, %d disk(s), ports %s on %s",
        launch.get("namespace"),
        launch.get("name"),
        launch.get("cpus"),
        launch.get("memoryMiB"),
        len(launch.get("disks") or []),
        [port["port"] for port in launch.get("ports") or []],
        pod_ip,
    )
    return run(launch, pod_ip, stop).exit_code


if __name__ == "__main__":
    sys.exit(main())
