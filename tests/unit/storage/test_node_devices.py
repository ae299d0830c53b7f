"""A node's devices: a missing one is logged with where it was expected, served once its
directory appears, and ``/_nimbus/healthz`` says what the log said."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.node.config import NodeConfig, NodeContext
from nimbus_storage.node.devices import LocalDevices
from nimbus_storage.node.server import build_app, make_context

IDENTITY = StoreIdentity("p", "s", 4)
TOKEN = "devices-token"
Client = TestClient[web.Request, web.Application]


def context(data_dir: Path, *devices: str, create: bool = False) -> NodeContext:
    config = NodeConfig(
        data_dir=data_dir,
        identity=IDENTITY,
        devices=devices,
        token=TOKEN,
        fsync=False,
        create_devices=create,
        auditor=None,
    )
    return make_context(config)


@pytest.fixture
async def serve() -> AsyncIterator[list[Client]]:
    clients: list[Client] = []
    yield clients
    for client in clients:
        await client.close()


async def client_of(node: NodeContext, clients: list[Client]) -> Client:
    client = TestClient(TestServer(build_app(node)))
    await client.start_server()
    clients.append(client)
    return client


async def health(client: Client) -> dict[str, object]:
    async with client.get("/_nimbus/healthz") as response:
        assert response.status == 200  # a liveness probe: the node runs
        doc: dict[str, object] = await response.json()
        return doc


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_missing_device_is_logged_and_healthz_agrees(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, serve: list[Client]
) -> None:
    (tmp_path / "d1").mkdir()
    caplog.set_level(logging.INFO, "nimbus.node")

    node = context(tmp_path, "d0", "d1")

    assert warnings(caplog) == [
        f"device d0 missing: {tmp_path / 'd0'} does not exist; this node serves 1 of 2 devices"
        " (create the directory or mount the disk, or start the node with --create-devices)"
    ]
    assert node.devices.serving() == "d1 (1 of 2 devices; missing: d0)"
    client = await client_of(node, serve)
    assert await health(client) == {
        "status": "degraded",
        "devices": ["d1"],
        "missing": ["d0"],
        "problems": {"d0": f"{tmp_path / 'd0'} does not exist"},
    }
    headers = {"X-Nimbus-Cluster-Token": TOKEN}
    async with client.get("/objects/d0/0?suffix=abc", headers=headers) as response:
        assert response.status == 507
    assert not (tmp_path / "d0").exists()  # nothing written to the root filesystem instead
    assert len(warnings(caplog)) == 1  # said once, not on every check


async def test_a_device_mounted_later_is_served_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, serve: list[Client]
) -> None:
    caplog.set_level(logging.INFO, "nimbus.node")
    node = context(tmp_path, "d0")
    client = await client_of(node, serve)
    assert (await health(client))["status"] == "no devices"

    (tmp_path / "d0").mkdir()

    assert await health(client) == {
        "status": "ok",
        "devices": ["d0"],
        "missing": [],
        "problems": {},
    }
    assert f"device d0 is back: {tmp_path / 'd0'}; this node serves 1 of 1 devices" in [
        r.getMessage() for r in caplog.records
    ]
    assert node.devices.get("d0") is not None

    (tmp_path / "d0").rename(tmp_path / "unmounted")  # the disk goes away again

    assert node.devices.get("d0") is None
    assert warnings(caplog)[-1].startswith(
        f"device d0 missing: {tmp_path / 'd0'} does not exist; this node serves 0 of 1 devices"
    )


def test_a_file_where_a_device_should_be_is_not_a_device(tmp_path: Path) -> None:
    (tmp_path / "d0").write_text("not a disk")
    devices = LocalDevices(tmp_path, IDENTITY, ["d0"], create=True)
    assert devices.problems() == {"d0": f"{tmp_path / 'd0'} is not a directory"}
    assert devices.get("d0") is None
    assert devices.serving() == "no devices (0 of 1 devices; missing: d0)"


def test_create_devices_makes_the_missing_directories_when_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = context(tmp_path, "d0", "d1", create=True)
    assert node.devices.problems() == {}
    assert node.devices.serving() == "d0, d1 (2 of 2 devices)"
    assert not (tmp_path / "d0").exists()
    assert node.devices.get("d0") is not None
    assert (tmp_path / "d0" / "objects").is_dir()
    assert warnings(caplog) == []
