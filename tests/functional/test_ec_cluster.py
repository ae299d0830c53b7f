"""Erasure-coded blobs on a real 3-node cluster: an in-process ECBlobStore (2+1) over the
cluster's ring file writes fragment archives to real storage nodes and decodes them back, also
with one node stopped."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nimbus_storage.cluster.ec_blobs import ECBlobStore
from nimbus_storage.cluster.ec_layout import ECPolicy
from nimbus_storage.protocol.client import NodeClient
from nimbus_storage.ring import Ring
from nimbus_storage.ring.watch import RingFile
from nimbus_storage.storage_errors import StorageUnavailable

from tests.support.storage_cluster import StorageCluster

MIB = 1024 * 1024
TS = "0000001000.00000"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageCluster]:
    running = StorageCluster(tmp_path_factory.mktemp("ec") / "cluster", nodes=3, replicas=3)
    running.root.mkdir(parents=True)
    running.build_ring()
    try:
        for index in range(running.nodes):  # storage nodes only: the store runs in the test
            running.start_node(index)
        yield running
    finally:
        running.stop()


async def chunks(data: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def read(blobs: ECBlobStore, name: str, start: int, end: int) -> bytes:
    reader = await blobs.open(name)
    assert reader is not None
    return b"".join([chunk async for chunk in reader.iter_range(start, end)])


async def test_ec_write_read_and_read_with_a_node_down(cluster: StorageCluster) -> None:
    rings: RingFile[Ring] = RingFile(Path(cluster.ring_path), Ring.load)
    client = NodeClient(cluster.token)
    blobs = ECBlobStore(rings, client, ECPolicy(2, 1))
    data = os.urandom(5 * MIB + 123)
    try:
        info = await blobs.put("ec-object", chunks(data), {"k": "v"}, TS, expected_size=len(data))
        assert (info.size, info.md5_hex) == (len(data), hashlib.md5(data).hexdigest())
        reader = await blobs.open("ec-object")
        assert reader is not None
        assert (reader.info.size, reader.info.meta) == (len(data), {"k": "v"})
        assert await read(blobs, "ec-object", 0, len(data) - 1) == data

        cluster.stop_node(0)  # every partition has an archive on every node: one is gone
        assert await read(blobs, "ec-object", 0, len(data) - 1) == data
        start, end = MIB - 10, 3 * MIB + 10  # across segment boundaries
        assert await read(blobs, "ec-object", start, end) == data[start : end + 1]
        # 2 of 3 archives is below the write quorum (k + 1), and 3 nodes leave no handoff.
        with pytest.raises(StorageUnavailable, match="2 of 3 fragment archives stored, 3 needed"):
            await blobs.put("while-down", chunks(data[:1000]), {}, TS, expected_size=1000)
    finally:
        await client.close()
        cluster.start_node(0)
