"""Tables and statements of a bucket index (see ``index`` for the reasoning)."""

from __future__ import annotations

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
    "PRAGMA cache_size = -16000",  # 16 MB of page cache per bucket
)

# PRAGMA user_version of a current index. Version 1 (user_version 0) had no per-version ACL.
SCHEMA_VERSION = 2
# What turns an index of version N-1 into version N.
MIGRATIONS = {
    2: "ALTER TABLE versions ADD COLUMN acl TEXT NOT NULL DEFAULT 'private'",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    key           TEXT    NOT NULL,
    -- -1, -2, -3, ... per key in write order: ascending (key, seq) lists newest first.
    seq           INTEGER NOT NULL,
    version_id    TEXT    NOT NULL,
    is_latest     INTEGER NOT NULL,
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
    PRIMARY KEY (key, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS versions_by_id ON versions (key, version_id);
-- What ListObjects returns: latest versions that are not delete markers.
CREATE INDEX IF NOT EXISTS listable ON versions (key) WHERE is_latest = 1 AND delete_marker = 0;

CREATE TABLE IF NOT EXISTS usage (
    id      INTEGER PRIMARY KEY CHECK (id = 0),
    bytes   INTEGER NOT NULL,
    objects INTEGER NOT NULL
);
INSERT OR IGNORE INTO usage VALUES (0, 0, 0);

CREATE TABLE IF NOT EXISTS uploads (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order
    upload_id TEXT    NOT NULL UNIQUE,
    key       TEXT    NOT NULL,
    initiated REAL    NOT NULL,
    meta      TEXT    NOT NULL  -- JSON object
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (key, seq);

CREATE TABLE IF NOT EXISTS parts (
    upload_id     TEXT    NOT NULL,
    part_number   INTEGER NOT NULL,
    etag          TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    blob          TEXT    NOT NULL,
    last_modified REAL    NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
"""

# Column order of ObjectVersion, then seq (the walk's ordinal).
VERSION_COLUMNS = (
    "key, version_id, last_modified, etag, size, blob, is_latest, delete_marker,"
    " content_type, storage_class, owner, acl, seq"
)

INSERT_VERSION = """
INSERT INTO versions (key, seq, version_id, is_latest, delete_marker, last_modified, etag, size,
                      blob, content_type, storage_class, owner, tags, acl)
VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
SELECT_LATEST = f"SELECT {VERSION_COLUMNS} FROM versions WHERE key = ? ORDER BY seq LIMIT 1"
SELECT_BY_ID = f"SELECT {VERSION_COLUMNS} FROM versions WHERE key = ? AND version_id = ?"
DELETE_VERSION = "DELETE FROM versions WHERE key = ? AND seq = ?"
NEWEST_SEQ = "SELECT min(seq) FROM versions WHERE key = ?"
DEMOTE_LATEST = "UPDATE versions SET is_latest = 0 WHERE key = ? AND is_latest = 1"
PROMOTE = "UPDATE versions SET is_latest = 1 WHERE key = ? AND seq = ?"
ADD_USAGE = "UPDATE usage SET bytes = bytes + ?, objects = objects + ? WHERE id = 0"

# Listing pages: one statement per (what, bounded-above?) so each is prepared once and cached.
_LISTABLE = (
    f"SELECT {VERSION_COLUMNS} FROM versions INDEXED BY listable"
    " WHERE is_latest = 1 AND delete_marker = 0 AND key {op} ? {upper} ORDER BY key LIMIT ?"
)
LIST_LATEST = {
    (op, bounded): _LISTABLE.format(op=op, upper="AND key < ?" if bounded else "")
    for op in (">", ">=")
    for bounded in (False, True)
}
_ALL_VERSIONS = (
    f"SELECT {VERSION_COLUMNS} FROM versions WHERE (key, seq) > (?, ?) {{upper}}"
    " ORDER BY key, seq LIMIT ?"
)
LIST_VERSIONS = {
    bounded: _ALL_VERSIONS.format(upper="AND key < ?" if bounded else "")
    for bounded in (False, True)
}

UPLOAD_COLUMNS = "upload_id, key, initiated, meta, seq"
_UPLOADS = (
    f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE (key, seq) > (?, ?) {{upper}}"
    " ORDER BY key, seq LIMIT ?"
)
LIST_UPLOADS = {
    bounded: _UPLOADS.format(upper="AND key < ?" if bounded else "") for bounded in (False, True)
}
PART_COLUMNS = "part_number, etag, size, blob, last_modified"
