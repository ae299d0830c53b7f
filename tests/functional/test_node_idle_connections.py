"""A storage node closes connections that never finish a request head after its
``client_header_timeout`` (before: aiohttp's default of an hour, so such sockets piled up)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.node.config import NodeConfig
from nimbus_storage.node.server import start_node

HEADER_TIMEOUT = 1.0
CLOSED_WITHIN = HEADER_TIMEOUT + 60.0  # a ceiling for a busy machine, not a measurement
UNFINISHED_HEADS = [b"", b"GET /_nimbus/heal", b"GET /_nimbus/healthz HTTP/1.1\r\nHost: n\r\nX-H"]


async def test_connections_that_never_finish_a_request_head_are_closed(tmp_path: Path) -> None:
    config = NodeConfig(
        data_dir=tmp_path,
        identity=StoreIdentity("idle-prefix", "idle-suffix", 3),
        devices=("d0",),
        token="idle-token",
        port=0,
        fsync=False,
        create_devices=True,
        auditor=None,
        client_header_timeout=HEADER_TIMEOUT,
    )
    node = await start_node(config, replicator_enabled=False)
    try:
        connections = [await asyncio.open_connection("127.0.0.1", node.port) for _ in range(30)]
        for index, (_, writer) in enumerate(connections):
            writer.write(UNFINISHED_HEADS[index % len(UNFINISHED_HEADS)])
            await writer.drain()
        for reader, writer in connections:
            async with asyncio.timeout(CLOSED_WITHIN):
                assert await reader.read() == b""  # closed, with no answer
            writer.close()
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{node.endpoint}/_nimbus/healthz") as response,
        ):
            assert response.status == 200  # and the node still answers
    finally:
        await node.stop()
