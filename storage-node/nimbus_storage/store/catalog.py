"""The catalog: buckets, their configuration documents, credentials (Swift's account database).

One SQLite file, ``<root>/catalog.sqlite`` (WAL, ``synchronous=NORMAL``, as the bucket indexes),
plus one index per bucket in ``<root>/buckets/<name>.sqlite``, opened on first use and kept open.
Configuration documents (policy, CORS, lifecycle, tagging, website, ...) are stored verbatim by
kind; parsing them is the gateway's business.

Credentials with no grants are users: they own the buckets they create. Credentials with grants
are application credentials, limited to the listed buckets with RO, RW or WO permission each.
Deleting a bucket drops the grants naming it, so a bucket re-created later under the same name
does not inherit them.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nimbus_storage.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    EntityAlreadyExists,
    IllegalVersioningConfiguration,
    InvalidArgument,
    InvalidBucketName,
    NoSuchBucket,
)
from nimbus_storage.store.api import GRANT_PERMISSIONS, Bucket, Credential
from nimbus_storage.store.index import BucketIndex

__all__ = ["Bucket", "Catalog", "Credential"]

# PRAGMA user_version of the catalog; raise it with a migration when the tables change.
# Version 1 had no per-bucket storage policy.
CATALOG_SCHEMA_VERSION = 2
# What turns a catalog of version N-1 into version N.
MIGRATIONS = {
    2: "ALTER TABLE buckets ADD COLUMN storage_policy TEXT NOT NULL DEFAULT ''",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name          TEXT    PRIMARY KEY,
    owner         TEXT    NOT NULL,
    created       REAL    NOT NULL,
    versioning    TEXT    NOT NULL,
    quota_bytes   INTEGER,
    quota_objects INTEGER,
    acl           TEXT    NOT NULL,
    region        TEXT    NOT NULL,
    storage_policy TEXT   NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS buckets_by_owner ON buckets (owner, name);
CREATE TABLE IF NOT EXISTS bucket_configs (
    bucket TEXT NOT NULL,
    kind   TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (bucket, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credentials (
    access_key  TEXT    PRIMARY KEY,
    secret_key  TEXT    NOT NULL,
    is_admin    INTEGER NOT NULL,
    description TEXT    NOT NULL,
    created     REAL    NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS grants (
    access_key TEXT NOT NULL,
    bucket     TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (access_key, bucket)
) WITHOUT ROWID;
"""
_BUCKET_COLUMNS = (
    "name, owner, created, versioning, quota_bytes, quota_objects, acl, region, storage_policy"
)
_CREDENTIAL_COLUMNS = "access_key, secret_key, is_admin, description, created"
# Safe as a file name; the S3 naming rules themselves are checked by the gateway.
_FILE_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


def _upgrade(db: sqlite3.Connection, root: Path) -> None:
    """Create a new catalog, or bring a catalog written by an older Nimbus up to date."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > CATALOG_SCHEMA_VERSION:
        raise RuntimeError(f"{root} was written by a newer Nimbus (schema {version})")
    (has_buckets,) = db.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'buckets'"
    ).fetchone()
    if has_buckets:
        for step in range(max(version, 1) + 1, CATALOG_SCHEMA_VERSION + 1):
            db.execute(MIGRATIONS[step])
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {CATALOG_SCHEMA_VERSION}")


class Catalog:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.indexes_dir = self.root / "buckets"
        self.indexes_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._indexes: dict[str, BucketIndex] = {}
        self._db = sqlite3.connect(
            self.root / "catalog.sqlite", isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA busy_timeout = 5000")
        try:
            with self._transaction() as db:
                _upgrade(db, self.root)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            for index in self._indexes.values():
                index.close()
            self._indexes.clear()
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- buckets ----------------------------------------------------------------------------

    def create_bucket(
        self,
        name: str,
        owner: str,
        *,
        region: str = "",
        acl: str = "private",
        storage_policy: str = "",
    ) -> Bucket:
        """A new bucket; its storage policy ("" = the gateway's default) never changes."""
        if not _FILE_SAFE_NAME.fullmatch(name):
            raise InvalidBucketName(BucketName=name)
        bucket = Bucket(name, owner, time.time(), "", None, None, acl, region, storage_policy)
        with self._transaction() as db:
            existing = db.execute("SELECT owner FROM buckets WHERE name = ?", (name,)).fetchone()
            if existing is not None:
                if existing[0] == owner:
                    raise BucketAlreadyOwnedByYou(BucketName=name)
                raise BucketAlreadyExists(BucketName=name)
            # A crash during an earlier delete may have left the old index behind.
            self._remove_index_files(name)
            db.execute(
                f"INSERT INTO buckets ({_BUCKET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, owner, bucket.created, "", None, None, acl, region, storage_policy),
            )
        return bucket

    def get_bucket(self, name: str) -> Bucket | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_BUCKET_COLUMNS} FROM buckets WHERE name = ?", (name,)
            ).fetchone()
        return Bucket(*row) if row else None

    def list_buckets(self, owner: str | None = None) -> list[Bucket]:
        """Buckets by name; only ``owner``'s when given."""
        query = f"SELECT {_BUCKET_COLUMNS} FROM buckets"
        with self._lock:
            if owner is None:
                rows = self._db.execute(f"{query} ORDER BY name").fetchall()
            else:
                rows = self._db.execute(
                    f"{query} WHERE owner = ? ORDER BY name", (owner,)
                ).fetchall()
        return [Bucket(*row) for row in rows]

    def delete_bucket(self, name: str) -> None:
        """BucketNotEmpty while it holds any version, delete marker or multipart upload."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
                raise NoSuchBucket(BucketName=name)
            if not self.index(name).is_empty():
                raise BucketNotEmpty(BucketName=name)
            db.execute("DELETE FROM buckets WHERE name = ?", (name,))
            db.execute("DELETE FROM bucket_configs WHERE bucket = ?", (name,))
            db.execute("DELETE FROM grants WHERE bucket = ?", (name,))
            index = self._indexes.pop(name, None)
            if index is not None:
                index.close()
            self._remove_index_files(name)

    def set_versioning(self, name: str, status: str) -> None:
        if status not in ("Enabled", "Suspended"):
            raise IllegalVersioningConfiguration()
        self._update_bucket(name, "versioning = ?", status)

    def set_quota(self, name: str, max_bytes: int | None, max_objects: int | None) -> None:
        """Quotas in bytes and objects; None lifts one."""
        self._update_bucket(name, "quota_bytes = ?, quota_objects = ?", max_bytes, max_objects)

    def set_acl(self, name: str, acl: str) -> None:
        self._update_bucket(name, "acl = ?", acl)

    def _update_bucket(self, name: str, assignments: str, *values: Any) -> None:
        with self._transaction() as db:
            updated = db.execute(
                f"UPDATE buckets SET {assignments} WHERE name = ?", (*values, name)
            )
            if updated.rowcount == 0:
                raise NoSuchBucket(BucketName=name)

    def get_config(self, name: str, kind: str) -> str | None:
        """The bucket's ``kind`` document ("policy", "cors", "lifecycle", ...), None if unset."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM bucket_configs WHERE bucket = ? AND kind = ?", (name, kind)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_config(self, name: str, kind: str, value: str | None) -> None:
        """Store (or with None remove) a configuration document. NoSuchBucket if absent."""
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
                raise NoSuchBucket(BucketName=name)
            if value is None:
                db.execute("DELETE FROM bucket_configs WHERE bucket = ? AND kind = ?", (name, kind))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO bucket_configs VALUES (?, ?, ?)", (name, kind, value)
                )

    def index(self, name: str) -> BucketIndex:
        """The bucket's listing index, opened once and cached. NoSuchBucket if absent."""
        with self._lock:
            index = self._indexes.get(name)
            if index is None:
                if self.get_bucket(name) is None:
                    raise NoSuchBucket(BucketName=name)
                index = BucketIndex(self._index_path(name))
                self._indexes[name] = index
            return index

    def _index_path(self, name: str) -> Path:
        return self.indexes_dir / f"{name}.sqlite"

    def _remove_index_files(self, name: str) -> None:
        path = self._index_path(name)
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    # --- credentials ------------------------------------------------------------------------

    def create_credential(
        self,
        access_key: str,
        secret_key: str,
        *,
        is_admin: bool = False,
        description: str = "",
        grants: Mapping[str, str] | None = None,
    ) -> Credential:
        """A user (no grants) or an app credential limited to ``grants`` {bucket: RO|RW|WO}."""
        grants = dict(grants or {})
        for bucket, permission in grants.items():
            if permission not in GRANT_PERMISSIONS:
                raise InvalidArgument(f"Permission {permission!r} on {bucket!r} is not RO/RW/WO")
        credential = Credential(access_key, secret_key, is_admin, description, time.time(), grants)
        with self._transaction() as db:
            try:
                db.execute(
                    f"INSERT INTO credentials ({_CREDENTIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    (access_key, secret_key, int(is_admin), description, credential.created),
                )
            except sqlite3.IntegrityError:
                raise EntityAlreadyExists(f"Access key {access_key!r} already exists") from None
            db.executemany(
                "INSERT INTO grants VALUES (?, ?, ?)",
                [(access_key, bucket, permission) for bucket, permission in grants.items()],
            )
        return credential

    def get_credential(self, access_key: str) -> Credential | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_CREDENTIAL_COLUMNS} FROM credentials WHERE access_key = ?",
                (access_key,),
            ).fetchone()
            if row is None:
                return None
            grants = self._db.execute(
                "SELECT bucket, permission FROM grants WHERE access_key = ?", (access_key,)
            ).fetchall()
        return _credential(row, dict(grants))

    def list_credentials(self) -> list[Credential]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_CREDENTIAL_COLUMNS} FROM credentials ORDER BY access_key"
            ).fetchall()
            grants: dict[str, dict[str, str]] = {}
            for key, bucket, permission in self._db.execute("SELECT * FROM grants"):
                grants.setdefault(key, {})[bucket] = permission
        return [_credential(row, grants.get(row[0], {})) for row in rows]

    def delete_credential(self, access_key: str) -> bool:
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM credentials WHERE access_key = ?", (access_key,))
            db.execute("DELETE FROM grants WHERE access_key = ?", (access_key,))
        return deleted.rowcount > 0


def _credential(row: tuple[Any, ...], grants: dict[str, str]) -> Credential:
    access_key, secret_key, is_admin, description, created = row
    return Credential(access_key, secret_key, bool(is_admin), description, created, grants)
