"""``nimbus-storage serve`` as a user starts it: a subprocess on a free port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SERVE = (sys.executable, "-m", "nimbus_storage.cli", "serve")


def start_standalone(
    data: Path, access_key: str, secret_key: str, *options: str
) -> tuple[subprocess.Popen[str], str, list[str]]:
    """The process, its endpoint URL, and the three banner lines it printed when ready;
    ``options``: more ``serve`` options."""
    env = dict(os.environ, NIMBUS_ROOT_ACCESS_KEY=access_key, NIMBUS_ROOT_SECRET_KEY=secret_key)
    process = subprocess.Popen(
        [*SERVE, "--data", str(data), "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert process.stdout is not None
    banner = [process.stdout.readline() for _ in range(3)]
    match = re.search(r"(http://127\.0\.0\.1:\d+)", banner[0])
    assert match, banner
    return process, match.group(1), banner
