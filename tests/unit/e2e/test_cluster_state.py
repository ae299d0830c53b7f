"""State file, health report and process handling of e2e.cluster, without Kubernetes.

Real throwaway processes (``sleep``) stand in for control-plane components.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.cluster import BinaryPaths, Cluster, ClusterError, processes
from e2e.cluster.__main__ import main
from e2e.cluster.kubeconfig import export_line
from e2e.cluster.state import (
    ClusterState,
    ComponentRecord,
    all_alive,
    component_health,
    load_state,
    none_alive,
    save_state,
)

SLEEP = shutil.which("sleep") or "/bin/sleep"


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = processes.spawn((SLEEP, "60"), tmp_path / "logs" / "sleeper.log", cwd=tmp_path)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def _dead_pid() -> int:
    """The PID of a process that has exited and been reaped."""
    process = subprocess.Popen([SLEEP, "0"])
    process.wait()
    return process.pid


def _state(tmp_path: Path, *records: ComponentRecord) -> ClusterState:
    return ClusterState(
        run_dir=str(tmp_path),
        kubeconfig=str(tmp_path / "kubeconfig"),
        api_server="https://127.0.0.1:6443",
        started_at="2026-01-01T00:00:00+00:00",
        ports={"api_server": 6443},
        components=records,
    )


def _write_log(path: Path, lines: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"line {n}\n" for n in range(1, lines + 1)))
    return path


def test_state_round_trips_through_the_file(tmp_path: Path) -> None:
    state = _state(tmp_path, ComponentRecord("etcd", 42, "/bin/etcd", "/tmp/etcd.log"))

    save_state(tmp_path / "state.json", state)

    assert load_state(tmp_path / "state.json") == state
    assert load_state(tmp_path / "missing.json") is None


def test_with_component_replaces_a_record_of_the_same_name(tmp_path: Path) -> None:
    state = _state(tmp_path, ComponentRecord("etcd", 1, "/bin/etcd", "a.log"))

    updated = state.with_component(ComponentRecord("etcd", 2, "/bin/etcd", "a.log"))

    assert [c.pid for c in updated.components] == [2]


def test_unknown_state_version_is_refused(tmp_path: Path) -> None:
    text = _state(tmp_path).to_json().replace('"version": 1', '"version": 99')

    with pytest.raises(ValueError, match="version"):
        ClusterState.from_json(text)


def test_running_component_is_reported_alive_without_log_tail(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    log = _write_log(tmp_path / "logs" / "sleeper.log", 5)
    state = _state(tmp_path, ComponentRecord("kwok", sleeper.pid, SLEEP, str(log)))

    [health] = component_health(state)

    assert health.alive
    assert health.log_tail == []
    assert "running" in health.describe()
    assert all_alive([health])


def test_dead_component_is_reported_with_the_last_20_log_lines(tmp_path: Path) -> None:
    log = _write_log(tmp_path / "logs" / "kube-scheduler.log", 50)
    state = _state(tmp_path, ComponentRecord("kube-scheduler", _dead_pid(), SLEEP, str(log)))

    [health] = component_health(state)

    assert not health.alive
    assert health.log_tail == [f"line {n}" for n in range(31, 51)]
    text = health.describe()
    assert "DEAD" in text
    assert "| line 50" in text
    assert "| line 30" not in text
    assert none_alive([health])


def test_recycled_pid_running_another_program_counts_as_dead(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    state = _state(tmp_path, ComponentRecord("etcd", sleeper.pid, "/opt/etcd", "etcd.log"))

    [health] = component_health(state)

    assert not health.alive


def test_mixed_report_is_neither_all_alive_nor_none_alive(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    state = _state(
        tmp_path,
        ComponentRecord("etcd", sleeper.pid, SLEEP, "etcd.log"),
        ComponentRecord("kwok", _dead_pid(), SLEEP, "kwok.log"),
    )

    report = component_health(state)

    assert [item.alive for item in report] == [True, False]
    assert not all_alive(report)
    assert not none_alive(report)


def test_log_tail_of_a_missing_or_huge_log(tmp_path: Path) -> None:
    assert processes.log_tail(tmp_path / "nope.log") == []
    big = tmp_path / "big.log"
    big.write_text("".join(f"{'x' * 200} {n}\n" for n in range(2000)))

    tail = processes.log_tail(big, 3)

    assert [line.split()[-1] for line in tail] == ["1997", "1998", "1999"]


def test_zombie_child_counts_as_dead(tmp_path: Path) -> None:
    process = processes.spawn((SLEEP, "0"), tmp_path / "z.log", cwd=tmp_path)
    # Do not wait(): the exited child stays a zombie until is_running reaps it.
    for _ in range(100):
        if not processes.is_running(process.pid, SLEEP):
            break
        subprocess.run([SLEEP, "0.02"], check=True)
    assert not processes.is_running(process.pid, SLEEP)


def _gone(pid: int) -> bool:
    """Exited and reaped (stop() reaps its own children, so Popen.wait cannot see the signal)."""
    return not Path(f"/proc/{pid}").exists()


def test_stop_terminates_with_sigterm(sleeper: subprocess.Popen[bytes]) -> None:
    started = time.monotonic()

    assert processes.stop(sleeper.pid, SLEEP, timeout=5)

    assert _gone(sleeper.pid)
    assert time.monotonic() - started < 2, "SIGTERM alone should end sleep"


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    stubborn = processes.spawn(
        (
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)",
        ),
        tmp_path / "stubborn.log",
        cwd=tmp_path,
    )
    for _ in range(200):
        if "ready" in (tmp_path / "stubborn.log").read_text():
            break
        subprocess.run([SLEEP, "0.02"], check=True)

    started = time.monotonic()

    assert processes.stop(stubborn.pid, sys.executable, timeout=0.5)

    assert _gone(stubborn.pid)
    assert time.monotonic() - started >= 0.5, "SIGKILL comes only after the SIGTERM timeout"


def test_stop_leaves_a_process_that_is_not_ours_alone(sleeper: subprocess.Popen[bytes]) -> None:
    assert not processes.stop(sleeper.pid, "/opt/kube-apiserver", timeout=0.1)

    assert sleeper.poll() is None


def test_status_command_exit_codes_and_dead_component_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert main(["--dir", str(run_dir), "status"]) == 3

    log = _write_log(run_dir / "logs" / "kube-apiserver.log", 3)
    state = _state(run_dir, ComponentRecord("kube-apiserver", _dead_pid(), SLEEP, str(log)))
    save_state(run_dir / "state.json", state)

    assert main(["--dir", str(run_dir), "status"]) == 1
    out = capsys.readouterr().out
    assert "kube-apiserver" in out
    assert "DEAD" in out
    assert "| line 3" in out


def test_env_command_prints_export_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_state(tmp_path / "state.json", _state(tmp_path))

    assert main(["--dir", str(tmp_path), "env"]) == 0

    printed = capsys.readouterr().out.strip()
    assert printed == export_line(tmp_path / "kubeconfig")
    assert printed.startswith(f"export KUBECONFIG={tmp_path / 'kubeconfig'} PATH=")
    assert "kubectl-v1.35.4" in printed


def test_up_refuses_a_partly_running_cluster(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    state = _state(
        tmp_path,
        ComponentRecord("etcd", sleeper.pid, SLEEP, "etcd.log"),
        ComponentRecord("kube-apiserver", _dead_pid(), SLEEP, "apiserver.log"),
    )
    save_state(tmp_path / "state.json", state)

    assert main(["--dir", str(tmp_path), "up"]) == 1
    assert sleeper.poll() is None, "up must not touch the survivors"


def test_down_stops_only_recorded_processes_and_removes_the_run_dir(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    bystander = subprocess.Popen([SLEEP, "60"])
    try:
        save_state(
            run_dir / "state.json",
            _state(run_dir, ComponentRecord("etcd", sleeper.pid, SLEEP, "etcd.log")),
        )

        assert main(["--dir", str(run_dir), "down"]) == 0

        assert _gone(sleeper.pid)
        assert bystander.poll() is None
        assert not run_dir.exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_start_fails_with_the_log_tail_of_a_component_that_dies(tmp_path: Path) -> None:
    crash = tmp_path / "bin" / "crash"
    crash.parent.mkdir()
    crash.write_text(
        '#!/bin/sh\necho starting "$(basename "$0")"\necho \'fatal: boom\' >&2\nexit 1\n'
    )
    crash.chmod(0o755)
    binaries = BinaryPaths(crash, crash, crash, crash, crash, crash, crash)
    cluster = Cluster(tmp_path / "run", binaries=binaries)

    with pytest.raises(ClusterError) as caught:
        cluster.start(timeout=30)

    message = str(caught.value)
    assert "etcd" in message
    assert "DEAD" in message
    assert "fatal: boom" in message
    assert (tmp_path / "run" / "logs" / "etcd.log").exists(), "logs are kept for a failed start"
