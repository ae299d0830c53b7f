"""The README's storage cluster built by hand, run as written (on free ports): a ring, three
nodes, a gateway, the aws CLI, then everything stopped."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```sh\n(export NIMBUS_CLUSTER_TOKEN=.*?)```", re.DOTALL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_cluster_by_hand_runs_as_the_readme_says(tmp_path: Path) -> None:
    found = BLOCK.findall((ROOT / "README.md").read_text())
    assert len(found) == 1, "the README's cluster-by-hand block moved"
    script = found[0]
    ports = {port: str(free_port()) for port in ("6201", "6202", "6203", "9001")}
    script = re.sub(r"\b(6201|6202|6203|9001)\b", lambda m: ports[m.group(1)], script)
    # The project's environment, wherever this interpreter's is (.venv/bin after `make up`).
    script = script.replace(".venv/bin/", f"{Path(sys.executable).parent}/")
    env = dict(
        os.environ,
        TMPDIR=str(tmp_path),
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    process = subprocess.Popen(
        ["bash", "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, out
    for port in ("6201", "6202", "6203"):
        node = f"Nimbus storage node: http://127.0.0.1:{ports[port]} serving d0 (1 of 1 devices)"
        assert node in out, out
    assert f"Nimbus S3 endpoint: http://127.0.0.1:{ports['9001']}" in out, out
    assert "make_bucket: photos" in out, out
    assert "upload: ./README.md to s3://photos/README.md" in out, out
    assert list(tmp_path.iterdir()) == []  # the block removes what it made
