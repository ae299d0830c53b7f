"""``python -m e2e.cluster`` on a second, throwaway control plane: up, reuse, status, down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.cluster.kubeconfig import export_line
from e2e.cluster.processes import is_running

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli(run_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "e2e.cluster", "--dir", str(run_dir), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_up_reuse_status_and_down_leave_nothing_behind(tmp_path: Path) -> None:
    run_dir = tmp_path / "cluster"
    try:
        up = cli(run_dir, "up")
        assert up.returncode == 0, up.stderr
        export = export_line(run_dir / "kubeconfig")
        assert up.stdout.strip() == export

        again = cli(run_dir, "up")
        assert again.returncode == 0, again.stderr
        assert again.stdout.strip() == export
        assert "reusing" in again.stderr

        assert cli(run_dir, "env").stdout.strip() == export
        healthy = cli(run_dir, "status")
        assert healthy.returncode == 0, healthy.stdout
        assert "DEAD" not in healthy.stdout

        state = json.loads((run_dir / "state.json").read_text())
        components = {c["name"]: c for c in state["components"]}
        kwok = components["kwok"]
        os.kill(kwok["pid"], signal.SIGKILL)

        broken = cli(run_dir, "status")
        assert broken.returncode == 1
        assert "kwok" in broken.stdout
        assert "DEAD" in broken.stdout
        assert f"lines of {kwok['log_file']}:\n  | " in broken.stdout
    finally:
        down = cli(run_dir, "down")
    assert down.returncode == 0, down.stderr
    for component in components.values():
        assert not is_running(component["pid"], component["binary"]), component["name"]
    assert not run_dir.exists()
