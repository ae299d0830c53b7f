"""A bucket's listing index: its object versions, multipart uploads and parts, in one SQLite file.

Why SQLite, one database per bucket: it is Swift's container database. A bucket is the unit that
is listed, counted, replicated and deleted, so giving it its own file keeps every transaction
small and local, makes a bucket's whole state one file to ship or drop, and lets writes to
different buckets proceed without sharing a lock. SQLite gives ordered B-trees, transactions and
crash safety for free, in process, with no server to run.

Settings and layout:

* WAL journal with ``synchronous=NORMAL``: readers never block the writer, a commit is one
  sequential append to the WAL and no fsync (the WAL is synced at checkpoints). A power loss can
  lose the last transactions but never corrupts the file; the blobs they point at are fsynced,
  and an index that forgot a version leaves an orphan blob (reclaimed later), never a dangling
  pointer.
* ``versions`` is a WITHOUT ROWID table keyed on ``(key, seq)``, ``seq`` counting down per key,
  so rows are clustered in listing order: a page is a contiguous B-tree range read with no
  per-row lookup, and a key's latest version is its first row.
* A partial index ``listable`` holds only latest non-delete-marker keys, so ListObjects skips old
  versions and deleted keys without reading them.
* Keys are TEXT compared with BINARY collation, i.e. memcmp of UTF-8: S3's byte order.
* Statements are fixed strings, prepared once per connection by the ``sqlite3`` statement cache.
* Usage counters (bytes, objects) are updated in the same transaction as each version change,
  so quota checks read one row instead of summing a million.

ListObjectsV2 at 1M keys: a page without delimiter is one range scan of 1001 index entries; with
a delimiter, ``listing.walk`` seeks past each common prefix instead of scanning its members, so a
page costs at most one seek per entry returned. See ``bench/bench_index.py`` for the figures.

Every method is one short transaction and runs synchronously; the gateway calls them on the event
loop. A lock makes an index safe to share with worker threads too.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nimbus_storage.errors import NoSuchUpload
from nimbus_storage.store import index_schema as sql
from nimbus_storage.store.api import (
    NULL_VERSION,
    VERSIONING_STATES,
    ListPage,
    ObjectVersion,
    Part,
    Upload,
    UploadPage,
)
from nimbus_storage.store.listing import (
    MAX_ORDINAL,
    CommonPrefix,
    Position,
    prefix_successor,
    start_position,
    walk,
)

__all__ = ["BucketIndex", "ListPage", "Part", "Upload", "UploadPage"]

Row = tuple[Any, ...]


def _version(row: Row) -> ObjectVersion:
    key, vid, modified, etag, size, blob, latest, marker, ctype, sclass, owner, acl = row[:12]
    return ObjectVersion(
        key, vid, modified, etag, size, blob, bool(latest), bool(marker), ctype, sclass, owner, acl
    )


def _upload(row: Row) -> Upload:
    upload_id, key, initiated, meta = row[:4]
    return Upload(upload_id, key, initiated, json.loads(meta))


def _part(row: Row) -> Part:
    return Part(*row)


def _split(items: list[Row | CommonPrefix]) -> tuple[list[Row], list[str]]:
    rows = [i for i in items if not isinstance(i, CommonPrefix)]
    prefixes = [i.prefix for i in items if isinstance(i, CommonPrefix)]
    return rows, prefixes


def _upgrade(db: sqlite3.Connection, path: Path) -> None:
    """Create a new index, or bring an index written by an older Nimbus up to date."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    (has_versions,) = db.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'versions'"
    ).fetchone()
    if version > sql.SCHEMA_VERSION:
        raise RuntimeError(f"{path} was written by a newer Nimbus (schema {version})")
    if has_versions:
        for step in range(max(version, 1) + 1, sql.SCHEMA_VERSION + 1):
            db.execute(sql.MIGRATIONS[step])
    for statement in sql.SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {sql.SCHEMA_VERSION}")


class BucketIndex:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in sql.PRAGMAS:
            self._db.execute(pragma)
        try:
            with self._transaction() as db:
                _upgrade(db, self.path)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One transaction; IMMEDIATE (write) takes the write lock up front, DEFERRED reads."""
        with self._lock:
            self._db.execute(f"BEGIN {mode}")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- versions ---------------------------------------------------------------------------

    def put_version(
        self, v: ObjectVersion, versioning: str, *, tags: Mapping[str, str] | None = None
    ) -> list[ObjectVersion]:
        """Make ``v`` the latest version of its key; return the versions it replaced.

        Unversioned (``""``) and suspended buckets keep one ``null`` version per key: an
        existing one is replaced and returned, and its blob is the caller's to delete. Enabled
        buckets replace nothing (a retried write with an existing version id replaces that row).
        """
        if versioning not in VERSIONING_STATES:
            raise ValueError(f"unknown versioning state {versioning!r}")
        replaced_ids = {v.version_id} | ({NULL_VERSION} if versioning != "Enabled" else set())
        with self._transaction() as db:
            replaced = [r for vid in replaced_ids if (r := self._remove(db, v.key, vid))]
            db.execute(sql.DEMOTE_LATEST, (v.key,))
            newest = db.execute(sql.NEWEST_SEQ, (v.key,)).fetchone()[0]
            db.execute(
                sql.INSERT_VERSION,
                (
                    v.key,
                    (newest or 0) - 1,
                    v.version_id,
                    int(v.delete_marker),
                    v.last_modified,
                    v.etag,
                    v.size,
                    v.blob,
                    v.content_type,
                    v.storage_class,
                    v.owner,
                    json.dumps(dict(tags)) if tags else None,
                    v.acl,
                ),
            )
            self._count(db, v, +1)
        return replaced

    def get(self, key: str, version_id: str | None = None) -> ObjectVersion | None:
        """That version, or the latest (maybe a delete marker) when ``version_id`` is None."""
        with self._lock:
            if version_id is None:
                row = self._db.execute(sql.SELECT_LATEST, (key,)).fetchone()
            else:
                row = self._db.execute(sql.SELECT_BY_ID, (key, version_id)).fetchone()
        return _version(row) if row else None

    def delete_version(self, key: str, version_id: str) -> ObjectVersion | None:
        """Remove one version; the newest remaining one becomes latest. Returns the removed row."""
        with self._transaction() as db:
            removed = self._remove(db, key, version_id)
            if removed is not None and removed.is_latest:
                newest = db.execute(sql.NEWEST_SEQ, (key,)).fetchone()[0]
                if newest is not None:
                    db.execute(sql.PROMOTE, (key, newest))
        return removed

    def _remove(self, db: sqlite3.Connection, key: str, version_id: str) -> ObjectVersion | None:
        row = db.execute(sql.SELECT_BY_ID, (key, version_id)).fetchone()
        if row is None:
            return None
        db.execute(sql.DELETE_VERSION, (key, row[-1]))
        removed = _version(row)
        self._count(db, removed, -1)
        return removed

    @staticmethod
    def _count(db: sqlite3.Connection, v: ObjectVersion, sign: int) -> None:
        db.execute(sql.ADD_USAGE, (sign * v.size, 0 if v.delete_marker else sign))

    def bulk_load(self, versions: Iterable[ObjectVersion]) -> int:
        """Insert many *new* keys, one null version each, in one transaction (loaders, benches).

        Skips the per-write checks of ``put_version``: every key must be absent from the index.
        """
        loaded = 0
        total = 0

        def rows() -> Iterator[tuple[object, ...]]:
            nonlocal loaded, total
            for v in versions:
                loaded += 1
                total += v.size
                yield (
                    v.key, -1, v.version_id, int(v.delete_marker), v.last_modified, v.etag,
                    v.size, v.blob, v.content_type, v.storage_class, v.owner, None, v.acl,
                )  # fmt: skip

        with self._transaction() as db:
            db.executemany(sql.INSERT_VERSION, rows())
            db.execute(sql.ADD_USAGE, (total, loaded))
        with self._lock:  # fold the big transaction back into the database file
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return loaded

    # --- listings ---------------------------------------------------------------------------

    def list_objects(
        self, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        """ListObjects(V2): latest versions that are not delete markers, keys in UTF-8 order.

        Common prefixes count toward ``max_keys``; ``next_marker`` (set only when truncated) is
        the last key or common prefix returned. Passing it back as ``start_after`` continues the
        listing, also after a common prefix (its members are skipped).
        """
        if max_keys <= 0:
            return ListPage([], [], False, None)
        upper = prefix_successor(prefix)

        def fetch(position: Position, limit: int) -> Iterable[Row]:
            # One version per key here, so "after (key, ordinal)" is "after key" or "from key".
            op = ">" if position.ordinal == MAX_ORDINAL else ">="
            bounds = (position.key, upper) if upper is not None else (position.key,)
            return self._db.execute(sql.LIST_LATEST[op, upper is not None], (*bounds, limit))

        with self._transaction("DEFERRED"):
            result = walk(
                fetch,
                lambda row: str(row[0]),
                lambda row: Position.after_key(row[0]),
                prefix=prefix,
                delimiter=delimiter,
                start=start_position(prefix, start_after),
                marker=start_after,
                limit=max_keys,
            )
        rows, prefixes = _split(result.items)
        last = result.items[-1] if result.is_truncated else None
        next_marker = None if last is None else _marker_of(last)
        return ListPage([_version(r) for r in rows], prefixes, result.is_truncated, next_marker)

    def list_versions(
        self,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> ListPage:
        """ListObjectVersions: every version and delete marker, newest first within a key.

        When truncated, ``next_marker`` is the last key (or common prefix) and
        ``next_version_marker`` the last version id (None after a common prefix). An unknown
        ``version_id_marker`` resumes after the whole of ``key_marker``.
        """
        if max_keys <= 0:
            return ListPage([], [], False, None)
        upper = prefix_successor(prefix)

        def fetch(position: Position, limit: int) -> Iterable[Row]:
            bounds = (position.key, position.ordinal, *(() if upper is None else (upper,)))
            return self._db.execute(sql.LIST_VERSIONS[upper is not None], (*bounds, limit))

        with self._transaction("DEFERRED") as db:
            start = start_position(prefix, key_marker)
            if key_marker and version_id_marker and key_marker >= prefix:
                row = db.execute(sql.SELECT_BY_ID, (key_marker, version_id_marker)).fetchone()
                if row is not None:
                    start = Position(key_marker, row[-1])
            result = walk(
                fetch,
                lambda row: str(row[0]),
                lambda row: Position(row[0], row[-1]),
                prefix=prefix,
                delimiter=delimiter,
                start=start,
                marker=key_marker,
                limit=max_keys,
            )
        rows, prefixes = _split(result.items)
        page = ListPage([_version(r) for r in rows], prefixes, result.is_truncated, None)
        if not result.is_truncated:
            return page
        last = result.items[-1]
        version_marker = None if isinstance(last, CommonPrefix) else str(last[1])
        return ListPage(page.entries, prefixes, True, _marker_of(last), version_marker)

    # --- usage ------------------------------------------------------------------------------

    def usage(self) -> tuple[int, int]:
        """(bytes of all stored versions, number of stored versions that are not markers)."""
        with self._lock:
            used_bytes, objects = self._db.execute(
                "SELECT bytes, objects FROM usage WHERE id = 0"
            ).fetchone()
        return int(used_bytes), int(objects)

    def is_empty(self) -> bool:
        """No versions (delete markers included) and no multipart uploads in progress."""
        with self._lock:
            (busy,) = self._db.execute(
                "SELECT EXISTS (SELECT 1 FROM versions) OR EXISTS (SELECT 1 FROM uploads)"
            ).fetchone()
        return not busy

    # --- tags -------------------------------------------------------------------------------

    def set_tags(self, key: str, version_id: str | None, tags: Mapping[str, str]) -> bool:
        """Replace the tag set of a version (the latest when None); False if there is none."""
        document = json.dumps(dict(tags)) if tags else None
        with self._transaction() as db:
            target = self._locate(db, key, version_id)
            if target is None:
                return False
            db.execute(
                "UPDATE versions SET tags = ? WHERE key = ? AND seq = ?", (document, *target)
            )
        return True

    def get_tags(self, key: str, version_id: str | None = None) -> dict[str, str] | None:
        """The version's tags ({} when it has none), or None when the version does not exist."""
        with self._transaction("DEFERRED") as db:
            target = self._locate(db, key, version_id)
            if target is None:
                return None
            (document,) = db.execute(
                "SELECT tags FROM versions WHERE key = ? AND seq = ?", target
            ).fetchone()
        return dict(json.loads(document)) if document else {}

    def delete_tags(self, key: str, version_id: str | None = None) -> bool:
        return self.set_tags(key, version_id, {})

    def set_acl(self, key: str, version_id: str | None, acl: str) -> bool:
        """Replace the canned ACL of a version (the latest when None); False if there is none."""
        with self._transaction() as db:
            target = self._locate(db, key, version_id)
            if target is None:
                return False
            db.execute("UPDATE versions SET acl = ? WHERE key = ? AND seq = ?", (acl, *target))
        return True

    @staticmethod
    def _locate(db: sqlite3.Connection, key: str, version_id: str | None) -> tuple[str, int] | None:
        if version_id is None:
            row = db.execute(sql.SELECT_LATEST, (key,)).fetchone()
        else:
            row = db.execute(sql.SELECT_BY_ID, (key, version_id)).fetchone()
        return None if row is None else (key, int(row[-1]))

    # --- multipart uploads ------------------------------------------------------------------

    def create_upload(
        self, upload_id: str, key: str, initiated: float, meta: Mapping[str, str]
    ) -> Upload:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO uploads (upload_id, key, initiated, meta) VALUES (?, ?, ?, ?)",
                (upload_id, key, initiated, json.dumps(dict(meta))),
            )
        return Upload(upload_id, key, initiated, dict(meta))

    def get_upload(self, upload_id: str) -> Upload | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {sql.UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?", (upload_id,)
            ).fetchone()
        return _upload(row) if row else None

    def list_uploads(
        self,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadPage:
        """ListMultipartUploads: by key, then by creation time; markers as ``list_versions``."""
        if max_uploads <= 0:
            return UploadPage([], [], False, None, None)
        upper = prefix_successor(prefix)

        def fetch(position: Position, limit: int) -> Iterable[Row]:
            bounds = (position.key, position.ordinal, *(() if upper is None else (upper,)))
            return self._db.execute(sql.LIST_UPLOADS[upper is not None], (*bounds, limit))

        with self._transaction("DEFERRED") as db:
            start = start_position(prefix, key_marker)
            if key_marker and upload_id_marker and key_marker >= prefix:
                row = db.execute(
                    "SELECT seq FROM uploads WHERE upload_id = ? AND key = ?",
                    (upload_id_marker, key_marker),
                ).fetchone()
                if row is not None:
                    start = Position(key_marker, row[0])
            result = walk(
                fetch,
                lambda row: str(row[1]),
                lambda row: Position(row[1], row[-1]),
                prefix=prefix,
                delimiter=delimiter,
                start=start,
                marker=key_marker,
                limit=max_uploads,
            )
        rows, prefixes = _split(result.items)
        uploads = [_upload(r) for r in rows]
        if not result.is_truncated:
            return UploadPage(uploads, prefixes, False, None, None)
        last = result.items[-1]
        if isinstance(last, CommonPrefix):
            return UploadPage(uploads, prefixes, True, last.prefix, None)
        return UploadPage(uploads, prefixes, True, str(last[1]), str(last[0]))

    def put_part(  # noqa: PLR0917 - the gateway's positional call shape
        self,
        upload_id: str,
        part_number: int,
        etag: str,
        size: int,
        blob: str,
        last_modified: float,
    ) -> Part | None:
        """Record a part; returns the part it replaced (its blob is the caller's to delete)."""
        with self._transaction() as db:
            if (
                db.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
                is None
            ):
                raise NoSuchUpload(UploadId=upload_id)
            previous = db.execute(
                f"SELECT {sql.PART_COLUMNS} FROM parts WHERE upload_id = ? AND part_number = ?",
                (upload_id, part_number),
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO parts VALUES (?, ?, ?, ?, ?, ?)",
                (upload_id, part_number, etag, size, blob, last_modified),
            )
        return _part(previous) if previous else None

    def list_parts(
        self, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> tuple[list[Part], bool, int | None]:
        """(parts after the marker, is_truncated, next part number marker when truncated)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {sql.PART_COLUMNS} FROM parts WHERE upload_id = ? AND part_number > ?"
                " ORDER BY part_number LIMIT ?",
                (upload_id, part_number_marker, max(max_parts, 0) + 1),
            ).fetchall()
        parts = [_part(r) for r in rows[: max(max_parts, 0)]]
        truncated = len(rows) > max_parts
        return parts, truncated, (parts[-1].part_number if truncated and parts else None)

    def get_parts(self, upload_id: str) -> dict[int, Part]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {sql.PART_COLUMNS} FROM parts WHERE upload_id = ? ORDER BY part_number",
                (upload_id,),
            ).fetchall()
        return {row[0]: _part(row) for row in rows}

    def delete_upload(self, upload_id: str) -> list[Part]:
        """Forget an upload (completed or aborted); returns its parts, whose blobs the caller
        deletes or keeps (a completed object's manifest points at them).

        An upload that is already gone returns [] (a janitor racing an abort is not an error);
        callers answering NoSuchUpload check ``get_upload`` first.
        """
        with self._transaction() as db:
            db.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            rows = db.execute(
                f"SELECT {sql.PART_COLUMNS} FROM parts WHERE upload_id = ? ORDER BY part_number",
                (upload_id,),
            ).fetchall()
            db.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
        return [_part(r) for r in rows]

    def uploads_initiated_before(self, t: float) -> list[Upload]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {sql.UPLOAD_COLUMNS} FROM uploads WHERE initiated < ? ORDER BY initiated",
                (t,),
            ).fetchall()
        return [_upload(r) for r in rows]


def _marker_of(item: Row | CommonPrefix) -> str:
    return item.prefix if isinstance(item, CommonPrefix) else str(item[0])
