"""``python -m tests.support.storage_cluster up|down`` run as the README says, from the repository
root: an ``up`` that fails once nodes are running stops them and leaves no directory behind, so
the next ``up`` in the same place works; ``down`` stops what an ``up`` killed mid-start left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.storage_cluster import STATE_FILE, cluster_processes
from tests.support.waiting import budget, poll, wait_for

ROOT = Path(__file__).resolve().parents[2]
START = 60.0  # seconds a start-up of a few processes may take (StorageCluster.start_timeout)


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tests.support.storage_cluster", *map(str, args)]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=budget(START), check=False
    )


def test_a_failed_up_leaves_nothing_and_the_next_up_and_down_work(tmp_path: Path) -> None:
    root = tmp_path / "cluster"
    # Three nodes start; then the gateway refuses its arguments.
    failed = cli("up", "--dir", root, "--gateway-arg=--no-such-flag")
    assert failed.returncode == 1, failed.stderr
    assert "unrecognized arguments: --no-such-flag" in failed.stderr
    assert f"nothing left running; {root} removed" in failed.stderr
    assert cluster_processes(root) == []
    assert not root.exists()

    up = cli("up", "--dir", root, "--ec", "2+1")  # replicas default to K+M
    try:
        assert up.returncode == 0, up.stderr
        assert "over 3 storage nodes, 3 replicas (erasure coded 2+1)" in up.stdout
        assert (
            f"stop with: .venv/bin/python -m tests.support.storage_cluster down --dir {root}"
            in (up.stdout)
        )
        state = json.loads((root / STATE_FILE).read_text())
        recorded = sorted([*state["gateway_pids"], *(n["pid"] for n in state["nodes"])])
        assert cluster_processes(root) == recorded
        assert len(recorded) == 4
    finally:
        down = cli("down", "--dir", root)
    assert down.returncode == 0, down.stderr
    assert "stopped 4 processes" in down.stdout
    assert cluster_processes(root) == []
    assert not root.exists()


def test_down_stops_what_an_up_killed_mid_start_left(tmp_path: Path) -> None:
    root = tmp_path / "cluster"
    command = [sys.executable, "-m", "tests.support.storage_cluster", "up", "--nodes", "5"]
    up = subprocess.Popen([*command, "--dir", str(root)], cwd=ROOT)
    try:
        # Kill it once some nodes run but before the gateway does.
        started = poll(
            lambda: _recorded(root),
            lambda pids: len(pids[1]) >= 2 or bool(pids[0]) or up.poll() is not None,
            within=budget(START),
            every=0.01,
        )
        up.send_signal(signal.SIGKILL)
    finally:
        up.wait()
    gateways, nodes = started.value
    assert (gateways, len(nodes) >= 2) == ([], True), f"`up` not caught mid-start: {started.value}"
    assert set(nodes) <= set(cluster_processes(root))  # orphans, still running

    down = cli("down", "--dir", root)
    assert down.returncode == 0, down.stderr
    wait_for(lambda: cluster_processes(root) == [], within=budget(1.0), what="processes left")
    assert not root.exists()


def _recorded(root: Path) -> tuple[list[int], list[int]]:
    """The gateway and node PIDs the state file records now."""
    try:
        state = json.loads((root / STATE_FILE).read_text())
    except (OSError, ValueError):
        return [], []
    return list(state["gateway_pids"]), [n["pid"] for n in state["nodes"] if n["pid"]]
