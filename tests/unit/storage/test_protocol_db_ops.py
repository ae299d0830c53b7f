"""The node database API's op table: every op a caller can name is handled by the table of its
kind of database, runs what it says, and anything else is refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.meta import catalog_rows as cr
from nimbus_storage.meta import rows
from nimbus_storage.meta.api import Bucket, Credential, ObjectVersion, Part, Upload
from nimbus_storage.meta.catalog import CatalogDB
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.node.config import NodeConfig, NodeContext
from nimbus_storage.node.db_api import operation_for
from nimbus_storage.node.server import MAX_FIELD_SIZE, build_app, make_context
from nimbus_storage.protocol.db_ops import CATALOG_OPS, INDEX_OPS, BadArguments, DbOp
from nimbus_storage.protocol.db_wire import to_json

VERSION = rows.version_row(ObjectVersion("k", "null", 1.0, "etag", 3, "blob-1"), 100)
UPLOAD = rows.upload_row(Upload("u1", "big", 2.0, {}), 200)
PART = rows.part_row("u1", Part(1, "part-etag", 5, "part-blob", 3.0), 300)
BUCKET = cr.bucket_row(Bucket("photos", "alice", 4.0), 400)
CONFIG = cr.config_row("photos", "cors", "<CORSConfiguration/>", 500)
CREDENTIAL = cr.credential_row(Credential("AK", "SK", False, "", 6.0, {"photos": "RW"}), 600)

# For every op of each table: arguments as a caller sends them, and what the call must answer
# (the database method the op stands for, called directly, as JSON).
INDEX_CALLS: dict[DbOp, tuple[dict[str, Any], Any]] = {
    DbOp.MERGE: ({"rows": {"versions": [list(VERSION)]}}, lambda db: {}),
    DbOp.REPLICA_ID: ({}, lambda db: db.replica_id()),
    DbOp.KEY_ROWS: ({"key": "k"}, lambda db: db.key_rows("k")),
    DbOp.UPLOAD_ROWS: ({"upload_id": "u1"}, lambda db: db.upload_rows("u1")),
    DbOp.LIST_OBJECTS: ({"prefix": "k", "max_keys": 5}, lambda db: db.list_objects("k", "", "", 5)),
    DbOp.LIST_VERSIONS: ({"key_marker": ""}, lambda db: db.list_versions()),
    DbOp.LIST_UPLOADS: ({"delimiter": "/"}, lambda db: db.list_uploads(delimiter="/")),
    DbOp.LIST_PARTS: ({"upload_id": "u1", "max_parts": 1}, lambda db: db.list_parts("u1", 0, 1)),
    DbOp.USAGE: ({}, lambda db: db.usage()),
    DbOp.HAS_VERSIONS: ({}, lambda db: db.has_versions()),
    DbOp.IS_EMPTY: ({}, lambda db: db.is_empty()),
    DbOp.UPLOADS_INITIATED_BEFORE: ({"t": 10}, lambda db: db.uploads_initiated_before(10.0)),
    DbOp.CLAIM_UPLOAD: (
        {"upload_id": "u1", "expected": [[1, "other-blob"]]},
        lambda db: ("changed", []),
    ),
}
CATALOG_CALLS: dict[DbOp, tuple[dict[str, Any], Any]] = {
    DbOp.MERGE: ({"rows": {"configs": [list(CONFIG)]}}, lambda db: {}),
    DbOp.REPLICA_ID: ({}, lambda db: db.replica_id()),
    DbOp.BUCKET_ROWS: ({"name": "photos"}, lambda db: db.bucket_rows("photos")),
    DbOp.ALL_BUCKET_ROWS: ({}, lambda db: db.all_bucket_rows()),
    DbOp.CONFIG_ROWS: ({"bucket": "photos"}, lambda db: db.config_rows("photos")),
    DbOp.CREDENTIAL_ROWS: ({"access_key": None}, lambda db: db.credential_rows()),
}


@pytest.fixture
def index(tmp_path: Path) -> Any:
    db = BucketIndex(tmp_path / "index.sqlite")
    db.merge({"versions": [VERSION], "uploads": [UPLOAD], "parts": [PART]})
    yield db
    db.close()


@pytest.fixture
def catalog(tmp_path: Path) -> Any:
    db = CatalogDB(tmp_path / "catalog.sqlite")
    db.merge({"buckets": [BUCKET], "configs": [CONFIG], "credentials": [CREDENTIAL]})
    yield db
    db.close()


def test_every_op_is_handled_by_a_table() -> None:
    assert set(INDEX_OPS) | set(CATALOG_OPS) == set(DbOp)
    assert {op for op in DbOp if op in INDEX_OPS and op in CATALOG_OPS} == {
        DbOp.MERGE,
        DbOp.REPLICA_ID,
    }
    assert [op for op, entry in INDEX_OPS.items() if entry.creates] == [DbOp.MERGE]
    assert [op for op, entry in CATALOG_OPS.items() if entry.creates] == [DbOp.MERGE]
    # What the node looks up: the table of the database's kind, by wire name.
    assert operation_for("bucket:b", "key_rows") is INDEX_OPS[DbOp.KEY_ROWS]
    assert operation_for("catalog", "merge") is CATALOG_OPS[DbOp.MERGE]
    assert operation_for("catalog", "key_rows") is None
    assert operation_for("bucket:b", "bucket_rows") is None


@pytest.mark.parametrize("op", list(INDEX_OPS), ids=str)
def test_every_index_op_calls_its_method(op: DbOp, index: BucketIndex) -> None:
    assert set(INDEX_CALLS) == set(INDEX_OPS)  # a new op needs a case here
    args, expected = INDEX_CALLS[op]
    entry = INDEX_OPS[op]
    answer = entry.run(index, entry.arguments(json.loads(json.dumps(args))))
    assert answer == to_json(expected(index))
    json.dumps(answer)  # JSON all the way down


@pytest.mark.parametrize("op", list(CATALOG_OPS), ids=str)
def test_every_catalog_op_calls_its_method(op: DbOp, catalog: CatalogDB) -> None:
    assert set(CATALOG_CALLS) == set(CATALOG_OPS)
    args, expected = CATALOG_CALLS[op]
    entry = CATALOG_OPS[op]
    answer = entry.run(catalog, entry.arguments(json.loads(json.dumps(args))))
    assert answer == to_json(expected(catalog))
    json.dumps(answer)


def test_a_claim_and_a_merge_do_what_they_say(index: BucketIndex) -> None:
    claim = INDEX_OPS[DbOp.CLAIM_UPLOAD]
    answer = claim.run(index, claim.arguments({"upload_id": "u1", "expected": [[1, "part-blob"]]}))
    assert answer == ["claimed", [list(PART)]]
    assert index.get_upload("u1") is None
    merge = INDEX_OPS[DbOp.MERGE]
    newer = rows.version_row(ObjectVersion("k", "null", 2.0, "e2", 4, "blob-2"), 150)
    garbage = merge.run(index, merge.arguments({"rows": {"versions": [list(newer)]}}))
    assert garbage == {"versions": [list(VERSION)]}


@pytest.mark.parametrize(
    ("op", "args", "message"),
    [
        (DbOp.KEY_ROWS, {}, "missing argument 'key'"),
        (DbOp.KEY_ROWS, {"key": 5}, "'key' must be a string"),
        (DbOp.KEY_ROWS, {"key": "k", "limit": 3}, "unexpected argument 'limit'"),
        (DbOp.LIST_OBJECTS, {"max_keys": "10"}, "'max_keys' must be an integer"),
        (DbOp.LIST_OBJECTS, {"max_keys": True}, "'max_keys' must be an integer"),
        (DbOp.UPLOADS_INITIATED_BEFORE, {"t": "now"}, "'t' must be a number"),
        (DbOp.CLAIM_UPLOAD, {"upload_id": "u", "expected": [[1]]}, "pairs"),
        (DbOp.USAGE, {"anything": 1}, "unexpected argument 'anything'"),
        (DbOp.MERGE, {}, "merge needs"),
        (DbOp.MERGE, {"rows": {"buckets": []}}, "no table 'buckets' here"),
        (DbOp.MERGE, {"rows": {"versions": [[1]]}}, "a versions row is an array of 16 values"),
        (DbOp.MERGE, {"rows": {"uploads": [["u", "k", "1", 1, 0, 1.0, "{}"]]}}, "integers"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(
    op: DbOp, args: Mapping[str, Any], message: str
) -> None:
    with pytest.raises(BadArguments, match=message):
        INDEX_OPS[op].arguments(args)


# --- through the node's HTTP API -------------------------------------------------------------

RING = StoreIdentity("p", "s", 4)
TOKEN = "cluster-secret"
Client = TestClient[web.Request, web.Application]


def db_url(name: str) -> str:
    return f"/db/d0/{RING.partition(RING.name_hash(name))}/{quote(name, safe='')}"


@pytest.fixture
def node(tmp_path: Path) -> NodeContext:
    config = NodeConfig(
        data_dir=tmp_path / "node",
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
    async with TestClient(server, headers={"X-Nimbus-Cluster-Token": TOKEN}) as client:
        yield client


async def call(client: Client, name: str, body: object) -> tuple[int, Any]:
    async with client.post(db_url(name), data=json.dumps(body)) as response:
        text = await response.text()
        return response.status, json.loads(text) if response.status == 200 else text


async def test_ops_run_through_the_node(client: Client) -> None:
    row = list(VERSION)
    status, answer = await call(
        client, "bucket:b", {"op": "merge", "args": {"rows": {"versions": [row]}}}
    )
    assert (status, answer) == (200, {"result": {}})
    status, answer = await call(client, "bucket:b", {"op": DbOp.KEY_ROWS, "args": {"key": "k"}})
    assert (status, answer) == (200, {"result": [row]})
    status, answer = await call(client, "catalog", {"op": "merge", "args": {"rows": {}}})
    assert (status, answer) == (200, {"result": {}})
    assert (await call(client, "catalog", {"op": "all_bucket_rows"}))[0] == 200


@pytest.mark.parametrize(
    ("name", "op"),
    [
        ("bucket:b", "drop_table"),
        ("bucket:b", "close"),  # a method of the database, but not an op
        ("bucket:b", "_merge"),
        ("bucket:b", "rows_since"),
        ("bucket:b", "bucket_rows"),  # an op of the other kind of database
        ("catalog", "list_objects"),
        ("catalog", "MERGE"),
    ],
)
async def test_an_unknown_op_is_refused(client: Client, name: str, op: str) -> None:
    await call(client, name, {"op": "merge", "args": {"rows": {}}})  # the replica exists
    status, text = await call(client, name, {"op": op, "args": {}})
    assert status == 400
    assert f"unknown operation {op!r} on {name!r}" in text


async def test_bad_arguments_answer_400_and_a_bad_merge_creates_nothing(
    client: Client, node: NodeContext
) -> None:
    status, text = await call(client, "bucket:new", {"op": "merge", "args": {"rows": {"x": []}}})
    assert (status, "bad arguments to merge: no table 'x' here" in text) == (400, True)
    status, _text = await call(client, "bucket:new", {"op": "key_rows", "args": {"key": "k"}})
    assert status == 404  # the bad merge created no replica
    await call(client, "bucket:new", {"op": "merge", "args": {"rows": {}}})
    status, text = await call(client, "bucket:new", {"op": "key_rows", "args": {"key": 1}})
    assert (status, "bad arguments to key_rows: 'key' must be a string" in text) == (400, True)
