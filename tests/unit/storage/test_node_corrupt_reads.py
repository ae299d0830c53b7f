"""A node never serves a corrupt block: the GET ends short and the blob is quarantined."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from nimbus_storage.blobs.blocks import BLOCK_SIZE
from nimbus_storage.blobs.diskfile import normalize_timestamp
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.node.config import NodeConfig, NodeContext
from nimbus_storage.node.server import MAX_FIELD_SIZE, build_app, make_context

T1 = normalize_timestamp(1700000001.0)
RING = StoreIdentity("p", "s", 4)
TOKEN = "cluster-secret"
AUTH = {"X-Nimbus-Cluster-Token": TOKEN}
BODY = bytes(range(256)) * (3 * BLOCK_SIZE // 256) + b"tail"  # blocks 0, 1, 2 and a short 3
Client = TestClient[web.Request, web.Application]


def url(name: str) -> str:
    return f"/objects/d0/{RING.partition(RING.name_hash(name))}/{quote(name, safe='')}"


@pytest.fixture
def node(tmp_path: Path) -> NodeContext:
    config = NodeConfig(
        data_dir=tmp_path,
        identity=RING,
        devices=("d0",),
        token=TOKEN,
        fsync=False,
        create_devices=True,
        auditor=None,
    )
    return make_context(config)


@pytest.fixture
async def client(node: NodeContext) -> AsyncIterator[Client]:
    server = TestServer(build_app(node))
    await server.start_server(max_field_size=MAX_FIELD_SIZE)
    async with TestClient(server, max_field_size=MAX_FIELD_SIZE) as client:
        yield client


async def put_blob(client: Client, name: str) -> None:
    headers = {**AUTH, "X-Nimbus-Timestamp": T1, "X-Nimbus-Meta": "{}"}
    async with client.put(url(name), data=BODY, headers=headers) as response:
        assert response.status == 201


def flip(node: NodeContext, name: str, offset: int) -> Path:
    store = node.devices.get("d0")
    assert store is not None
    path = store.hash_dir_for(name) / f"{T1}.data"
    with path.open("r+b") as data:
        data.seek(offset)
        byte = data.read(1)
        data.seek(offset)
        data.write(bytes([byte[0] ^ 0x10]))
    return store.quarantine_dir / store.hash_dir_for(name).name


async def get(client: Client, name: str, range_header: str | None = None) -> tuple[int, bytes]:
    headers = dict(AUTH) if range_header is None else {**AUTH, "Range": range_header}
    async with client.get(url(name), headers=headers) as response:
        return response.status, await response.read()


async def get_into(client: Client, name: str, received: bytearray) -> None:
    async with client.get(url(name), headers=AUTH) as response:
        async for chunk in response.content.iter_chunked(64 * 1024):
            received += chunk


def sample(node: NodeContext, metric: str) -> float | None:
    return node.metrics.registry.get_sample_value(metric)


@pytest.mark.parametrize("flipped", [0, BLOCK_SIZE + 5, len(BODY) - 1])
async def test_get_of_a_corrupt_blob_ends_short_and_quarantines_it(
    client: Client, node: NodeContext, flipped: int
) -> None:
    await put_blob(client, "blob")
    quarantined = flip(node, "blob", flipped)
    received = bytearray()
    with pytest.raises(aiohttp.ClientError):
        await get_into(client, "blob", received)
    # Whatever arrived before the break is good data, and it stops before the bad block.
    assert bytes(received) == BODY[: len(received)]
    assert len(received) <= flipped - flipped % BLOCK_SIZE
    async with client.head(url("blob"), headers=AUTH) as response:
        assert response.status == 404
    assert (quarantined / f"{T1}.data").exists()
    assert sample(node, "nimbus_node_corrupt_reads_total") == 1
    assert sample(node, "nimbus_node_read_quarantined_total") == 1


async def test_ranges_clear_of_the_bad_block_are_still_served(
    client: Client, node: NodeContext
) -> None:
    await put_blob(client, "blob")
    flip(node, "blob", 2 * BLOCK_SIZE + 7)
    first, last = BLOCK_SIZE - 10, 2 * BLOCK_SIZE - 1  # across blocks 0 and 1
    status, body = await get(client, "blob", f"bytes={first}-{last}")
    assert (status, hashlib.sha256(body).digest()) == (
        206,
        hashlib.sha256(BODY[first : last + 1]).digest(),
    )
    assert sample(node, "nimbus_node_corrupt_reads_total") == 0
    with pytest.raises(aiohttp.ClientError):
        await get(client, "blob", f"bytes={2 * BLOCK_SIZE + 100}-{2 * BLOCK_SIZE + 200}")
    assert sample(node, "nimbus_node_corrupt_reads_total") == 1
