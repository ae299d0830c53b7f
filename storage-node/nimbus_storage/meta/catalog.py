"""The catalog: buckets, their configuration documents, credentials (Swift's account database).

``CatalogDB`` is one SQLite file of mergeable rows (``catalog_rows``), replicated on storage
nodes in cluster mode exactly as bucket indexes are. ``Catalog`` is the standalone arrangement:
``<root>/catalog.sqlite`` plus one index per bucket in ``<root>/buckets/<name>.sqlite``, opened
on first use and kept open.
Configuration documents (policy, CORS, lifecycle, tagging, website, ...) are stored verbatim by
kind; parsing them is the gateway's business.

Credentials with no grants are users: they own the buckets they create. Credentials with grants
are application credentials, limited to the listed buckets with RO, RW or WO permission each.
Deleting a bucket drops the grants naming it, so a bucket re-created later under the same name
does not inherit them.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from nimbus_storage.meta import catalog_rows as cr
from nimbus_storage.meta import rows
from nimbus_storage.meta.api import GRANT_PERMISSIONS, Bucket, Credential
from nimbus_storage.meta.errors import (
    BadBucketName,
    BadGrant,
    BadVersioningState,
    BucketExists,
    BucketNotEmpty,
    CredentialExists,
    NoBucket,
)
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.meta.replicated_db import ReplicatedDB, execute_script
from nimbus_storage.meta.rows import Row

__all__ = ["Bucket", "Catalog", "CatalogDB", "Credential"]

_R = TypeVar("_R", bound=Row)

# PRAGMA user_version of the catalog; raise it with a migration when the tables change.
# Version 1 had no per-bucket storage policy; version 2 had rows that could not be merged.
CATALOG_SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name           TEXT    NOT NULL,
    owner          TEXT    NOT NULL,
    created        INTEGER NOT NULL,  -- ns, identifies this incarnation of the name
    updated        INTEGER NOT NULL,
    deleted        INTEGER NOT NULL,
    created_at     REAL    NOT NULL,  -- seconds, as S3 shows it
    versioning     TEXT    NOT NULL,
    quota_bytes    INTEGER,
    quota_objects  INTEGER,
    acl            TEXT    NOT NULL,
    region         TEXT    NOT NULL,
    storage_policy TEXT    NOT NULL,
    change         INTEGER NOT NULL,
    PRIMARY KEY (name, created)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS buckets_by_change ON buckets (change);
CREATE TABLE IF NOT EXISTS configs (
    bucket  TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    value   TEXT    NOT NULL,
    change  INTEGER NOT NULL,
    PRIMARY KEY (bucket, kind)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS configs_by_change ON configs (change);
CREATE TABLE IF NOT EXISTS credentials (
    access_key  TEXT    PRIMARY KEY,
    secret_key  TEXT    NOT NULL,
    created     INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    deleted     INTEGER NOT NULL,
    is_admin    INTEGER NOT NULL,
    description TEXT    NOT NULL,
    created_at  REAL    NOT NULL,
    grants      TEXT    NOT NULL,  -- JSON object {bucket: RO|RW|WO}
    change      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS credentials_by_change ON credentials (change);
"""
# Safe as a file name; the S3 naming rules themselves are checked by the gateway.
FILE_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


def _rebuild_v3(db: sqlite3.Connection) -> None:
    """Version 2 -> 3: stamped rows, grants folded into their credential."""
    columns = {c[1] for c in db.execute("PRAGMA table_info(buckets)")}
    if "storage_policy" not in columns:  # a version 1 catalog
        db.execute("ALTER TABLE buckets ADD COLUMN storage_policy TEXT NOT NULL DEFAULT ''")
    existing = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table in ("buckets", "bucket_configs", "credentials", "grants"):
        if table in existing:
            db.execute(f"ALTER TABLE {table} RENAME TO old_{table}")
    db.execute("DROP INDEX IF EXISTS buckets_by_owner")
    execute_script(db, _SCHEMA)
    db.execute(
        "INSERT INTO buckets SELECT name, owner, CAST(created * 1e9 AS INTEGER),"
        " CAST(created * 1e9 AS INTEGER), 0, created, versioning, quota_bytes, quota_objects,"
        " acl, region, storage_policy, 1 FROM old_buckets"
    )
    if "bucket_configs" in existing:
        db.execute(
            "INSERT INTO configs SELECT bucket, kind, 1, 1, 0, value, 1 FROM old_bucket_configs"
        )
    if "credentials" in existing:
        grants: dict[str, dict[str, str]] = {}
        if "grants" in existing:
            for key, bucket, permission in db.execute("SELECT * FROM old_grants"):
                grants.setdefault(key, {})[bucket] = permission
        for key, secret, is_admin, description, created in db.execute(
            "SELECT access_key, secret_key, is_admin, description, created FROM old_credentials"
        ).fetchall():
            stamp = int(created * 1e9)
            db.execute(
                "INSERT INTO credentials VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, 1)",
                (key, secret, stamp, stamp, is_admin, description, created,
                 json.dumps(grants.get(key, {}), sort_keys=True)),
            )  # fmt: skip
    for table in existing & {"buckets", "bucket_configs", "credentials", "grants"}:
        db.execute(f"DROP TABLE old_{table}")


def _upgrade(db: sqlite3.Connection, path: Path) -> None:
    """Create a new catalog, or bring a catalog written by an older Nimbus up to date."""
    (version,) = db.execute("PRAGMA user_version").fetchone()
    if version > CATALOG_SCHEMA_VERSION:
        raise RuntimeError(f"{path} was written by a newer Nimbus (schema {version})")
    (has_buckets,) = db.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'buckets'"
    ).fetchone()
    if has_buckets and version < CATALOG_SCHEMA_VERSION:
        _rebuild_v3(db)
    execute_script(db, _SCHEMA)
    db.execute(f"PRAGMA user_version = {CATALOG_SCHEMA_VERSION}")


class CatalogDB(ReplicatedDB):
    """Buckets, configuration documents and credentials as mergeable rows."""

    ROW_TYPES: ClassVar[Mapping[str, type[Row]]] = cr.ROW_TYPES
    ROW_COLUMNS: ClassVar[Mapping[str, str]] = cr.ROW_COLUMNS
    IDENTITY: ClassVar[Mapping[str, tuple[str, ...]]] = cr.IDENTITY

    def _create(self, db: sqlite3.Connection) -> None:
        _upgrade(db, self.path)

    # --- raw rows, deletions included: what gateways merge across replicas ----------------

    def bucket_rows(self, name: str) -> list[cr.BucketRow]:
        return self._select(cr.BucketRow, "buckets", "name = ?", name)

    def config_rows(self, bucket: str) -> list[cr.ConfigRow]:
        return self._select(cr.ConfigRow, "configs", "bucket = ?", bucket)

    def credential_rows(self, access_key: str | None = None) -> list[cr.CredentialRow]:
        if access_key is None:
            return self._select(cr.CredentialRow, "credentials", "1")
        return self._select(cr.CredentialRow, "credentials", "access_key = ?", access_key)

    def all_bucket_rows(self) -> list[cr.BucketRow]:
        return self._select(cr.BucketRow, "buckets", "1")

    def _select(self, kind: type[_R], table: str, where: str, *args: Any) -> list[_R]:
        with self._lock:
            found = self._db.execute(
                f"SELECT {cr.ROW_COLUMNS[table]} FROM {table} WHERE {where}", args
            ).fetchall()
        return rows.rows_of(kind, found)

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
        if not FILE_SAFE_NAME.fullmatch(name):
            raise BadBucketName(name)
        bucket = Bucket(name, owner, time.time(), "", None, None, acl, region, storage_policy)
        with self._transaction() as db:
            existing = cr.live_bucket(self.bucket_rows(name))
            if existing is not None:
                raise BucketExists(name, owned_by_caller=existing.owner == owner)
            self._merge(db, {"buckets": [cr.bucket_row(bucket, rows.now_ns())]})
        return bucket

    def get_bucket(self, name: str) -> Bucket | None:
        live = cr.live_bucket(self.bucket_rows(name))
        return None if live is None else cr.bucket_of(live)

    def list_buckets(self, owner: str | None = None) -> list[Bucket]:
        """Buckets by name; only ``owner``'s when given."""
        by_name: dict[str, list[cr.BucketRow]] = {}
        for row in self.all_bucket_rows():
            by_name.setdefault(row.name, []).append(row)
        found = [cr.live_bucket(candidates) for _name, candidates in sorted(by_name.items())]
        buckets = [cr.bucket_of(row) for row in found if row is not None]
        return [b for b in buckets if owner is None or b.owner == owner]

    def drop_bucket(self, name: str) -> None:
        """Delete every incarnation of ``name``, its documents and the grants naming it.

        NoBucket when there is none; emptiness is the caller's to check first.
        """
        with self._transaction() as db:
            live = [r for r in self.bucket_rows(name) if rows.is_live(r)]
            if not live:
                raise NoBucket(name)
            configs = [r for r in self.config_rows(name) if rows.is_live(r)]
            holders = [
                r for r in self.credential_rows() if rows.is_live(r) and name in cr.grants_of(r)
            ]
            self._merge(
                db,
                {
                    "buckets": [rows.tombstone(r) for r in live],
                    "configs": [rows.tombstone(r) for r in configs],
                    "credentials": [cr.without_grant(r, name) for r in holders],
                },
            )

    def set_versioning(self, name: str, status: str) -> None:
        if status not in ("Enabled", "Suspended"):
            raise BadVersioningState(status)
        self._update_bucket(name, {"versioning": status})

    def set_quota(self, name: str, max_bytes: int | None, max_objects: int | None) -> None:
        """Quotas in bytes and objects; None lifts one."""
        self._update_bucket(name, {"quota_bytes": max_bytes, "quota_objects": max_objects})

    def set_acl(self, name: str, acl: str) -> None:
        self._update_bucket(name, {"acl": acl})

    def _update_bucket(self, name: str, changes: cr.BucketSettings) -> None:
        with self._transaction() as db:
            live = cr.live_bucket(self.bucket_rows(name))
            if live is None:
                raise NoBucket(name)
            self._merge(db, {"buckets": [cr.with_settings(live, changes)]})

    def get_config(self, name: str, kind: str) -> str | None:
        """The bucket's ``kind`` document ("policy", "cors", "lifecycle", ...), None if unset."""
        for row in self.config_rows(name):
            if row.kind == kind and rows.is_live(row):
                return row.value
        return None

    def set_config(self, name: str, kind: str, value: str | None) -> None:
        """Store (or with None remove) a configuration document. NoBucket if absent."""
        with self._transaction() as db:
            if cr.live_bucket(self.bucket_rows(name)) is None:
                raise NoBucket(name)
            self._merge(db, {"configs": [cr.config_row(name, kind, value, rows.now_ns())]})

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
        credential = new_credential(access_key, secret_key, is_admin, description, grants)
        with self._transaction() as db:
            if self.get_credential(access_key) is not None:
                raise CredentialExists(access_key)
            self._merge(db, {"credentials": [cr.credential_row(credential, rows.now_ns())]})
        return credential

    def get_credential(self, access_key: str) -> Credential | None:
        found = [r for r in self.credential_rows(access_key) if rows.is_live(r)]
        return cr.credential_of(found[0]) if found else None

    def list_credentials(self) -> list[Credential]:
        live = sorted(r for r in self.credential_rows() if rows.is_live(r))
        return [cr.credential_of(r) for r in live]

    def delete_credential(self, access_key: str) -> bool:
        with self._transaction() as db:
            found = [r for r in self.credential_rows(access_key) if rows.is_live(r)]
            if found:
                self._merge(db, {"credentials": [rows.tombstone(found[0])]})
        return bool(found)


def new_credential(
    access_key: str,
    secret_key: str,
    is_admin: bool,
    description: str,
    grants: Mapping[str, str] | None,
) -> Credential:
    """A credential to create, its grants checked (BadGrant)."""
    grants = dict(grants or {})
    for bucket, permission in grants.items():
        if permission not in GRANT_PERMISSIONS:
            raise BadGrant(bucket, permission)
    return Credential(access_key, secret_key, is_admin, description, time.time(), grants)


class Catalog(CatalogDB):
    """The standalone catalog: ``<root>/catalog.sqlite`` and the bucket indexes beside it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.indexes_dir = self.root / "buckets"
        self.indexes_dir.mkdir(parents=True, exist_ok=True)
        self._indexes: dict[str, BucketIndex] = {}
        super().__init__(self.root / "catalog.sqlite")

    def close(self) -> None:
        with self._lock:
            for index in self._indexes.values():
                index.close()
            self._indexes.clear()
        super().close()

    def create_bucket(
        self,
        name: str,
        owner: str,
        *,
        region: str = "",
        acl: str = "private",
        storage_policy: str = "",
    ) -> Bucket:
        with self._lock:
            if self.get_bucket(name) is None:
                # A crash during an earlier delete may have left the old index behind.
                self._remove_index_files(name)
            return super().create_bucket(
                name, owner, region=region, acl=acl, storage_policy=storage_policy
            )

    def delete_bucket(self, name: str) -> None:
        """BucketNotEmpty while it holds any version, delete marker or multipart upload."""
        with self._lock:
            if self.get_bucket(name) is None:
                raise NoBucket(name)
            if not self.index(name).is_empty():
                raise BucketNotEmpty(name)
            self.drop_bucket(name)
            index = self._indexes.pop(name, None)
            if index is not None:
                index.close()
            self._remove_index_files(name)

    def index(self, name: str) -> BucketIndex:
        """The bucket's listing index, opened once and cached. NoBucket if absent."""
        with self._lock:
            index = self._indexes.get(name)
            if index is None:
                if self.get_bucket(name) is None:
                    raise NoBucket(name)
                index = BucketIndex(self._index_path(name))
                self._indexes[name] = index
            return index

    def _index_path(self, name: str) -> Path:
        return self.indexes_dir / f"{name}.sqlite"

    def _remove_index_files(self, name: str) -> None:
        path = self._index_path(name)
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
