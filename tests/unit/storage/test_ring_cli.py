"""``python -m nimbus_storage.ring``: create, add, rebalance, show, edit, rebalance again."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from nimbus_storage import cli as top_cli
from nimbus_storage.ring import Ring
from nimbus_storage.ring.cli import main

NODES = [("a", "127.0.0.11:6200"), ("b", "127.0.0.12:6200"), ("c", "127.0.0.13:6200")]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_build_inspect_and_change_a_ring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    builder, ring_path = str(tmp_path / "builder.json"), tmp_path / "ring.json"
    assert _run(capsys, "create", builder, "--part-power", "8", "--replicas", "3")[0] == 0
    for index, (zone, node) in enumerate(NODES * 2):
        code, out, _ = _run(
            capsys, "add", builder, "--region", "1", "--zone", zone, "--node", node,
            "--device", f"d{index // 3}", "--weight", "100",
        )  # fmt: skip
        assert code == 0
        assert out.startswith(f"added device {index}:")

    code, out, _ = _run(capsys, "rebalance", builder, "--ring", str(ring_path), "--seed", "4")
    assert code == 0
    assert re.search(r"generation 1: moved 768 of 768 assignments, balance 0\.\d\d%", out)
    ring = Ring.load(ring_path)
    assert ring.part_power == 8
    assert len(ring.devices) == 6

    code, out, _ = _run(capsys, "show", str(ring_path))
    assert code == 0
    assert "256 partitions" in out
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [int(row[6]) for row in rows] == [128] * 6  # parts
    assert [float(row[7]) for row in rows] == [128.0] * 6  # wanted

    assert _run(capsys, "weight", builder, "--id", "0", "--weight", "50")[0] == 0
    assert _run(capsys, "remove", builder, "--id", "5")[0] == 0
    code, out, _ = _run(capsys, "rebalance", builder, "--ring", str(ring_path))
    assert code == 0
    moved = int(re.search(r"moved (\d+) of", out).group(1))  # type: ignore[union-attr]
    assert 0 < moved < 768 // 2
    changed = Ring.load(ring_path)
    assert changed.generation == 2
    assert changed.device_slots[5] is None
    assert changed.device(0).weight == 50.0


def test_errors_exit_non_zero_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    builder = str(tmp_path / "builder.json")
    assert _run(capsys, "create", builder, "--part-power", "4", "--replicas", "1")[0] == 0
    code, _, err = _run(capsys, "create", builder, "--part-power", "4", "--replicas", "1")
    assert (code, err.strip()) == (1, f"error: {builder} already exists")
    code, _, err = _run(capsys, "remove", builder, "--id", "3")
    assert (code, err.strip()) == (1, "error: no device 3 in the builder")
    code, _, err = _run(capsys, "rebalance", builder, "--ring", str(tmp_path / "r.json"))
    assert code == 1
    assert "replicas=1 needs at least 1 devices" in err
    code, _, err = _run(capsys, "show", str(tmp_path / "missing.json"))
    assert code == 1
    assert "No such file" in err
    assert _run(capsys, "add", builder, "--zone", "a")[0] == 2


def test_runs_as_a_module(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nimbus_storage.ring", "create", str(tmp_path / "b.json"),
         "--part-power", "4", "--replicas", "2"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "16 partitions, 2 replicas" in done.stdout


def test_usage_names_the_command_as_it_was_typed(capsys: pytest.CaptureFixture[str]) -> None:
    as_module = subprocess.run(
        [sys.executable, "-m", "nimbus_storage.ring", "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert as_module.returncode == 0, as_module.stderr
    python = Path(sys.executable).name
    assert as_module.stdout.startswith(f"usage: {python} -m nimbus_storage.ring ")
    assert top_cli.main(["ring", "show", "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: nimbus-storage ring show ")
    code, _, err = _run(capsys, "show")
    assert code == 2
    assert "nimbus-storage ring show: error: the following arguments are required" in err


def _ring_with(tmp_path: Path, capsys: pytest.CaptureFixture[str], ring_path: Path) -> None:
    builder = str(tmp_path / "builder.json")
    assert _run(capsys, "create", builder, "--part-power", "4", "--replicas", "1")[0] == 0
    zone, node = NODES[0]
    add = ("add", builder, "--region", "1", "--zone", zone, "--node", node, "--device", "d0")
    assert _run(capsys, *add, "--weight", "1")[0] == 0
    assert _run(capsys, "rebalance", builder, "--ring", str(ring_path))[0] == 0


def test_wait_returns_once_the_ring_names_the_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ring_path = tmp_path / "ring.json"
    _ring_with(tmp_path, capsys, ring_path)

    code, out, _ = _run(capsys, "wait", str(ring_path), "--node", NODES[0][1], "--timeout", "5")

    assert code == 0
    assert f"has {NODES[0][1]}: ['d0']" in out


def test_wait_times_out_saying_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ring_path = tmp_path / "ring.json"
    wait = ("wait", str(ring_path), "--timeout", "0.2", "--interval", "0.05", "--node")

    code, _, err = _run(capsys, *wait, NODES[0][1])
    assert code == 1
    assert "does not exist yet after 0.2s" in err

    _ring_with(tmp_path, capsys, ring_path)
    code, _, err = _run(capsys, *wait, NODES[1][1])
    assert code == 1
    assert f"has no device on {NODES[1][1]} yet" in err
