"""The node's database API (``POST /db/...``): every bad request gets a clear 4xx, and what a
gateway relies on (merge creates, reads of a missing replica answer 404, claims are atomic)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.meta import rows
from nimbus_storage.meta.api import ObjectVersion, Part, Upload
from nimbus_storage.node.config import NodeConfig
from nimbus_storage.node.server import RunningNode, start_node
from nimbus_storage.protocol.client import DatabaseMissing, NodeClient, Placement
from nimbus_storage.protocol.db_ops import DbOp
from nimbus_storage.protocol.db_wire import list_page

IDENTITY = StoreIdentity("db-api-prefix", "db-api-suffix", 4)
TOKEN = "db-api-token"


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RunningNode]:
    config = NodeConfig(
        data_dir=tmp_path / "node",
        identity=IDENTITY,
        devices=("d0",),
        token=TOKEN,
        port=0,
        fsync=False,
        create_devices=True,
        auditor=None,
        replicator=None,
        db_replicator=None,
    )
    running = await start_node(config)
    yield running
    await running.stop()


def place(node: RunningNode, name: str) -> Placement:
    partition = IDENTITY.partition(IDENTITY.name_hash(name))
    return Placement(f"127.0.0.1:{node.port}", "d0", partition)


async def post(node: RunningNode, path: str, body: object) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(headers={"X-Nimbus-Cluster-Token": TOKEN}) as session,
        session.post(f"{node.endpoint}{path}", data=json.dumps(body)) as response,
    ):
        return response.status, await response.text()


async def test_merge_creates_the_replica_and_reads_see_it(node: RunningNode) -> None:
    client = NodeClient(TOKEN)
    where = place(node, "bucket:photos")
    try:
        with pytest.raises(DatabaseMissing):
            await client.db_call(where, "bucket:photos", DbOp.LIST_OBJECTS, {})
        row = rows.version_row(ObjectVersion("cat.jpg", "null", 1.0, "e", 3, "blob-1"), 10)
        garbage = await client.db_call(
            where, "bucket:photos", DbOp.MERGE, {"rows": {"versions": [row]}}
        )
        assert garbage == {}
        page = list_page(await client.db_call(where, "bucket:photos", DbOp.LIST_OBJECTS, {}))  # type: ignore[arg-type]
        assert [(v.key, v.blob, v.is_latest) for v in page.entries] == [("cat.jpg", "blob-1", True)]
        newer = rows.version_row(ObjectVersion("cat.jpg", "null", 2.0, "e", 4, "blob-2"), 20)
        garbage = await client.db_call(
            where, "bucket:photos", DbOp.MERGE, {"rows": {"versions": [newer]}}
        )
        assert isinstance(garbage, dict)
        assert [r[9] for r in garbage["versions"]] == ["blob-1"]
        assert await client.db_call(where, "bucket:photos", DbOp.USAGE, {}) == [4, 1]
    finally:
        await client.close()


async def test_a_claim_wins_once(node: RunningNode) -> None:
    client = NodeClient(TOKEN)
    where = place(node, "bucket:uploads")
    upload = rows.upload_row(Upload("u1", "big", 1.0, {}), 5)
    part = rows.part_row("u1", Part(1, "etag", 5, "part-blob", 1.0), 6)
    try:
        await client.db_call(
            where, "bucket:uploads", DbOp.MERGE, {"rows": {"uploads": [upload], "parts": [part]}}
        )
        args = {"upload_id": "u1", "expected": [[1, "other-blob"]]}
        assert await client.db_call(where, "bucket:uploads", DbOp.CLAIM_UPLOAD, args) == [
            "changed",
            [],
        ]
        args["expected"] = [[1, "part-blob"]]
        claimed: Any = await client.db_call(where, "bucket:uploads", DbOp.CLAIM_UPLOAD, args)
        assert (claimed[0], [p[7] for p in claimed[1]]) == ("claimed", ["part-blob"])
        again = await client.db_call(where, "bucket:uploads", DbOp.CLAIM_UPLOAD, args)
        assert again == ["missing", []]
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("name", "body", "status", "message"),
    [
        ("bucket:b", "not json", 400, "body is not JSON"),
        ("bucket:b", {"args": {}}, 400, '"op"'),
        ("bucket:b", {"op": "drop_table", "args": {}}, 400, "unknown operation 'drop_table'"),
        ("catalog", {"op": "list_objects", "args": {}}, 400, "unknown operation"),
        ("bucket:b", {"op": "merge", "args": {}}, 400, "merge needs"),
        ("bucket:b", {"op": "merge", "args": {"rows": {"versions": [[1]]}}}, 400, "bad arguments"),
        ("bucket:b", {"op": "list_objects", "args": {"bogus": 1}}, 404, "missing"),
        ("../etc", {"op": "merge", "args": {"rows": {}}}, 400, "bad database name"),
    ],
)
async def test_bad_requests_get_clear_errors(
    node: RunningNode, name: str, body: object, status: int, message: str
) -> None:
    partition = IDENTITY.partition(IDENTITY.name_hash(name))
    payload = body if isinstance(body, dict) else None
    if payload is None:
        async with (
            aiohttp.ClientSession(headers={"X-Nimbus-Cluster-Token": TOKEN}) as session,
            session.post(
                f"{node.endpoint}/db/d0/{partition}/{quote(name, safe='')}", data=str(body)
            ) as response,
        ):
            answer = (response.status, await response.text())
    else:
        answer = await post(node, f"/db/d0/{partition}/{quote(name, safe='')}", payload)
    assert answer[0] == status, answer
    assert message in answer[1]


async def test_a_name_in_another_partition_and_a_missing_device_are_refused(
    node: RunningNode,
) -> None:
    right = IDENTITY.partition(IDENTITY.name_hash("catalog"))
    wrong = (right + 1) % (1 << IDENTITY.part_power)
    status, text = await post(node, f"/db/d0/{wrong}/catalog", {"op": "replica_id"})
    assert (status, f"is in partition {right}" in text) == (400, True)
    status, text = await post(node, f"/db/d9/{right}/catalog", {"op": "replica_id"})
    assert status == 507
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{node.endpoint}/db/d0/{right}/catalog", data="{}") as response,
    ):
        assert response.status == 401
