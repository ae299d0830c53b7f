"""A storage node started without its device directories, as a newcomer meets it: the node says
which devices are missing and where it looked (its log and ``/_nimbus/healthz`` agree), and a
gateway waiting for its catalog says what each node it tried answered."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nimbus_storage import cli
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.node.config import NodeConfig
from nimbus_storage.node.server import RunningNode, start_node
from nimbus_storage.ring import RingBuilder

pytestmark = pytest.mark.timeout(60)

IDENTITY = StoreIdentity("missing-devices-prefix", "missing-devices-suffix", 4)
TOKEN = "missing-devices-token"
NIMBUS_STORAGE = str(Path(sys.executable).with_name("nimbus-storage"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def health(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_nimbus/healthz", timeout=5) as answer:
        doc: dict[str, object] = json.load(answer)
        return doc


def test_the_node_command_names_missing_devices_and_its_health_agrees(tmp_path: Path) -> None:
    data, port = tmp_path / "node", free_port()
    (data / "d1").mkdir(parents=True)
    process = subprocess.Popen(
        [
            NIMBUS_STORAGE, "node", "--data", str(data), "--listen", f"127.0.0.1:{port}",
            "--part-power", "4", "--hash-prefix", "x", "--hash-suffix", "y",
            "--device", "d0", "--device", "d1", "--no-auditor",
        ],
        env=dict(os.environ, NIMBUS_CLUSTER_TOKEN=TOKEN),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner == (
            f"Nimbus storage node: http://127.0.0.1:{port} serving d1 (1 of 2 devices;"
            " missing: d0)\n"
        )
        doc = health(port)
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)
    assert process.returncode == 0
    assert (
        f"WARNING nimbus.node device d0 missing: {data / 'd0'} does not exist; this node serves"
        " 1 of 2 devices (create the directory or mount the disk, or start the node with"
        " --create-devices)"
    ) in log
    assert f"serving d1 (1 of 2 devices; missing: d0) from {data}" in log
    assert "serving d0" not in log
    assert doc == {
        "status": "degraded",
        "devices": ["d1"],
        "missing": ["d0"],
        "problems": {"d0": f"{data / 'd0'} does not exist"},
    }


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    """Two nodes without their device directory: one with the cluster's token, one with
    another."""
    started = []
    for name, token in (("n1", TOKEN), ("n2", "another-token")):
        config = NodeConfig(
            data_dir=tmp_path / name,
            identity=IDENTITY,
            devices=("d0",),
            token=token,
            port=0,
            fsync=False,
            auditor=None,
            replicator=None,
            db_replicator=None,
        )
        started.append(await start_node(config))
    yield started
    for node in started:
        await node.stop()


async def test_a_gateway_waiting_for_its_catalog_says_what_each_node_answered(
    tmp_path: Path,
    nodes: list[RunningNode],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing, wrong_token = (f"127.0.0.1:{node.port}" for node in nodes)
    nowhere = f"127.0.0.1:{free_port()}"
    builder = RingBuilder(IDENTITY.part_power, 3, IDENTITY.hash_prefix, IDENTITY.hash_suffix)
    for zone, node in zip("abc", (missing, wrong_token, nowhere), strict=True):
        builder.add_device(region=1, zone=zone, node=node, device="d0", weight=1)
    builder.rebalance()
    ring = tmp_path / "ring.json"
    builder.ring().save(ring)
    monkeypatch.setenv(cli.CLUSTER_TOKEN_ENV, TOKEN)
    monkeypatch.delenv(cli.ACCESS_KEY_ENV, raising=False)
    monkeypatch.delenv(cli.SECRET_KEY_ENV, raising=False)
    monkeypatch.setattr(cli, "CATALOG_WAIT", 2.5)
    monkeypatch.setattr(cli, "CATALOG_RETRY_PAUSE", 0.2)
    caplog.set_level(logging.WARNING, "nimbus.gateway")
    args = cli._parser().parse_args(
        ["serve", "--data", str(tmp_path / "gateway"), "--port", "0", "--ring", str(ring)]
    )

    assert await cli._serve(args) == 1

    causes = [
        f"507 device d0 missing on {missing} ({tmp_path / 'n1' / 'd0'} does not exist)",
        f"401 from {wrong_token}: wrong cluster token (NIMBUS_CLUSTER_TOKEN differs)",
        f"no answer from {nowhere} for device d0: connection refused",
    ]
    waiting = [r.getMessage() for r in caplog.records if "not reachable yet" in r.getMessage()]
    assert len(waiting) == 1  # retried every 0.2 s, said once (every 10 s)
    assert waiting[0].startswith("catalog not reachable yet (retrying for up to 2 s): ")
    assert all(cause in waiting[0] for cause in causes), waiting[0]
    err = capsys.readouterr().err
    assert err.startswith("nimbus-storage serve: catalog not reachable in 2.5 s: ")
    assert all(cause in err for cause in causes), err
