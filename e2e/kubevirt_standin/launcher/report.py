"""``status.json``: what the launcher tells the stand-in (written whole, read by either)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

STATUS_FILE = "status.json"
BOOTING = "Booting"
RUNNING = "Running"
FAILED = "Failed"
STOPPED = "Stopped"


def write(directory: Path, phase: str, **fields: Any) -> None:
    body = {"phase": phase, "updated": time.time(), **fields}
    partial = directory / f".{STATUS_FILE}.partial"
    partial.write_text(json.dumps(body, sort_keys=True) + "\n")
    os.replace(partial, directory / STATUS_FILE)


def read(directory: Path) -> dict[str, Any] | None:
    try:
        body = json.loads((directory / STATUS_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return body if isinstance(body, dict) else None
