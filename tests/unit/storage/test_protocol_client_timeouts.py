"""Node timeouts on real loopback sockets: a node that goes silent — not answering, or not taking
an upload — costs at most about ``NodeTimeouts.read``, and a quorum write finishes without it."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from nimbus_storage.cluster.ring_blobs import RingBlobStore
from nimbus_storage.protocol.client import NodeClient, NodeTimeouts, NodeUnavailable, Placement

from tests.unit.storage.fake_nodes import FixedRing, Rings

TOKEN = "t"
LIMIT = 0.3
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)  # the kernel buffers fill and the sender stalls


async def _reads_but_never_answers(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    while await reader.read(65536):
        pass


async def _raw_server(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def _storing_node() -> tuple[web.AppRunner, str]:
    async def put(request: web.Request) -> web.Response:
        etag = hashlib.md5(await request.read()).hexdigest()  # as a real node answers
        return web.Response(status=201, headers={"X-Nimbus-Timestamp": "1", "ETag": etag})

    app = web.Application(client_max_size=1024**3)
    app.router.add_put("/objects/{device}/{partition}/{name}", put)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"127.0.0.1:{runner.addresses[0][1]}"


async def _body(chunks: int, pause: float = 0.0) -> AsyncIterator[bytes]:
    chunk = b"x" * (1024 * 1024)
    for _ in range(chunks):
        if pause:
            await asyncio.sleep(pause)
        yield chunk


async def _put(client: NodeClient, node: str, chunks: int, pause: float = 0.0) -> float:
    started = time.monotonic()
    await client.put(
        Placement(node, "d0", 0),
        "blob",
        _body(chunks, pause),
        size=chunks * 1024 * 1024,
        meta={},
        timestamp="0000000001.00000",
    )
    return time.monotonic() - started


@pytest.mark.parametrize("handler", [_never_reads, _reads_but_never_answers])
async def test_a_silent_node_fails_the_put_within_the_read_timeout(handler: Handler) -> None:
    server, node = await _raw_server(handler)
    client = NodeClient(TOKEN, NodeTimeouts(connect=LIMIT, read=LIMIT))
    started = time.monotonic()
    try:
        with pytest.raises(NodeUnavailable):
            await _put(client, node, chunks=64)
    finally:
        await client.close()
        server.close()
    assert time.monotonic() - started < 5 * LIMIT


async def test_a_slow_client_body_is_not_a_silent_node() -> None:
    runner, node = await _storing_node()
    client = NodeClient(TOKEN, NodeTimeouts(connect=LIMIT, read=LIMIT))
    try:
        elapsed = await _put(client, node, chunks=3, pause=1.5 * LIMIT)
    finally:
        await client.close()
        await runner.cleanup()
    assert elapsed > 4 * LIMIT  # waited on the body, never on the node


async def test_a_write_finishes_on_its_quorum_when_a_node_stops_taking_the_body() -> None:
    stalled, stalled_node = await _raw_server(_never_reads)
    nodes = [await _storing_node() for _ in range(2)]
    client = NodeClient(TOKEN, NodeTimeouts(connect=LIMIT, read=LIMIT))
    ring = FixedRing([stalled_node, nodes[0][1], nodes[1][1]], [])
    chunks = 64
    started = time.monotonic()
    try:
        info = await RingBlobStore(Rings(ring), client).put(
            "blob", _body(chunks), {}, "0000000001.00000", expected_size=chunks * 1024 * 1024
        )
    finally:
        await client.close()
        stalled.close()
        for runner, _node in nodes:
            await runner.cleanup()
    assert info.size == chunks * 1024 * 1024
    assert time.monotonic() - started < 10 * LIMIT
