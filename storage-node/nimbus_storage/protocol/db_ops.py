"""The operations of the node database API (``POST /db/{device}/{partition}/{name}``,
docs/storage-cluster.md): their wire names, ``DbOp``, and for each kind of database the table of
what each one does, ``INDEX_OPS`` (a bucket index) and ``CATALOG_OPS`` (the catalog).

Callers (gateways, the database replicator) name an operation by ``DbOp``. A node runs only what
the table of the database's kind lists: each ``Operation`` decodes the JSON arguments
(``BadArguments`` when they are not what it takes, unknown ones included), calls one method of
the catalog or index, and encodes the result as JSON (``db_wire.to_json``). Nothing else of a
database can be reached from the network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from nimbus_storage.meta import rows
from nimbus_storage.meta.catalog import CatalogDB
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.meta.replicated_db import ReplicatedDB
from nimbus_storage.meta.rows import Row
from nimbus_storage.protocol.db_wire import to_json

D = TypeVar("D", bound=ReplicatedDB)
A = TypeVar("A")


class DbOp(StrEnum):
    """An operation's name on the wire (``{"op": ...}``)."""

    # Both kinds of database.
    MERGE = "merge"
    REPLICA_ID = "replica_id"
    # Bucket indexes.
    KEY_ROWS = "key_rows"
    UPLOAD_ROWS = "upload_rows"
    LIST_OBJECTS = "list_objects"
    LIST_VERSIONS = "list_versions"
    LIST_UPLOADS = "list_uploads"
    LIST_PARTS = "list_parts"
    USAGE = "usage"
    HAS_VERSIONS = "has_versions"
    IS_EMPTY = "is_empty"
    UPLOADS_INITIATED_BEFORE = "uploads_initiated_before"
    CLAIM_UPLOAD = "claim_upload"
    # The catalog.
    BUCKET_ROWS = "bucket_rows"
    ALL_BUCKET_ROWS = "all_bucket_rows"
    CONFIG_ROWS = "config_rows"
    CREDENTIAL_ROWS = "credential_rows"


class BadArguments(ValueError):
    """An operation's arguments are not what it takes."""


_ABSENT = object()


class OpArgs:
    """An operation's JSON arguments (``{"args": {...}}``), read by name with their types
    checked; ``unread`` tells the names no reader asked for (arguments the op does not take)."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self._doc = doc
        self._read: set[str] = set()

    def _get(self, name: str) -> Any:
        self._read.add(name)
        return self._doc.get(name, _ABSENT)

    def unread(self) -> list[str]:
        return sorted(set(self._doc) - self._read)

    def text(self, name: str, default: str | None = None) -> str:
        """A string; required when there is no ``default``."""
        value = self._get(name)
        if value is _ABSENT and default is not None:
            return default
        if value is _ABSENT:
            raise BadArguments(f"missing argument {name!r}")
        if not isinstance(value, str):
            raise BadArguments(f"{name!r} must be a string")
        return value

    def optional_text(self, name: str) -> str | None:
        """A string, or None when absent or null."""
        value = self._get(name)
        if value is _ABSENT or value is None:
            return None
        if not isinstance(value, str):
            raise BadArguments(f"{name!r} must be a string or null")
        return value

    def integer(self, name: str, default: int) -> int:
        value = self._get(name)
        if value is _ABSENT:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadArguments(f"{name!r} must be an integer")
        return value

    def number(self, name: str) -> float:
        """A required number (seconds since the epoch, say)."""
        value = self._get(name)
        if value is _ABSENT:
            raise BadArguments(f"missing argument {name!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BadArguments(f"{name!r} must be a number")
        return float(value)

    def part_blobs(self, name: str) -> list[tuple[int, str]]:
        """``[[part number, blob name], ...]``."""
        value = self._get(name)
        if value is _ABSENT:
            raise BadArguments(f"missing argument {name!r}")
        if not isinstance(value, list) or not all(
            isinstance(pair, list)
            and len(pair) == 2
            and isinstance(pair[0], int)
            and not isinstance(pair[0], bool)
            and isinstance(pair[1], str)
            for pair in value
        ):
            raise BadArguments(f"{name!r} must be an array of [part number, blob] pairs")
        return [(number, blob) for number, blob in value]

    def row_batch(self, name: str, db: type[ReplicatedDB]) -> dict[str, list[Row]]:
        """``{table: [row, ...]}`` of ``db``'s tables, each row an array of its columns with
        integer stamps, as typed rows."""
        batch = self._get(name)
        if not isinstance(batch, dict):
            raise BadArguments(f'merge needs {{"{name}": {{table: [row, ...]}}}}')
        typed: dict[str, list[Row]] = {}
        for table, found in batch.items():
            kind = db.ROW_TYPES.get(table)
            if kind is None:
                raise BadArguments(f"no table {table!r} here")
            if not isinstance(found, list):
                raise BadArguments(f"{table} rows must be an array")
            width = len(db.ROW_COLUMNS[table].split(","))
            if not all(isinstance(row, list) and len(row) == width for row in found):
                raise BadArguments(f"a {table} row is an array of {width} values")
            typed[table] = rows.rows_of(kind, found)
            for row in typed[table]:
                if not all(isinstance(s, int) for s in (row.created, row.updated, row.deleted)):
                    raise BadArguments("created, updated, deleted must be integers")
        return typed


@dataclass(frozen=True, slots=True)
class Operation(Generic[D, A]):
    """One operation on a database of type ``D``: ``decode`` reads its arguments, ``call``
    runs it on a replica with them. ``creates``: it may create a replica that is missing (a
    read of a missing replica is refused instead, so the caller asks another)."""

    decode: Callable[[OpArgs], A]
    call: Callable[[D, A], object]
    creates: bool = False

    def arguments(self, doc: Mapping[str, Any]) -> A:
        """The decoded arguments; BadArguments when they are not what the operation takes."""
        args = OpArgs(doc)
        decoded = self.decode(args)
        unexpected = args.unread()
        if unexpected:
            raise BadArguments(f"unexpected argument {unexpected[0]!r}")
        return decoded

    def run(self, db: D, arguments: A) -> Any:
        """The operation's result, as JSON."""
        return to_json(self.call(db, arguments))


def _index(
    decode: Callable[[OpArgs], A],
    call: Callable[[BucketIndex, A], object],
    *,
    creates: bool = False,
) -> Operation[BucketIndex, Any]:
    return Operation(decode, call, creates)


def _catalog(
    decode: Callable[[OpArgs], A], call: Callable[[CatalogDB, A], object], *, creates: bool = False
) -> Operation[CatalogDB, Any]:
    return Operation(decode, call, creates)


def _nothing(_args: OpArgs) -> None:
    return None


def _listing(args: OpArgs, markers: tuple[str, str], limit: str) -> tuple[str, str, str, str, int]:
    """``prefix, delimiter``, two markers and a page size, as a listing method takes them."""
    return (
        args.text("prefix", ""),
        args.text("delimiter", ""),
        args.text(markers[0], ""),
        args.text(markers[1], ""),
        args.integer(limit, 1000),
    )


INDEX_OPS: Mapping[DbOp, Operation[BucketIndex, Any]] = {
    DbOp.MERGE: _index(
        lambda a: a.row_batch("rows", BucketIndex), lambda db, batch: db.merge(batch), creates=True
    ),
    DbOp.REPLICA_ID: _index(_nothing, lambda db, _: db.replica_id()),
    DbOp.KEY_ROWS: _index(lambda a: a.text("key"), lambda db, key: db.key_rows(key)),
    DbOp.UPLOAD_ROWS: _index(lambda a: a.text("upload_id"), lambda db, u: db.upload_rows(u)),
    DbOp.LIST_OBJECTS: _index(
        lambda a: (
            a.text("prefix", ""),
            a.text("delimiter", ""),
            a.text("start_after", ""),
            a.integer("max_keys", 1000),
        ),
        lambda db, given: db.list_objects(*given),
    ),
    DbOp.LIST_VERSIONS: _index(
        lambda a: _listing(a, ("key_marker", "version_id_marker"), "max_keys"),
        lambda db, given: db.list_versions(*given),
    ),
    DbOp.LIST_UPLOADS: _index(
        lambda a: _listing(a, ("key_marker", "upload_id_marker"), "max_uploads"),
        lambda db, given: db.list_uploads(*given),
    ),
    DbOp.LIST_PARTS: _index(
        lambda a: (
            a.text("upload_id"),
            a.integer("part_number_marker", 0),
            a.integer("max_parts", 1000),
        ),
        lambda db, given: db.list_parts(*given),
    ),
    DbOp.USAGE: _index(_nothing, lambda db, _: db.usage()),
    DbOp.HAS_VERSIONS: _index(_nothing, lambda db, _: db.has_versions()),
    DbOp.IS_EMPTY: _index(_nothing, lambda db, _: db.is_empty()),
    DbOp.UPLOADS_INITIATED_BEFORE: _index(
        lambda a: a.number("t"), lambda db, t: db.uploads_initiated_before(t)
    ),
    # Writes, but only to a replica that exists.
    DbOp.CLAIM_UPLOAD: _index(
        lambda a: (a.text("upload_id"), a.part_blobs("expected")),
        lambda db, given: db.claim_upload(*given),
    ),
}

CATALOG_OPS: Mapping[DbOp, Operation[CatalogDB, Any]] = {
    DbOp.MERGE: _catalog(
        lambda a: a.row_batch("rows", CatalogDB), lambda db, batch: db.merge(batch), creates=True
    ),
    DbOp.REPLICA_ID: _catalog(_nothing, lambda db, _: db.replica_id()),
    DbOp.BUCKET_ROWS: _catalog(lambda a: a.text("name"), lambda db, name: db.bucket_rows(name)),
    DbOp.ALL_BUCKET_ROWS: _catalog(_nothing, lambda db, _: db.all_bucket_rows()),
    DbOp.CONFIG_ROWS: _catalog(lambda a: a.text("bucket"), lambda db, b: db.config_rows(b)),
    DbOp.CREDENTIAL_ROWS: _catalog(
        lambda a: a.optional_text("access_key"), lambda db, key: db.credential_rows(key)
    ),
}
