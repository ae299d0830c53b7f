"""Golden files: a test compares what the code makes with a file committed beside it, so a
change shows up as a diff to review. After a deliberate change, rewrite the files by running
the tests with ``NIMBUS_UPDATE_GOLDEN=1`` (the operator's and the chart's golden tests read the
same variable)."""

from __future__ import annotations

import os
from pathlib import Path

UPDATE_ENV = "NIMBUS_UPDATE_GOLDEN"


def updating() -> bool:
    return os.environ.get(UPDATE_ENV) == "1"


def assert_golden(path: Path, made: str) -> None:
    """``made`` is exactly the text of the golden file ``path`` (written first when updating)."""
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(made)
    assert path.exists(), f"no golden file {path.name}: run with {UPDATE_ENV}=1"
    assert made == path.read_text(), f"{path.name} changed: review, then {UPDATE_ENV}=1"
