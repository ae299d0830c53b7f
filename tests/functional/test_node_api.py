"""Real storage nodes on 127.0.0.1 ports, driven over HTTP as the gateway and replicator will."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from nimbus_storage.blobs.diskfile import normalize_timestamp
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.node.auditor import AuditorSettings
from nimbus_storage.node.config import NodeConfig
from nimbus_storage.node.server import MAX_FIELD_SIZE, RunningNode, start_node
from nimbus_storage.protocol.footer import encode_footer
from prometheus_client import CollectorRegistry

RING = StoreIdentity("functional-prefix", "functional-suffix", 3)
TOKEN = "functional-token"
AUTH = {"X-Nimbus-Cluster-Token": TOKEN}
T1, T2 = normalize_timestamp(1700000001.0), normalize_timestamp(1700000002.0)

StartNode = Callable[..., Awaitable[RunningNode]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[StartNode]:
    running: list[RunningNode] = []

    async def start_one(name: str = "n1", **overrides: object) -> RunningNode:
        settings: dict[str, object] = {
            "data_dir": tmp_path / name,
            "identity": RING,
            "devices": ("d0",),
            "token": TOKEN,
            "port": 0,
            "fsync": False,
            "create_devices": True,
            "auditor": None,
        }
        settings.update(overrides)
        node = await start_node(NodeConfig(**settings))  # type: ignore[arg-type]
        running.append(node)
        return node

    yield start_one
    for node in running:
        await node.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(max_field_size=MAX_FIELD_SIZE) as session:
        yield session


def object_url(node: RunningNode, name: str, device: str = "d0") -> str:
    partition = RING.partition(RING.name_hash(name))
    return f"{node.endpoint}/objects/{device}/{partition}/{quote(name, safe='')}"


def put_headers(timestamp: str, meta: dict[str, str] | None = None) -> dict[str, str]:
    return {**AUTH, "X-Nimbus-Timestamp": timestamp, "X-Nimbus-Meta": json.dumps(meta or {})}


async def put(
    http: aiohttp.ClientSession, node: RunningNode, name: str, body: bytes, ts: str = T1
) -> int:
    async with http.put(object_url(node, name), data=body, headers=put_headers(ts)) as response:
        return response.status


async def test_large_object_streams_in_and_out(
    start: StartNode, http: aiohttp.ClientSession
) -> None:
    node = await start()
    piece = os.urandom(256 * 1024)
    size = 16 * len(piece)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(16):
            yield piece

    headers = {**put_headers(T1, {"content-type": "application/octet-stream"})}
    headers["Content-Length"] = str(size)
    async with http.put(object_url(node, "big/object"), data=body(), headers=headers) as response:
        assert response.status == 201
        assert response.headers["ETag"] == hashlib.md5(piece * 16).hexdigest()
    received = 0
    md5 = hashlib.md5()
    async with http.get(object_url(node, "big/object"), headers=AUTH) as response:
        assert response.status == 200
        async for chunk in response.content.iter_chunked(64 * 1024):
            received += len(chunk)
            md5.update(chunk)
    assert received == size
    assert md5.hexdigest() == hashlib.md5(piece * 16).hexdigest()
    rng = {**AUTH, "Range": f"bytes={size - 5}-"}
    async with http.get(object_url(node, "big/object"), headers=rng) as response:
        assert response.status == 206
        assert await response.read() == piece[-5:]
        assert response.headers["Content-Range"] == f"bytes {size - 5}-{size - 1}/{size}"


async def test_errors_over_a_real_port(start: StartNode, http: aiohttp.ClientSession) -> None:
    node = await start()
    async with http.get(object_url(node, "k")) as response:
        assert response.status == 401
    async with http.get(object_url(node, "k", device="nope"), headers=AUTH) as response:
        assert response.status == 507
    assert await put(http, node, "k", b"new", T2) == 201
    assert await put(http, node, "k", b"old", T1) == 409
    async with http.delete(object_url(node, "k"), headers={**AUTH, "X-Nimbus-Timestamp": T2}):
        pass  # a tie: the tombstone wins
    async with http.get(object_url(node, "k"), headers=AUTH) as response:
        assert response.status == 404
        assert response.headers["X-Nimbus-Timestamp"] == T2


async def test_body_cut_short_leaves_nothing(start: StartNode) -> None:
    node = await start()
    name = "cut/short"
    path = object_url(node, name).removeprefix(node.endpoint)
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    request = (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
        f"X-Nimbus-Cluster-Token: {TOKEN}\r\nX-Nimbus-Timestamp: {T1}\r\n"
        "X-Nimbus-Meta: {}\r\n\r\n"
    )
    writer.write(request.encode() + b"x" * 1000)
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    reader.feed_eof()
    store = node.context.devices.get("d0")
    assert store is not None
    registry = node.context.metrics.registry
    for _ in range(200):  # the server notices the disconnect asynchronously
        if _samples(registry, "nimbus_node_requests_total", method="PUT"):
            break
        await asyncio.sleep(0.02)
    assert _samples(registry, "nimbus_node_requests_total", method="PUT", status="400") == 1
    assert list(store.tmp_dir.iterdir()) == []
    assert list(store.iter_hashes()) == []


def _samples(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def suffix_hashes(
    http: aiohttp.ClientSession, node: RunningNode, partition: int
) -> dict[str, str]:
    async with http.post(f"{node.endpoint}/replicate/d0/{partition}", headers=AUTH) as response:
        assert response.status == 200
        result: dict[str, str] = await response.json()
        return result


async def test_two_nodes_with_the_same_files_agree_on_suffix_hashes(
    start: StartNode, http: aiohttp.ClientSession
) -> None:
    one, two = await start("one"), await start("two")
    names = [f"bucket/key-{i}" for i in range(30)]
    for name in names:
        assert await put(http, one, name, b"same", T1) == 201
    for name in reversed(names):
        assert await put(http, two, name, b"same", T1) == 201
    partitions = range(2**RING.part_power)
    for partition in partitions:
        assert await suffix_hashes(http, one, partition) == await suffix_hashes(
            http, two, partition
        )
    victim = names[7]
    partition, suffix = RING.partition(RING.name_hash(victim)), RING.name_hash(victim)[-3:]
    delete = {**AUTH, "X-Nimbus-Timestamp": T2}
    async with http.delete(object_url(two, victim), headers=delete) as response:
        assert response.status == 204
    left, right = (
        await suffix_hashes(http, one, partition),
        await suffix_hashes(http, two, partition),
    )
    assert {s for s in left if left[s] != right[s]} == {suffix}
    # What a replicator does next: list the differing suffix on both sides.
    listing_url = f"/objects/d0/{partition}?suffix={suffix}"
    async with http.get(two.endpoint + listing_url, headers=AUTH) as response:
        assert {"name": victim, "timestamp": T2, "kind": "tombstone"} in await response.json()
    async with http.get(one.endpoint + listing_url, headers=AUTH) as response:
        assert {"name": victim, "timestamp": T1, "kind": "data"} in await response.json()
    async with http.delete(object_url(one, victim), headers=delete) as response:
        assert response.status == 204
    assert await suffix_hashes(http, one, partition) == await suffix_hashes(http, two, partition)


async def test_background_auditor_quarantines_and_reports(
    start: StartNode, http: aiohttp.ClientSession
) -> None:
    settings = AuditorSettings(files_per_second=0, bytes_per_second=0, interval=0.2)
    node = await start(auditor=settings)
    assert await put(http, node, "good", b"good data") == 201
    assert await put(http, node, "rotten", b"rotten data") == 201
    store = node.context.devices.get("d0")
    assert store is not None
    data = store.hash_dir_for("rotten") / f"{T1}.data"
    data.write_bytes(b"R" + data.read_bytes()[1:])
    metrics = ""
    for _ in range(100):
        async with http.get(f"{node.endpoint}/_nimbus/metrics") as response:
            metrics = await response.text()
        if "nimbus_auditor_quarantined_total 1.0" in metrics:
            break
        await asyncio.sleep(0.05)
    assert "nimbus_auditor_quarantined_total 1.0" in metrics
    assert "nimbus_auditor_passes_total" in metrics
    async with http.get(object_url(node, "rotten"), headers=AUTH) as response:
        assert response.status == 404
    async with http.get(object_url(node, "good"), headers=AUTH) as response:
        assert await response.read() == b"good data"


async def test_start_removes_temp_files_of_crashed_writes(start: StartNode, tmp_path: Path) -> None:
    leftover = tmp_path / "n1" / "d0" / "tmp" / "crashed.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a write")
    await start()
    assert not leftover.exists()


# --- the meta footer (protocol/footer.py): meta sent after the blob, as the gateway sends
# a checksum that came in the client's aws-chunked trailer --------------------------------

BLOB = b"the blob's own bytes " * 5000  # ~100 KiB: the footer arrives in a later chunk


def footer_headers(size: int, meta: dict[str, str] | None = None) -> dict[str, str]:
    return {**put_headers(T1, meta), "X-Nimbus-Meta-Footer": str(size)}


async def stored_state(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str], bytes]:
    async with http.get(url, headers=AUTH) as response:
        meta = json.loads(response.headers.get("X-Nimbus-Meta", "{}"))
        return response.status, meta, await response.read()


async def test_the_footer_joins_the_meta_and_is_not_part_of_the_blob(
    start: StartNode, http: aiohttp.ClientSession
) -> None:
    node = await start()
    url = object_url(node, "with/footer")
    footer = encode_footer({"x-amz-checksum-crc32": "DUoRhQ=="}, 512)
    headers = footer_headers(512, {"content-type": "text/plain"})
    async with http.put(url, data=BLOB + footer, headers=headers) as response:
        assert response.status == 201
        assert response.headers["ETag"] == hashlib.md5(BLOB).hexdigest()
    status, meta, body = await stored_state(http, url)
    assert status == 200
    assert body == BLOB
    assert meta == {"content-type": "text/plain", "x-amz-checksum-crc32": "DUoRhQ=="}


@pytest.mark.parametrize(
    ("footer_header", "payload", "why"),
    [
        ("abc", BLOB, "must be a size"),
        ("0", BLOB, "must be a size"),
        ("999999", BLOB, "must be a size"),
        ("64", b"short", "shorter than the 64-byte meta footer"),
        ("16", BLOB + b"not json at all!", "not JSON"),
        ("16", BLOB + b'{"a": 1}'.ljust(16), "object of strings"),
    ],
)
async def test_a_bad_footer_is_400_and_stores_nothing(
    start: StartNode, http: aiohttp.ClientSession, footer_header: str, payload: bytes, why: str
) -> None:
    node = await start()
    url = object_url(node, "bad/footer")
    headers = {**put_headers(T1), "X-Nimbus-Meta-Footer": footer_header}
    async with http.put(url, data=payload, headers=headers) as response:
        assert response.status == 400
        assert why in await response.text()
    assert (await stored_state(http, url))[0] == 404
