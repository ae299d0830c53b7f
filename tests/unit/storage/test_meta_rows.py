"""Typed rows: each table's row class is still the tuple of its columns, in the order the JSON
wire format and the SQL column lists use, so typing rows changed neither."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from nimbus_storage.meta import catalog_rows as cr
from nimbus_storage.meta import rows
from nimbus_storage.meta.api import Bucket, Credential, ObjectVersion, Part, Upload
from nimbus_storage.meta.catalog import CatalogDB
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.meta.replicated_db import ReplicatedDB
from nimbus_storage.meta.rows import Row
from nimbus_storage.protocol.db_wire import to_json

VERSION = rows.version_row(
    ObjectVersion(
        "photos/cat.jpg",
        "v1",
        1.5,
        "etag",
        3,
        "blob-1",
        content_type="image/jpeg",
        lock_mode="GOVERNANCE",
        lock_until=2e9,
    ),
    100,
    tags={"colour": "grey"},
)
UPLOAD = rows.upload_row(Upload("u1", "big", 2.5, {"content-type": "a/b"}), 200)
PART = rows.part_row("u1", Part(1, "part-etag", 5, "part-blob", 3.5, "AAAAAA=="), 300)
BUCKET = cr.bucket_row(Bucket("photos", "alice", 4.5, "Enabled", 10, None, "private", "r1"), 400)
CONFIG = cr.config_row("photos", "cors", "<CORSConfiguration/>", 500)
CREDENTIAL = cr.credential_row(Credential("AK", "SK", False, "app", 6.5, {"photos": "RO"}), 600)

# Each table's row, its database, and the columns of its JSON array (those it had before rows
# were typed; Object Lock's ``lock`` and a part's ``checksum`` since).
CASES: list[tuple[str, Row, type[ReplicatedDB], tuple[str, ...]]] = [
    ("versions", VERSION, BucketIndex, (
        "key", "version_id", "created", "updated", "deleted", "delete_marker", "last_modified",
        "etag", "size", "blob", "content_type", "storage_class", "owner", "tags", "acl", "lock")),
    ("uploads", UPLOAD, BucketIndex, (
        "upload_id", "key", "created", "updated", "deleted", "initiated", "meta")),
    ("parts", PART, BucketIndex, (
        "upload_id", "part_number", "created", "updated", "deleted", "etag", "size", "blob",
        "last_modified", "checksum")),
    ("buckets", BUCKET, CatalogDB, (
        "name", "owner", "created", "updated", "deleted", "created_at", "versioning",
        "quota_bytes", "quota_objects", "acl", "region", "storage_policy")),
    ("configs", CONFIG, CatalogDB, ("bucket", "kind", "created", "updated", "deleted", "value")),
    ("credentials", CREDENTIAL, CatalogDB, (
        "access_key", "secret_key", "created", "updated", "deleted", "is_admin", "description",
        "created_at", "grants")),
]  # fmt: skip
IDS = [table for table, *_ in CASES]


def open_db(kind: type[ReplicatedDB], tmp_path: Path) -> ReplicatedDB:
    return kind(tmp_path / f"{kind.__name__}.sqlite")


@pytest.mark.parametrize(("table", "row", "db_kind", "columns"), CASES, ids=IDS)
def test_row_class_fields_are_the_wire_and_sql_column_order(
    table: str, row: Row, db_kind: type[ReplicatedDB], columns: tuple[str, ...]
) -> None:
    kind = db_kind.ROW_TYPES[table]
    assert type(row) is kind
    assert row._fields == columns  # type: ignore[attr-defined]
    assert db_kind.ROW_COLUMNS[table] == ", ".join(columns)
    assert isinstance(row, tuple)
    assert len(row) == len(columns)
    assert (row.created, row.updated, row.deleted) == tuple(row)[2:5]


@pytest.mark.parametrize(("table", "row", "db_kind", "columns"), CASES, ids=IDS)
def test_row_round_trips_through_the_json_wire_format(
    table: str, row: Row, db_kind: type[ReplicatedDB], columns: tuple[str, ...]
) -> None:
    kind = db_kind.ROW_TYPES[table]
    sent = json.dumps({"rows": {table: [row]}})
    wire: Any = json.loads(sent)["rows"][table][0]
    assert isinstance(wire, list)  # an array of its columns, as before rows were typed
    assert wire == [getattr(row, name) for name in columns]
    assert to_json(row) == wire
    received = rows.rows_of(kind, [wire])[0]
    assert received == row
    assert type(received) is kind


@pytest.mark.parametrize(("table", "row", "db_kind", "columns"), CASES, ids=IDS)
def test_row_round_trips_through_sqlite(
    table: str, row: Row, db_kind: type[ReplicatedDB], columns: tuple[str, ...], tmp_path: Path
) -> None:
    db = open_db(db_kind, tmp_path)
    try:
        parent = {"parts": {"uploads": [UPLOAD]}}.get(table, {})
        db.merge({**parent, table: [row]})
        batch, _upto = db.rows_since(0)
        assert batch[table] == [row]
        assert type(batch[table][0]) is db_kind.ROW_TYPES[table]
    finally:
        db.close()
    # The schema's columns, by name: the row went in and came out in the order of its fields.
    with sqlite3.connect(tmp_path / f"{db_kind.__name__}.sqlite") as raw:
        stored = raw.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
    assert stored == [tuple(row)]


@pytest.mark.parametrize(("table", "row", "db_kind", "columns"), CASES, ids=IDS)
def test_identity_is_the_identity_columns(
    table: str, row: Row, db_kind: type[ReplicatedDB], columns: tuple[str, ...]
) -> None:
    names = db_kind.IDENTITY[table]
    assert row.identity() == tuple(getattr(row, name) for name in names)


def test_typed_reads_give_typed_rows(tmp_path: Path) -> None:
    index = BucketIndex(tmp_path / "index.sqlite")
    catalog = CatalogDB(tmp_path / "catalog.sqlite")
    try:
        index.merge({"versions": [VERSION], "uploads": [UPLOAD], "parts": [PART]})
        catalog.merge({"buckets": [BUCKET], "configs": [CONFIG], "credentials": [CREDENTIAL]})
        assert index.key_rows("photos/cat.jpg") == [VERSION]
        assert isinstance(index.key_rows("photos/cat.jpg")[0], rows.VersionRow)
        upload, parts = index.upload_rows("u1")
        assert (upload, parts) == (UPLOAD, [PART])
        assert isinstance(upload, rows.UploadRow)
        assert isinstance(parts[0], rows.PartRow)
        assert catalog.bucket_rows("photos") == [BUCKET]
        assert isinstance(catalog.all_bucket_rows()[0], cr.BucketRow)
        assert isinstance(catalog.config_rows("photos")[0], cr.ConfigRow)
        assert isinstance(catalog.credential_rows("AK")[0], cr.CredentialRow)
    finally:
        index.close()
        catalog.close()


def test_named_changes_keep_the_identity_and_stamp_a_newer_state() -> None:
    tagged = rows.with_tags(VERSION, {"a": "b"}, at=50)
    assert tagged.identity() == VERSION.identity()
    assert (tagged.created, tagged.updated) == (VERSION.created, VERSION.updated + 1)
    assert rows.tags_of(tagged) == {"a": "b"}
    assert rows.with_acl(VERSION, "public-read").acl == "public-read"
    gone = rows.tombstone(PART, at=10_000)
    assert (gone.deleted, gone.updated, type(gone)) == (1, 10_000, rows.PartRow)
    assert rows.supersedes(gone, PART)
    changed = cr.with_settings(BUCKET, {"versioning": "Suspended", "quota_bytes": None})
    assert (changed.versioning, changed.quota_bytes, changed.name) == ("Suspended", None, "photos")
    assert cr.without_grant(CREDENTIAL, "photos").grants == "{}"


def test_merge_rows_keeps_the_greatest_row_per_identity() -> None:
    newer = rows.with_tags(VERSION, {"a": "b"})
    other = rows.version_row(ObjectVersion("dog.jpg", "v1", 1.0, "e", 1, "b"), 100)
    replies = [[list(VERSION), list(other)], [list(newer)]]  # as JSON answers
    merged = rows.merge_rows(replies, rows.VersionRow)
    assert sorted(merged) == sorted([newer, other])
    assert all(type(r) is rows.VersionRow for r in merged)
