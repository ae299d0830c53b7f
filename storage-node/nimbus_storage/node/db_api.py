"""``POST /db/{device}/{partition}/{quoted name}``: one operation on a database replica.

The body is ``{"op": ..., "args": {...}}``, the answer ``{"result": ...}`` (``store.db_wire``).
``merge`` writes rows (creating the replica if needed) and answers the garbage they made; the
other operations read. A read of a replica this node does not have answers 404, so the caller
asks another replica.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from aiohttp import web

from nimbus_storage.meta.db_names import CATALOG
from nimbus_storage.meta.replicated_db import ReplicatedDB
from nimbus_storage.node.config import NODE
from nimbus_storage.node.databases import Databases
from nimbus_storage.node.objects import insufficient_storage
from nimbus_storage.node.requests import BadRequest, parse_target
from nimbus_storage.protocol.db_wire import to_json

DATABASES = web.AppKey("nimbus_databases", Databases)

_INDEX_READS = frozenset(
    {
        "replica_id",
        "key_rows",
        "upload_rows",
        "list_objects",
        "list_versions",
        "list_uploads",
        "list_parts",
        "usage",
        "has_versions",
        "is_empty",
        "uploads_initiated_before",
        "claim_upload",  # writes, but only to a replica that exists
    }
)
_CATALOG_READS = frozenset(
    {"replica_id", "bucket_rows", "all_bucket_rows", "config_rows", "credential_rows"}
)


async def handle_db(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE]
    target = parse_target(request.rel_url.raw_path, "/db/")
    name = target.name
    if name is None:
        raise BadRequest("expected /db/{device}/{partition}/{database name}")
    identity = node.config.identity
    partition = identity.partition(identity.name_hash(name))
    if partition != target.partition:
        raise BadRequest(f"{name!r} is in partition {partition}, not {target.partition}")
    if node.devices.get(target.device) is None:
        return insufficient_storage(f"device {target.device!r} is not available here")
    op, args = _parse_body(await request.read())
    reads = _CATALOG_READS if name == CATALOG else _INDEX_READS
    if op != "merge" and op not in reads:
        raise BadRequest(f"unknown operation {op!r} on {name!r}")
    try:
        db = request.app[DATABASES].get(target.device, target.partition, name, create=op == "merge")
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if db is None:
        return web.json_response({"missing": name}, status=404)
    if op == "merge":
        _check_rows(db, args["rows"])
    try:
        result = getattr(db, op)(args["rows"]) if op == "merge" else getattr(db, op)(**args)
    except (TypeError, KeyError, ValueError, IndexError, sqlite3.Error) as exc:
        raise BadRequest(f"bad arguments to {op}: {exc}") from None
    if op == "merge":
        node.metrics.db_rows_merged.inc(sum(len(r) for r in args["rows"].values()))
    return web.json_response({"result": to_json(result)})


def _check_rows(db: ReplicatedDB, batch: dict[str, Any]) -> None:
    """Rows of the database's tables, each an array of its columns with integer stamps."""
    for table, found in batch.items():
        columns = db.ROW_COLUMNS.get(table)
        if columns is None:
            raise BadRequest(f"bad arguments to merge: no table {table!r} here")
        width = len(columns.split(","))
        if not isinstance(found, list):
            raise BadRequest(f"bad arguments to merge: {table} rows must be an array")
        for row in found:
            if not isinstance(row, list) or len(row) != width:
                raise BadRequest(
                    f"bad arguments to merge: a {table} row is an array of {width} values"
                )
            if not all(isinstance(row[i], int) for i in (2, 3, 4)):
                raise BadRequest(
                    "bad arguments to merge: created, updated, deleted must be integers"
                )


def _parse_body(body: bytes) -> tuple[str, dict[str, Any]]:
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("op"), str):
        raise BadRequest('expected {"op": "...", "args": {...}}')
    args = doc.get("args", {})
    if not isinstance(args, dict):
        raise BadRequest("args must be an object")
    if doc["op"] == "merge" and not isinstance(args.get("rows"), dict):
        raise BadRequest('merge needs {"rows": {table: [row, ...]}}')
    return doc["op"], args
