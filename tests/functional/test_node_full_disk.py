"""A node whose device is a real, tiny filesystem: a full disk answers 507 and keeps nothing.

The node runs from the command line inside a private user + mount namespace (``unshare -rm``)
that mounts a 1 MiB tmpfs as its device; no root needed, but the test is skipped where user
namespaces are not allowed. ``test_node_server`` covers 507 on ENOSPC everywhere, by injection.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from nimbus_storage.blobs.diskfile import normalize_timestamp
from nimbus_storage.blobs.layout import StoreIdentity

TOKEN = "full-disk-token"
RING = StoreIdentity("fd-prefix", "fd-suffix", 3)
AUTH = {"X-Nimbus-Cluster-Token": TOKEN}
T1 = normalize_timestamp(1700000001.0)
KIB = 1024


def _namespaces_work(where: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = where / "probe"
    probe.mkdir()
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    if not _namespaces_work(tmp_path):
        pytest.skip("unshare -rm with a tmpfs mount is not permitted here")
    data = tmp_path / "data"
    (data / "d0").mkdir(parents=True)
    port = _free_port()
    script = 'mount -t tmpfs -o size=1m tmpfs "$0/d0" && exec "$@"'
    command = [
        "unshare", "-rm", "sh", "-c", script, str(data),
        sys.executable, "-m", "nimbus_storage.cli", "node", "--data", str(data),
        "--listen", f"127.0.0.1:{port}", "--device", "d0", "--no-auditor",
        "--part-power", str(RING.part_power), "--hash-prefix", RING.hash_prefix,
        "--hash-suffix", RING.hash_suffix,
    ]  # fmt: skip
    env = {**os.environ, "NIMBUS_CLUSTER_TOKEN": TOKEN}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=20)
        if process.returncode not in (0, -15):
            print(err.decode(errors="replace"))


async def _wait_healthy(http: aiohttp.ClientSession, endpoint: str) -> None:
    for _ in range(200):
        try:
            async with http.get(f"{endpoint}/_nimbus/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the node did not start")


@pytest.fixture
async def http(endpoint: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        await _wait_healthy(session, endpoint)
        yield session


def _url(endpoint: str, name: str) -> str:
    partition = RING.partition(RING.name_hash(name))
    return f"{endpoint}/objects/d0/{partition}/{quote(name, safe='')}"


async def _put(http: aiohttp.ClientSession, endpoint: str, name: str, size: int) -> int:
    headers = {**AUTH, "X-Nimbus-Timestamp": T1, "X-Nimbus-Meta": json.dumps({})}
    async with http.put(_url(endpoint, name), data=b"z" * size, headers=headers) as response:
        return response.status


async def test_full_disk_is_507_and_leaves_nothing(
    http: aiohttp.ClientSession, endpoint: str
) -> None:
    assert await _put(http, endpoint, "too/big", 2048 * KIB) == 507
    # Had the partial temp file stayed, this would not fit in the 1 MiB filesystem:
    assert await _put(http, endpoint, "fits", 700 * KIB) == 201
    assert await _put(http, endpoint, "no/room/left", 700 * KIB) == 507
    async with http.get(_url(endpoint, "fits"), headers=AUTH) as response:
        assert response.status == 200
        assert len(await response.read()) == 700 * KIB
    for name in ("too/big", "no/room/left"):
        async with http.get(_url(endpoint, name), headers=AUTH) as response:
            assert response.status == 404
