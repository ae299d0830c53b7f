"""Tables and statements of a bucket index (see ``index`` for the reasoning)."""

from __future__ import annotations

import sqlite3

from nimbus_storage.meta import rows
from nimbus_storage.meta.replicated_db import REPLICATION_SCHEMA, execute_script

# PRAGMA user_version of a current index. Version 1 (user_version 0) had no per-version ACL;
# version 2 kept rows that could not be merged between replicas (no stamps, no deletion rows);
# version 3 had no Object Lock column (versions) nor checksum column (parts).
SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    key           TEXT    NOT NULL,
    seq           INTEGER NOT NULL,  -- -created: ascending (key, seq) lists newest first
    version_id    TEXT    NOT NULL,
    created       INTEGER NOT NULL,  -- ns, see meta/rows.py for created, updated, deleted
    updated       INTEGER NOT NULL,
    deleted       INTEGER NOT NULL,
    is_latest     INTEGER NOT NULL,  -- derived: the newest row of the key that is not deleted
    delete_marker INTEGER NOT NULL,
    last_modified REAL    NOT NULL,
    etag          TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    blob          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    storage_class TEXT    NOT NULL,
    owner         TEXT    NOT NULL,
    tags          TEXT,   -- JSON object, NULL when the version has no tags
    acl           TEXT    NOT NULL DEFAULT 'private',  -- canned ACL of this version
    lock          TEXT,   -- JSON object (Object Lock retention and legal hold), NULL for none
    change        INTEGER NOT NULL,  -- local change number, for replication
    PRIMARY KEY (key, seq, version_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS versions_by_id ON versions (key, version_id);
-- What ListObjects returns: latest versions that are not delete markers.
CREATE INDEX IF NOT EXISTS listable ON versions (key) WHERE is_latest = 1 AND delete_marker = 0;
CREATE INDEX IF NOT EXISTS versions_by_change ON versions (change);

CREATE TABLE IF NOT EXISTS usage (
    id      INTEGER PRIMARY KEY CHECK (id = 0),
    bytes   INTEGER NOT NULL,
    objects INTEGER NOT NULL
);
INSERT OR IGNORE INTO usage VALUES (0, 0, 0);

CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT    PRIMARY KEY,
    key       TEXT    NOT NULL,
    created   INTEGER NOT NULL,  -- ns, orders the uploads of a key
    updated   INTEGER NOT NULL,
    deleted   INTEGER NOT NULL,
    initiated REAL    NOT NULL,
    meta      TEXT    NOT NULL,  -- JSON object
    change    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS live_uploads ON uploads (key, created) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS uploads_by_change ON uploads (change);

CREATE TABLE IF NOT EXISTS parts (
    upload_id     TEXT    NOT NULL,
    part_number   INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL,
    deleted       INTEGER NOT NULL,
    etag          TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    blob          TEXT    NOT NULL,
    last_modified REAL    NOT NULL,
    checksum      TEXT    NOT NULL DEFAULT '',  -- base64, when the upload has an algorithm
    change        INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parts_by_change ON parts (change);
"""

# Columns in the order of the row classes' fields (meta/rows.py), which is the wire order.
VERSION_ROW = rows.columns(rows.VersionRow._fields)
UPLOAD_ROW = rows.columns(rows.UploadRow._fields)
PART_ROW = rows.columns(rows.PartRow._fields)
# A version row followed by is_latest and seq (the walk's ordinal).
LISTED_VERSION = f"{VERSION_ROW}, is_latest, seq"


SELECT_LATEST = (
    f"SELECT {LISTED_VERSION} FROM versions WHERE key = ? AND deleted = 0 ORDER BY seq LIMIT 1"
)
SELECT_BY_ID = f"SELECT {LISTED_VERSION} FROM versions WHERE key = ? AND version_id = ?"
NEWEST_CREATED = "SELECT max(created) FROM versions WHERE key = ?"
NEWEST_UPDATE = "SELECT max(updated) FROM versions WHERE key = ?"
DEMOTE_LATEST = "UPDATE versions SET is_latest = 0 WHERE key = ? AND is_latest = 1"
PROMOTE_NEWEST = (
    "UPDATE versions SET is_latest = 1 WHERE key = ?1 AND seq ="
    " (SELECT min(seq) FROM versions WHERE key = ?1 AND deleted = 0)"
)
ADD_USAGE = "UPDATE usage SET bytes = bytes + ?, objects = objects + ? WHERE id = 0"

# Listing pages: one statement per (what, bounded-above?) so each is prepared once and cached.
_LISTABLE = (
    f"SELECT {LISTED_VERSION} FROM versions INDEXED BY listable"
    " WHERE is_latest = 1 AND delete_marker = 0 AND key {op} ? {upper} ORDER BY key LIMIT ?"
)
LIST_LATEST = {
    (op, bounded): _LISTABLE.format(op=op, upper="AND key < ?" if bounded else "")
    for op in (">", ">=")
    for bounded in (False, True)
}
_ALL_VERSIONS = (
    f"SELECT {LISTED_VERSION} FROM versions WHERE (key, seq) > (?, ?) AND deleted = 0"
    " {upper} ORDER BY key, seq LIMIT ?"
)
LIST_VERSIONS = {
    bounded: _ALL_VERSIONS.format(upper="AND key < ?" if bounded else "")
    for bounded in (False, True)
}

_UPLOADS = (
    f"SELECT {UPLOAD_ROW} FROM uploads WHERE (key, created) > (?, ?) AND deleted = 0"
    " {upper} ORDER BY key, created LIMIT ?"
)
LIST_UPLOADS = {
    bounded: _UPLOADS.format(upper="AND key < ?" if bounded else "") for bounded in (False, True)
}


def _rebuild_v3(db: sqlite3.Connection) -> None:
    """Version 2 -> 3: give every row its stamps and a change number, in new tables."""
    existing = {
        name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    old = [table for table in ("versions", "uploads", "parts") if table in existing]
    for table in old:
        db.execute(f"ALTER TABLE {table} RENAME TO old_{table}")
    for index in ("versions_by_id", "listable", "uploads_by_key"):
        db.execute(f"DROP INDEX IF EXISTS {index}")
    create(db)
    # Old rows of a key were numbered -1, -2, ... in write order; keep that order in `created`.
    db.execute(
        "INSERT INTO versions SELECT key, -(CAST(last_modified * 1e9 AS INTEGER) - seq),"
        " version_id, CAST(last_modified * 1e9 AS INTEGER) - seq,"
        " CAST(last_modified * 1e9 AS INTEGER) - seq, 0, is_latest, delete_marker,"
        " last_modified, etag, size, blob, content_type, storage_class, owner, tags, acl, NULL, 1"
        " FROM old_versions"
    )
    if "uploads" in old:
        db.execute(
            "INSERT INTO uploads SELECT upload_id, key, CAST(initiated * 1e9 AS INTEGER) + seq,"
            " CAST(initiated * 1e9 AS INTEGER) + seq, 0, initiated, meta, 1 FROM old_uploads"
        )
    if "parts" in old:
        db.execute(
            "INSERT INTO parts SELECT upload_id, part_number, CAST(last_modified * 1e9 AS INTEGER),"
            " CAST(last_modified * 1e9 AS INTEGER), 0, etag, size, blob, last_modified, '', 1"
            " FROM old_parts"
        )
    execute_script(db, REPLICATION_SCHEMA)
    db.execute("UPDATE changes SET last = 1")
    for table in old:
        db.execute(f"DROP TABLE old_{table}")


def create(db: sqlite3.Connection) -> None:
    execute_script(db, SCHEMA)


def upgrade(db: sqlite3.Connection, version: int) -> None:
    """Bring an index of ``version`` (>= 1 when it has tables) up to ``SCHEMA_VERSION``."""
    if version < 2:
        db.execute("ALTER TABLE versions ADD COLUMN acl TEXT NOT NULL DEFAULT 'private'")
    if version < 3:
        _rebuild_v3(db)  # creates the current tables, lock column included
    elif version < 4:
        db.execute("ALTER TABLE versions ADD COLUMN lock TEXT")
        db.execute("ALTER TABLE parts ADD COLUMN checksum TEXT NOT NULL DEFAULT ''")
