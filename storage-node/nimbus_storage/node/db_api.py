"""``POST /db/{device}/{partition}/{quoted name}``: one operation on a database replica.

The body is ``{"op": ..., "args": {...}}``, the answer ``{"result": ...}``. What each op does is
the table of the database's kind in ``protocol.db_ops`` (``INDEX_OPS``, ``CATALOG_OPS``): any
other op is refused (400). ``merge`` writes rows (creating the replica if needed; its arguments
are checked first, so a bad merge creates nothing) and answers the garbage they made; the other
operations read. A read of a replica this node does not have answers 404, so the caller asks
another replica.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from nimbus_storage.meta.db_names import CATALOG
from nimbus_storage.meta.replicated_db import ReplicatedDB
from nimbus_storage.node.config import NODE
from nimbus_storage.node.databases import Databases
from nimbus_storage.node.objects import insufficient_storage
from nimbus_storage.node.requests import BadRequest, Target, parse_target
from nimbus_storage.protocol.db_ops import CATALOG_OPS, INDEX_OPS, BadArguments, DbOp, Operation

DATABASES = web.AppKey("nimbus_databases", Databases)


def operation_for(name: str, op: str) -> Operation[Any, Any] | None:
    """What ``op`` does on database ``name`` (its kind's table); None when it is not an op."""
    try:
        known = DbOp(op)
    except ValueError:
        return None
    table: Mapping[DbOp, Operation[Any, Any]] = CATALOG_OPS if name == CATALOG else INDEX_OPS
    return table.get(known)


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
    operation = operation_for(name, op)
    if operation is None:
        raise BadRequest(f"unknown operation {op!r} on {name!r}")
    databases = request.app[DATABASES]
    db = _replica(databases, target, name, create=False)
    if db is None and not operation.creates:
        return web.json_response({"missing": name}, status=404)
    arguments = _decoded(operation, op, args)  # before a merge creates the replica
    if db is None:
        db = _replica(databases, target, name, create=True)
        assert db is not None  # just created
    try:
        result = operation.run(db, arguments)
    except (TypeError, KeyError, ValueError, IndexError, sqlite3.Error) as exc:
        raise BadRequest(f"bad arguments to {op}: {exc}") from None
    if op == DbOp.MERGE:
        node.metrics.db_rows_merged.inc(sum(len(r) for r in arguments.values()))
    return web.json_response({"result": result})


def _replica(
    databases: Databases, target: Target, name: str, *, create: bool
) -> ReplicatedDB | None:
    try:
        return databases.get(target.device, target.partition, name, create=create)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _decoded(operation: Operation[Any, Any], op: str, args: dict[str, Any]) -> Any:
    try:
        return operation.arguments(args)
    except BadArguments as exc:
        raise BadRequest(f"bad arguments to {op}: {exc}") from None


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
    return doc["op"], args
