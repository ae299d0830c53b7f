"""``Expect: 100-continue`` between the gateway and real storage nodes: a device without room
answers 507 before the body is sent, so the write goes to a handoff instead of failing.

* The node side over raw sockets, on a node whose device is a real 1 MiB tmpfs (``unshare -rm``,
  as in test_node_full_disk; skipped where user namespaces are not allowed): the client sends
  only the request head, and the answer (507, or 100 Continue) comes before any body byte.
* The gateway side (RingBlobStore and ECBlobStore over in-process nodes): a node that refuses
  every PUT (a reserve larger than any disk) and a node that never answers the expectation
  both end with the slot on the handoff, and never receive a byte of the body.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from nimbus_storage.blobs.api import BlobStore
from nimbus_storage.blobs.diskfile import normalize_timestamp
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.cluster.ec_blobs import ECBlobStore
from nimbus_storage.cluster.ec_layout import ECPolicy
from nimbus_storage.cluster.ring_blobs import RingBlobStore
from nimbus_storage.node.config import NodeConfig, SpaceReserve
from nimbus_storage.node.server import RunningNode, start_node
from nimbus_storage.protocol.client import NodeClient, NodeTimeouts

from tests.support.storage_cluster import in_tmpfs

TOKEN = "expect-token"
RING = StoreIdentity("expect-prefix", "expect-suffix", 3)
AUTH = {"X-Nimbus-Cluster-Token": TOKEN}
T1 = normalize_timestamp(1700000001.0)
KIB, MIB = 1024, 1024 * 1024
NEVER_FITS = SpaceReserve(1 << 60)  # a reserve beyond any disk: every Expect PUT is refused

StartNode = Callable[..., Awaitable[RunningNode]]


# --- a node on a 1 MiB tmpfs, spoken to over raw sockets ------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _namespaces_work(where: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    command = in_tmpfs(where / "probe", "64k", ["true"])
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


@dataclass
class TinyNode:
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[TinyNode]:
    """A node whose only device is a 1 MiB tmpfs, with a 64 KiB reserve."""
    if not _namespaces_work(tmp_path):
        pytest.skip("unshare -rm with a tmpfs mount is not permitted here")
    data = tmp_path / "data"
    port = _free_port()
    command = [
        sys.executable, "-m", "nimbus_storage.cli", "node", "--data", str(data),
        "--listen", f"127.0.0.1:{port}", "--device", "d0", "--no-auditor",
        "--part-power", str(RING.part_power), "--hash-prefix", RING.hash_prefix,
        "--hash-suffix", RING.hash_suffix, "--fallocate-reserve", str(64 * KIB),
    ]  # fmt: skip
    env = {**os.environ, "NIMBUS_CLUSTER_TOKEN": TOKEN}
    process = subprocess.Popen(in_tmpfs(data / "d0", "1m", command), env=env)
    try:
        _wait_healthy(port, process)
        yield TinyNode(port)
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the node exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the node did not start")


def _path(name: str) -> str:
    return f"/objects/d0/{RING.partition(RING.name_hash(name))}/{quote(name, safe='')}"


@dataclass
class RawPut:
    """One PUT over its own socket: the head is sent at once, the body only when asked to."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def start(
        cls,
        port: int,
        name: str,
        size: int,
        *,
        expect: str | None = "100-continue",
        token: str = TOKEN,
        extra: tuple[str, ...] = (),
    ) -> RawPut:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = [
            f"PUT {_path(name)} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            f"X-Nimbus-Cluster-Token: {token}",
            f"X-Nimbus-Timestamp: {T1}",
            "X-Nimbus-Meta: {}",
            f"Content-Length: {size}",
            *extra,
        ]
        if expect is not None:
            lines.append(f"Expect: {expect}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        return cls(reader, writer)

    async def answer(self) -> tuple[int, dict[str, str], bytes]:
        """The next response: status, headers (lower-case names) and body (none for 1xx)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines:
            if line:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
        status = int(status_line.split()[1])
        length = int(headers.get("content-length", "0")) if status >= 200 else 0
        body = await asyncio.wait_for(self.reader.readexactly(length), 10)
        return status, headers, body

    async def send_body(self, size: int) -> None:
        self.writer.write(b"b" * size)
        await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


async def _get_status(http: aiohttp.ClientSession, node: TinyNode, name: str) -> int:
    async with http.get(node.endpoint + _path(name), headers=AUTH) as response:
        await response.read()
        return response.status


async def _no_space(http: aiohttp.ClientSession, node: TinyNode, when: str) -> float:
    async with http.get(f"{node.endpoint}/_nimbus/metrics") as response:
        text = await response.text()
    wanted = f'nimbus_node_put_no_space_total{{device="d0",when="{when}"}} '
    for line in text.splitlines():
        if line.startswith(wanted):
            return float(line.removeprefix(wanted))
    return 0.0


async def test_a_full_device_answers_507_before_the_body(tiny: TinyNode) -> None:
    # 2 MiB on a 1 MiB device: refused on the head alone; not a byte of the body was sent.
    put = await RawPut.start(tiny.port, "too/big", 2 * MIB)
    status, headers, body = await put.answer()
    await put.close()
    assert status == 507
    assert headers.get("connection") == "close"  # the announced body will never come
    assert b"reserve of 65536" in body

    # 300 KiB fits: 100 Continue first, then the body is read and stored.
    put = await RawPut.start(tiny.port, "fits", 300 * KIB)
    assert (await put.answer())[0] == 100
    await put.send_body(300 * KIB)
    status, _headers, _body = await put.answer()
    await put.close()
    assert status == 201

    # Two PUTs at once that fit one at a time: the first one's space is claimed from its
    # 100 Continue until it is stored, so the second is refused although statvfs still
    # shows the room (without the claim it would fail mid-body with ENOSPC instead).
    first = await RawPut.start(tiny.port, "first", 400 * KIB)
    assert (await first.answer())[0] == 100
    second = await RawPut.start(tiny.port, "second", 400 * KIB)
    assert (await second.answer())[0] == 507
    await second.close()
    await first.send_body(400 * KIB)
    assert (await first.answer())[0] == 201
    await first.close()

    async with aiohttp.ClientSession() as http:
        assert [await _get_status(http, tiny, n) for n in ("fits", "first")] == [200, 200]
        assert [await _get_status(http, tiny, n) for n in ("too/big", "second")] == [404, 404]
        assert await _no_space(http, tiny, "before_body") == 2
        assert await _no_space(http, tiny, "mid_body") == 0

        # Without the expectation nothing changed: the body is read, and the full disk shows
        # mid-way (ENOSPC), still a 507 that leaves nothing behind.
        headers = {**AUTH, "X-Nimbus-Timestamp": T1, "X-Nimbus-Meta": json.dumps({})}
        url = tiny.endpoint + _path("no/expect")
        async with http.put(url, data=b"z" * (600 * KIB), headers=headers) as response:
            assert response.status == 507
        assert await _get_status(http, tiny, "no/expect") == 404
        assert await _no_space(http, tiny, "mid_body") == 1


async def test_unknown_expectations_and_other_refusals_come_before_the_body(
    tiny: TinyNode,
) -> None:
    put = await RawPut.start(tiny.port, "k", 10, expect="something-else")
    assert (await put.answer())[0] == 417
    await put.close()
    # A wrong token: a final 401 instead of 100 Continue, with no body sent.
    put = await RawPut.start(tiny.port, "k", 10, token="wrong")
    assert (await put.answer())[0] == 401
    await put.close()
    # A bad meta footer size: a final 400 too.
    put = await RawPut.start(tiny.port, "k", 10, extra=("X-Nimbus-Meta-Footer: 11",))
    status, _headers, body = await put.answer()
    assert (status, b"shorter than the 11-byte meta footer" in body) == (400, True)
    await put.close()


# --- the gateway side: handoffs ----------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    node: str
    device: str = "d0"


@dataclass
class ListedRing:
    """A ring by hand: these primaries (in slot order) and these handoffs, for every name."""

    primary_nodes: Sequence[str]
    handoff_nodes: Sequence[str]

    @property
    def replicas(self) -> int:
        return len(self.primary_nodes)

    def partition(self, name: str) -> int:
        return RING.partition(RING.name_hash(name))

    def primaries(self, partition: int) -> Sequence[Device]:
        return [Device(node) for node in self.primary_nodes]

    def handoffs(self, partition: int) -> Iterator[Device]:
        return iter([Device(node) for node in self.handoff_nodes])

    def current(self) -> ListedRing:
        return self


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[StartNode]:
    running: list[RunningNode] = []

    async def start_one(name: str, **overrides: object) -> RunningNode:
        settings: dict[str, object] = {
            "data_dir": tmp_path / name,
            "identity": RING,
            "devices": ("d0",),
            "token": TOKEN,
            "port": 0,
            "fsync": False,
            "create_devices": True,
            "auditor": None,
            "replicator": None,
            "db_replicator": None,
        }
        settings.update(overrides)
        node = await start_node(NodeConfig(**settings))  # type: ignore[arg-type]
        running.append(node)
        return node

    yield start_one
    for node in running:
        await node.stop()


def address(node: RunningNode) -> str:
    return f"127.0.0.1:{node.port}"


def archives(node: RunningNode) -> int:
    return len(list((node.context.config.data_dir / "d0" / "objects").rglob("*.data")))


def received(node: RunningNode) -> float:
    value = node.context.metrics.registry.get_sample_value("nimbus_node_received_bytes_total")
    return value or 0.0


async def chunks(data: bytes, size: int = 128 * KIB) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def write(blobs: BlobStore, data: bytes) -> None:
    info = await blobs.put("b/k", chunks(data), {}, T1, expected_size=len(data))
    assert info.md5_hex == hashlib.md5(data).hexdigest()


async def read_back(blobs: BlobStore, data: bytes) -> None:
    reader = await blobs.open("b/k")
    assert reader is not None
    assert b"".join([c async for c in reader.iter_range(0, len(data) - 1)]) == data


@pytest.mark.parametrize("coding", ["replicated", "ec 2+1"])
async def test_a_full_primary_is_handed_off_before_the_body(start: StartNode, coding: str) -> None:
    full = await start("full", fallocate_reserve=NEVER_FITS)
    others = [await start(f"n{i}") for i in range(3)]
    ring = ListedRing([address(full), address(others[0]), address(others[1])], [address(others[2])])
    client = NodeClient(TOKEN)
    blobs: BlobStore = (
        RingBlobStore(ring, client)
        if coding == "replicated"
        else ECBlobStore(ring, client, ECPolicy(2, 1, segment_size=256 * KIB))
    )
    data = os.urandom(MIB + 17)
    try:
        await write(blobs, data)
        await read_back(blobs, data)
    finally:
        await client.close()
    # The full node refused on the head (507) and took nothing; its slot went to the handoff,
    # so every slot is stored: 3 replicas, or all 3 fragment archives.
    assert [archives(n) for n in (full, *others)] == [0, 1, 1, 1]
    assert received(full) == 0
    registry = full.context.metrics.registry
    refused = {"device": "d0", "when": "before_body"}
    assert registry.get_sample_value("nimbus_node_put_no_space_total", refused) == 1


async def test_a_node_silent_on_the_expectation_is_handed_off_after_the_node_timeout(
    start: StartNode,
) -> None:
    """A node that takes the connection and the request head, then says nothing (neither 100
    Continue nor a final status): the write moves to a handoff after ``NodeTimeouts.read``."""
    heads: list[bytes] = []
    body_bytes: list[int] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        while chunk := await reader.read(64 * KIB):  # until the gateway gives up and closes
            body_bytes.append(len(chunk))
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    silent_node = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    others = [await start(f"n{i}") for i in range(3)]
    ring = ListedRing([silent_node, address(others[0]), address(others[1])], [address(others[2])])
    limit = 0.5
    client = NodeClient(TOKEN, NodeTimeouts(connect=limit, read=limit))
    blobs = RingBlobStore(ring, client)
    data = os.urandom(MIB)
    try:
        started = time.monotonic()
        await write(blobs, data)
        elapsed = time.monotonic() - started
        await read_back(blobs, data)  # its HEAD to the silent node times out too
    finally:
        await client.close()
        server.close()
    assert limit <= elapsed < 6 * limit
    puts = [head for head in heads if head.startswith(b"PUT ")]
    assert len(puts) == 1
    assert b"expect: 100-continue" in puts[0].lower()
    assert body_bytes == []  # not a byte of the body went to the silent node
    assert [archives(n) for n in others] == [1, 1, 1]  # its replica is on the handoff
