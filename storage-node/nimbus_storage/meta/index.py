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
* ``versions`` is a WITHOUT ROWID table keyed on ``(key, seq)``, ``seq`` being minus the
  version's creation stamp, so rows are clustered in listing order: a page is a contiguous
  B-tree range read with no per-row lookup, and a key's latest version is its first row.
* Rows are mergeable facts (``rows``, ``replicated_db``): a deleted version stays as a deletion
  row until reclaimed, and ``is_latest`` and the usage counters are derived on every merge, so
  replicas of an index on several storage nodes converge whatever order rows reach them in.
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

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeVar

from nimbus_storage.meta import index_schema as sql
from nimbus_storage.meta import rows
from nimbus_storage.meta.api import (
    VERSIONING_STATES,
    ListPage,
    LockDecision,
    ObjectVersion,
    Part,
    Upload,
    UploadPage,
    VersionCheck,
)
from nimbus_storage.meta.errors import NoUpload
from nimbus_storage.meta.listing import (
    MAX_ORDINAL,
    CommonPrefix,
    Position,
    prefix_successor,
    start_position,
    walk,
)
from nimbus_storage.meta.replicated_db import PRAGMAS, ReplicatedDB, RowBatch
from nimbus_storage.meta.rows import PartRow, Row, UploadRow, VersionRow

__all__ = ["BucketIndex", "ListPage", "Part", "RowBatch", "Upload", "UploadPage"]

_R = TypeVar("_R")


class ListedRow(NamedTuple):
    """A version row as listings and point reads select it (``sql.LISTED_VERSION``): the row,
    then what the index derives from it."""

    version: VersionRow
    is_latest: int
    seq: int  # -created: orders the rows of a key newest first (the walk's ordinal)

    @classmethod
    def of(cls, found: Sequence[Any]) -> ListedRow:
        *columns, is_latest, seq = found
        return cls(VersionRow(*columns), is_latest, seq)


def _listed(row: ListedRow) -> ObjectVersion:
    return rows.version_of(row.version, is_latest=bool(row.is_latest))


def _split(items: list[_R | CommonPrefix]) -> tuple[list[_R], list[str]]:
    found = [i for i in items if not isinstance(i, CommonPrefix)]
    prefixes = [i.prefix for i in items if isinstance(i, CommonPrefix)]
    return found, prefixes


def _upgrade(db: sqlite3.Connection, path: Path) -> None:
    """Create a new index, or bring an index written by an older Nimbus up to date."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    (has_versions,) = db.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'versions'"
    ).fetchone()
    if version > sql.SCHEMA_VERSION:
        raise RuntimeError(f"{path} was written by a newer Nimbus (schema {version})")
    if has_versions and version < sql.SCHEMA_VERSION:
        sql.upgrade(db, max(version, 1))
    sql.create(db)
    db.execute(f"PRAGMA user_version = {sql.SCHEMA_VERSION}")


def _usage_of(row: Row | None) -> tuple[int, int]:
    """What a row adds to the usage counters: (bytes, objects) of a live version."""
    if not isinstance(row, VersionRow) or not rows.is_live(row):
        return 0, 0
    return int(row.size), 0 if row.delete_marker else 1


class BucketIndex(ReplicatedDB):
    ROW_TYPES: ClassVar[Mapping[str, type[Row]]] = rows.INDEX_ROWS
    ROW_COLUMNS: ClassVar[Mapping[str, str]] = {
        "uploads": sql.UPLOAD_ROW,
        "parts": sql.PART_ROW,
        "versions": sql.VERSION_ROW,
    }
    IDENTITY: ClassVar[Mapping[str, tuple[str, ...]]] = rows.INDEX_IDENTITY

    def __init__(self, path: Path) -> None:
        self._touched: set[str] = set()
        super().__init__(path, (*PRAGMAS, "PRAGMA cache_size = -16000"))  # 16 MB page cache

    def _create(self, db: sqlite3.Connection) -> None:
        _upgrade(db, self.path)

    def _insert(self, db: sqlite3.Connection, table: str, row: Row, change: int) -> None:
        if table != "versions":
            super()._insert(db, table, row, change)
            return
        db.execute(
            f"INSERT INTO versions ({sql.VERSION_ROW}, seq, is_latest, change)"
            f" VALUES ({', '.join('?' * 19)})",
            (*row, -int(row.created), 0, change),
        )

    def _stored(self, db: sqlite3.Connection, table: str, row: Row, existing: Row | None) -> None:
        if not isinstance(row, VersionRow):
            return
        (old_bytes, old_objects), (new_bytes, new_objects) = _usage_of(existing), _usage_of(row)
        if (old_bytes, old_objects) != (new_bytes, new_objects):
            db.execute(sql.ADD_USAGE, (new_bytes - old_bytes, new_objects - old_objects))
        self._touched.add(row.key)

    def _merged(self, db: sqlite3.Connection) -> None:
        for key in self._touched:
            db.execute(sql.DEMOTE_LATEST, (key,))
            db.execute(sql.PROMOTE_NEWEST, (key,))
        self._touched.clear()

    def key_rows(self, key: str) -> list[VersionRow]:
        """Every row of ``key``, deletions included: what a gateway merges across replicas."""
        with self._lock:
            found = self._db.execute(
                f"SELECT {sql.VERSION_ROW} FROM versions WHERE key = ? ORDER BY seq", (key,)
            ).fetchall()
        return rows.rows_of(VersionRow, found)

    def upload_rows(self, upload_id: str) -> tuple[UploadRow | None, list[PartRow]]:
        """The upload's row and its part rows, deletions included."""
        with self._lock:
            return self._upload_rows(self._db, upload_id)

    @staticmethod
    def _upload_rows(
        db: sqlite3.Connection, upload_id: str
    ) -> tuple[UploadRow | None, list[PartRow]]:
        upload = db.execute(
            f"SELECT {sql.UPLOAD_ROW} FROM uploads WHERE upload_id = ?", (upload_id,)
        ).fetchone()
        parts = db.execute(
            f"SELECT {sql.PART_ROW} FROM parts WHERE upload_id = ? ORDER BY part_number",
            (upload_id,),
        ).fetchall()
        return (None if upload is None else UploadRow(*upload)), rows.rows_of(PartRow, parts)

    # --- versions ---------------------------------------------------------------------------

    def put_version(
        self, v: ObjectVersion, versioning: str, *, tags: Mapping[str, str] | None = None
    ) -> list[ObjectVersion]:
        """Make ``v`` the latest version of its key; return the versions it replaced.

        Unversioned (``""``) and suspended buckets write the ``null`` version (the gateway
        names it so), replacing an existing one, whose blob is the caller's to delete. Enabled
        buckets replace nothing (a retried write with an existing version id replaces that row).
        ``v.created`` 0 stamps the write now, after every earlier version of the key.
        """
        if versioning not in VERSIONING_STATES:
            raise ValueError(f"unknown versioning state {versioning!r}")
        with self._transaction() as db:
            created = v.created
            if not created:
                (newest,) = db.execute(sql.NEWEST_CREATED, (v.key,)).fetchone()
                created = max(rows.now_ns(), (newest or 0) + 1)
            row = rows.version_row(v, created, v.updated or created, tags=tags)
            garbage = self._merge(db, {"versions": [row]}).get("versions", [])
        return [rows.version_of(r, is_latest=False) for r in rows.rows_of(VersionRow, garbage)]

    def get(self, key: str, version_id: str | None = None) -> ObjectVersion | None:
        """That version, or the latest (maybe a delete marker) when ``version_id`` is None."""
        row = self._live_row(key, version_id)
        return None if row is None else _listed(row)

    def _live_row(self, key: str, version_id: str | None) -> ListedRow | None:
        with self._lock:
            if version_id is None:
                found = self._db.execute(sql.SELECT_LATEST, (key,)).fetchone()
            else:
                found = self._db.execute(sql.SELECT_BY_ID, (key, version_id)).fetchone()
        if found is None:
            return None
        listed = ListedRow.of(found)
        return listed if rows.is_live(listed.version) else None

    def delete_version(
        self, key: str, version_id: str, *, check: VersionCheck | None = None
    ) -> ObjectVersion | None:
        """Remove one version; the newest remaining one becomes latest. Returns the removed row.

        ``check`` sees the version first, in the same transaction, and may refuse by raising
        (a version Object Lock protects)."""
        with self._transaction():
            row = self._live_row(key, version_id)
            if row is None:
                return None
            if check is not None:
                check(_listed(row))
            self._merge(self._db, {"versions": [rows.tombstone(row.version)]})
        return _listed(row)

    def bulk_load(self, versions: Iterable[ObjectVersion]) -> int:
        """Insert many *new* keys, one null version each, in one transaction (loaders, benches).

        Skips the per-write checks of ``put_version``: every key must be absent from the index.
        """
        loaded = 0
        total = 0
        stamp = rows.now_ns()
        with self._transaction() as db:
            (change,) = db.execute("SELECT last FROM changes WHERE id = 0").fetchone()

            def table_rows() -> Iterator[tuple[object, ...]]:
                nonlocal loaded, total
                for v in versions:
                    loaded += 1
                    total += v.size
                    yield (*rows.version_row(v, stamp), -stamp, 1, change + loaded)

            db.executemany(
                f"INSERT INTO versions ({sql.VERSION_ROW}, seq, is_latest, change)"
                f" VALUES ({', '.join('?' * 19)})",
                table_rows(),
            )
            db.execute(sql.ADD_USAGE, (total, loaded))
            db.execute("UPDATE changes SET last = ? WHERE id = 0", (change + loaded,))
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

        def fetch(position: Position, limit: int) -> Iterable[ListedRow]:
            # One version per key here, so "after (key, ordinal)" is "after key" or "from key".
            op = ">" if position.ordinal == MAX_ORDINAL else ">="
            bounds = (position.key, upper) if upper is not None else (position.key,)
            cursor = self._db.execute(sql.LIST_LATEST[op, upper is not None], (*bounds, limit))
            return map(ListedRow.of, cursor)

        with self._transaction("DEFERRED"):
            result = walk(
                fetch,
                lambda row: row.version.key,
                lambda row: Position.after_key(row.version.key),
                prefix=prefix,
                delimiter=delimiter,
                start=start_position(prefix, start_after),
                marker=start_after,
                limit=max_keys,
            )
        found, prefixes = _split(result.items)
        last = result.items[-1] if result.is_truncated else None
        next_marker = None if last is None else _marker_of(last)
        return ListPage([_listed(r) for r in found], prefixes, result.is_truncated, next_marker)

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

        def fetch(position: Position, limit: int) -> Iterable[ListedRow]:
            bounds = (position.key, position.ordinal, *(() if upper is None else (upper,)))
            cursor = self._db.execute(sql.LIST_VERSIONS[upper is not None], (*bounds, limit))
            return map(ListedRow.of, cursor)

        with self._transaction("DEFERRED") as db:
            start = start_position(prefix, key_marker)
            if key_marker and version_id_marker and key_marker >= prefix:
                found = db.execute(sql.SELECT_BY_ID, (key_marker, version_id_marker)).fetchone()
                if found is not None:
                    start = Position(key_marker, ListedRow.of(found).seq)
            result = walk(
                fetch,
                lambda row: row.version.key,
                lambda row: Position(row.version.key, row.seq),
                prefix=prefix,
                delimiter=delimiter,
                start=start,
                marker=key_marker,
                limit=max_keys,
            )
        found, prefixes = _split(result.items)
        page = ListPage([_listed(r) for r in found], prefixes, result.is_truncated, None)
        if not result.is_truncated:
            return page
        last = result.items[-1]
        version_marker = None if isinstance(last, CommonPrefix) else last.version.version_id
        return ListPage(page.entries, prefixes, True, _marker_of(last), version_marker)

    # --- usage ------------------------------------------------------------------------------

    def usage(self) -> tuple[int, int]:
        """(bytes of all stored versions, number of stored versions that are not markers)."""
        with self._lock:
            used_bytes, objects = self._db.execute(
                "SELECT bytes, objects FROM usage WHERE id = 0"
            ).fetchone()
        return int(used_bytes), int(objects)

    def has_versions(self) -> bool:
        """Whether any version or delete marker is stored (multipart uploads aside)."""
        with self._lock:
            (found,) = self._db.execute(
                "SELECT EXISTS (SELECT 1 FROM versions WHERE deleted = 0)"
            ).fetchone()
        return bool(found)

    def is_empty(self) -> bool:
        """No versions (delete markers included) and no multipart uploads in progress."""
        with self._lock:
            (busy,) = self._db.execute(
                "SELECT EXISTS (SELECT 1 FROM versions WHERE deleted = 0)"
                " OR EXISTS (SELECT 1 FROM uploads WHERE deleted = 0)"
            ).fetchone()
        return not busy

    # --- tags and ACLs ----------------------------------------------------------------------

    def set_tags(self, key: str, version_id: str | None, tags: Mapping[str, str]) -> bool:
        """Replace the tag set of a version (the latest when None); False if there is none."""
        with self._transaction() as db:
            row = self._live_row(key, version_id)
            if row is None:
                return False
            self._merge(db, {"versions": [rows.with_tags(row.version, tags)]})
        return True

    def get_tags(self, key: str, version_id: str | None = None) -> dict[str, str] | None:
        """The version's tags ({} when it has none), or None when the version does not exist."""
        row = self._live_row(key, version_id)
        return None if row is None else rows.tags_of(row.version)

    def delete_tags(self, key: str, version_id: str | None = None) -> bool:
        return self.set_tags(key, version_id, {})

    def set_acl(self, key: str, version_id: str | None, acl: str) -> bool:
        """Replace the canned ACL of a version (the latest when None); False if there is none."""
        with self._transaction() as db:
            row = self._live_row(key, version_id)
            if row is None:
                return False
            self._merge(db, {"versions": [rows.with_acl(row.version, acl)]})
        return True

    def set_lock(
        self, key: str, version_id: str | None, decide: LockDecision
    ) -> ObjectVersion | None:
        """Give a version (the latest when None) the Object Lock ``decide`` makes of it, in one
        transaction (``decide`` may refuse by raising); the version as changed, or None when
        there is no such version."""
        with self._transaction() as db:
            row = self._live_row(key, version_id)
            if row is None:
                return None
            changed = rows.with_lock(row.version, decide(_listed(row)))
            self._merge(db, {"versions": [changed]})
        return rows.version_of(changed, is_latest=bool(row.is_latest))

    # --- multipart uploads ------------------------------------------------------------------

    def create_upload(
        self, upload_id: str, key: str, initiated: float, meta: Mapping[str, str]
    ) -> Upload:
        upload = Upload(upload_id, key, initiated, dict(meta))
        self.merge({"uploads": [rows.upload_row(upload, rows.now_ns())]})
        return upload

    def get_upload(self, upload_id: str) -> Upload | None:
        found, _parts = self.upload_rows(upload_id)
        return rows.upload_of(found) if found is not None and rows.is_live(found) else None

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

        def fetch(position: Position, limit: int) -> Iterable[UploadRow]:
            bounds = (position.key, position.ordinal, *(() if upper is None else (upper,)))
            cursor = self._db.execute(sql.LIST_UPLOADS[upper is not None], (*bounds, limit))
            return map(UploadRow._make, cursor)

        with self._transaction("DEFERRED") as db:
            start = start_position(prefix, key_marker)
            if key_marker and upload_id_marker and key_marker >= prefix:
                marker_row = db.execute(
                    "SELECT created FROM uploads WHERE upload_id = ? AND key = ?",
                    (upload_id_marker, key_marker),
                ).fetchone()
                if marker_row is not None:
                    start = Position(key_marker, marker_row[0])
            result = walk(
                fetch,
                lambda row: row.key,
                lambda row: Position(row.key, row.created),
                prefix=prefix,
                delimiter=delimiter,
                start=start,
                marker=key_marker,
                limit=max_uploads,
            )
        found, prefixes = _split(result.items)
        uploads = [rows.upload_of(r) for r in found]
        if not result.is_truncated:
            return UploadPage(uploads, prefixes, False, None, None)
        last = result.items[-1]
        if isinstance(last, CommonPrefix):
            return UploadPage(uploads, prefixes, True, last.prefix, None)
        return UploadPage(uploads, prefixes, True, last.key, last.upload_id)

    def put_part(  # noqa: PLR0917 - the gateway's positional call shape
        self,
        upload_id: str,
        part_number: int,
        etag: str,
        size: int,
        blob: str,
        last_modified: float,
        checksum: str = "",
    ) -> Part | None:
        """Record a part; returns the part it replaced (its blob is the caller's to delete)."""
        part = Part(part_number, etag, size, blob, last_modified, checksum)
        with self._transaction() as db:
            upload, _parts = self._upload_rows(db, upload_id)
            if not rows.is_live(upload):
                raise NoUpload(upload_id)
            garbage = self._merge(db, {"parts": [rows.part_row(upload_id, part, rows.now_ns())]})
        replaced = [
            rows.part_of(r)
            for r in rows.rows_of(PartRow, garbage.get("parts", []))
            if r.blob != blob
        ]
        return replaced[0] if replaced else None

    def list_parts(
        self, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> tuple[list[Part], bool, int | None]:
        """(parts after the marker, is_truncated, next part number marker when truncated)."""
        with self._lock:
            found = self._db.execute(
                f"SELECT {sql.PART_ROW} FROM parts WHERE upload_id = ? AND part_number > ?"
                " AND deleted = 0 ORDER BY part_number LIMIT ?",
                (upload_id, part_number_marker, max(max_parts, 0) + 1),
            ).fetchall()
        parts = [rows.part_of(r) for r in rows.rows_of(PartRow, found[: max(max_parts, 0)])]
        truncated = len(found) > max_parts
        return parts, truncated, (parts[-1].part_number if truncated and parts else None)

    def get_parts(self, upload_id: str) -> dict[int, Part]:
        _upload, found = self.upload_rows(upload_id)
        return {r.part_number: rows.part_of(r) for r in found if rows.is_live(r)}

    def delete_upload(self, upload_id: str) -> list[Part]:
        """Forget an upload (completed or aborted); returns its parts, whose blobs the caller
        deletes or keeps (a completed object's manifest points at them).

        An upload that is already gone returns [] (a janitor racing an abort is not an error);
        callers answering NoUpload check ``get_upload`` first.
        """
        with self._transaction() as db:
            upload, found = self._upload_rows(db, upload_id)
            live = [r for r in found if rows.is_live(r)]
            if upload is None or not rows.is_live(upload):
                return []
            batch: RowBatch = {
                "uploads": [rows.tombstone(upload)],
                "parts": [rows.tombstone(r) for r in live],
            }
            self._merge(db, batch)
        return [rows.part_of(r) for r in live]

    def claim_upload(
        self, upload_id: str, expected: Iterable[tuple[int, str]]
    ) -> tuple[str, list[PartRow]]:
        """Delete the upload for its completion if its parts are still ``expected``
        (``[part number, blob]`` pairs), as one transaction.

        ("claimed", the live part rows), ("changed", []) when a listed part was uploaded again
        meanwhile, or ("missing", []) when the upload is gone (completed or aborted).
        """
        with self._transaction() as db:
            upload, found = self._upload_rows(db, upload_id)
            if upload is None or not rows.is_live(upload):
                return "missing", []
            live = {r.part_number: r for r in found if rows.is_live(r)}
            for number, blob in expected:
                if number not in live or live[number].blob != blob:
                    return "changed", []
            batch: RowBatch = {
                "uploads": [rows.tombstone(upload)],
                "parts": [rows.tombstone(r) for r in live.values()],
            }
            self._merge(db, batch)
        return "claimed", list(live.values())

    def uploads_initiated_before(self, t: float) -> list[Upload]:
        with self._lock:
            found = self._db.execute(
                f"SELECT {sql.UPLOAD_ROW} FROM uploads WHERE initiated < ? AND deleted = 0"
                " ORDER BY initiated",
                (t,),
            ).fetchall()
        return [rows.upload_of(r) for r in rows.rows_of(UploadRow, found)]


def _marker_of(item: ListedRow | CommonPrefix) -> str:
    return item.prefix if isinstance(item, CommonPrefix) else item.version.key
