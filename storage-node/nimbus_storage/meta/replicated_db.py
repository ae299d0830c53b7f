"""A SQLite database whose rows replicas can exchange and merge (see ``rows``).

The base of the bucket index and the catalog. It keeps a local change number per row, so a
replicator can ask for the rows changed since it last synced with a peer (``rows_since``,
``sync_point``), and it merges incoming rows by their order, calling ``_stored`` so that a
subclass keeps what it derives from them (latest versions, usage counters) up to date.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from nimbus_storage.meta import rows
from nimbus_storage.meta.rows import Row

# Rows by table: typed rows (meta/rows.py), or the arrays of their columns they travel as.
RowBatch = Mapping[str, Sequence[Iterable[Any]]]

PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 5000",
)

REPLICATION_SCHEMA = """
CREATE TABLE IF NOT EXISTS changes (
    id      INTEGER PRIMARY KEY CHECK (id = 0),
    last    INTEGER NOT NULL
);
INSERT OR IGNORE INTO changes VALUES (0, 0);
-- A random name of this replica: a peer whose replica was lost and recreated gets a new one,
-- so its sync point starts again from the beginning.
CREATE TABLE IF NOT EXISTS replica (
    id      INTEGER PRIMARY KEY CHECK (id = 0),
    name    TEXT    NOT NULL
);
INSERT OR IGNORE INTO replica VALUES (0, lower(hex(randomblob(16))));
-- How far each peer has been sent this database's rows (by local change number).
CREATE TABLE IF NOT EXISTS sync_points (
    peer   TEXT    PRIMARY KEY,
    change INTEGER NOT NULL
) WITHOUT ROWID;
"""


def execute_script(db: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated statements inside the caller's transaction (no ``;`` in comments)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


class ReplicatedDB:
    # Table name -> the class of its rows (meta/rows.py); tables merge in this order.
    ROW_TYPES: ClassVar[Mapping[str, type[Row]]]
    # Table name -> its row columns as an SQL list, in the order of the row class's fields.
    ROW_COLUMNS: ClassVar[Mapping[str, str]]
    # Table name -> the columns that identify a row (those its ``identity()`` gives).
    IDENTITY: ClassVar[Mapping[str, tuple[str, ...]]]

    def __init__(self, path: Path, pragmas: Sequence[str] = PRAGMAS) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in pragmas:
            self._db.execute(pragma)
        try:
            with self._transaction() as db:
                self._create(db)
                execute_script(db, REPLICATION_SCHEMA)
        except BaseException:
            self._db.close()
            raise

    def _create(self, db: sqlite3.Connection) -> None:
        """Create (or upgrade) the subclass's tables."""
        raise NotImplementedError

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

    # --- merging ----------------------------------------------------------------------------

    def merge(self, batch: RowBatch) -> dict[str, list[Row]]:
        """Apply rows from a gateway or a replica; return the live things they made garbage.

        The result holds, by table, rows that stopped being live (an overwritten null version,
        a deleted version or part) and incoming live rows that lost to a newer row: the blobs
        they name are no longer referenced once every replica has merged the same rows.
        """
        with self._transaction() as db:
            return self._merge(db, batch)

    def _merge(self, db: sqlite3.Connection, batch: RowBatch) -> dict[str, list[Row]]:
        (change,) = db.execute("SELECT last FROM changes WHERE id = 0").fetchone()
        garbage: dict[str, list[Row]] = {}
        for table, kind in self.ROW_TYPES.items():
            for row in rows.rows_of(kind, batch.get(table, ())):
                existing = self._find(db, table, row)
                if existing is not None and not rows.supersedes(row, existing):
                    if rows.displaces(existing, row):
                        garbage.setdefault(table, []).append(row)
                    continue
                if existing is not None and rows.displaces(row, existing):
                    garbage.setdefault(table, []).append(existing)
                change += 1
                if existing is not None:
                    db.execute(f"DELETE FROM {table} WHERE {self._where(table)}", row.identity())
                self._insert(db, table, row, change)
                self._stored(db, table, row, existing)
        self._merged(db)
        db.execute("UPDATE changes SET last = ? WHERE id = 0", (change,))
        return garbage

    def _where(self, table: str) -> str:
        return " AND ".join(f"{name} = ?" for name in self.IDENTITY[table])

    def _find(self, db: sqlite3.Connection, table: str, row: Row) -> Row | None:
        found = db.execute(
            f"SELECT {self.ROW_COLUMNS[table]} FROM {table} WHERE {self._where(table)}",
            row.identity(),
        ).fetchone()
        return None if found is None else self.ROW_TYPES[table](*found)

    def _insert(self, db: sqlite3.Connection, table: str, row: Row, change: int) -> None:
        marks = ", ".join("?" * (len(row) + 1))
        db.execute(
            f"INSERT INTO {table} ({self.ROW_COLUMNS[table]}, change) VALUES ({marks})",
            (*row, change),
        )

    def _stored(self, db: sqlite3.Connection, table: str, row: Row, existing: Row | None) -> None:
        """Hook: ``row`` replaced ``existing`` (None: it is new) in ``table``."""

    def _merged(self, db: sqlite3.Connection) -> None:
        """Hook: a merge is about to commit."""

    # --- replication ------------------------------------------------------------------------

    def rows_since(self, change: int, limit: int = 1000) -> tuple[dict[str, list[Row]], int]:
        """Rows changed after local change number ``change`` (at most about ``limit`` per
        table), and the change number to resume from."""
        changed: dict[str, list[tuple[Row, int]]] = {}  # rows and their change numbers
        with self._transaction("DEFERRED") as db:
            (upto,) = db.execute("SELECT last FROM changes WHERE id = 0").fetchone()
            for table, kind in self.ROW_TYPES.items():
                found = db.execute(
                    f"SELECT {self.ROW_COLUMNS[table]}, change FROM {table} WHERE change > ?"
                    " ORDER BY change LIMIT ?",
                    (change, limit),
                ).fetchall()
                stamped = [(kind(*columns), number) for *columns, number in found]
                if len(stamped) == limit:
                    upto = min(upto, stamped[-1][1])
                changed[table] = stamped
        cut = {
            table: [row for row, number in found if number <= upto]
            for table, found in changed.items()
        }
        return {table: found for table, found in cut.items() if found}, int(upto)

    def replica_id(self) -> str:
        with self._lock:
            (name,) = self._db.execute("SELECT name FROM replica WHERE id = 0").fetchone()
        return str(name)

    def last_change(self) -> int:
        with self._lock:
            (last,) = self._db.execute("SELECT last FROM changes WHERE id = 0").fetchone()
        return int(last)

    def sync_point(self, peer: str) -> int:
        with self._lock:
            found = self._db.execute(
                "SELECT change FROM sync_points WHERE peer = ?", (peer,)
            ).fetchone()
        return 0 if found is None else int(found[0])

    def set_sync_point(self, peer: str, change: int) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO sync_points VALUES (?, ?)", (peer, change))

    def reclaim(self, before_ns: int) -> int:
        """Forget deletion rows last changed before ``before_ns`` (replicas have them by then)."""
        removed = 0
        with self._transaction() as db:
            for table in self.ROW_TYPES:
                removed += db.execute(
                    f"DELETE FROM {table} WHERE deleted = 1 AND updated < ?", (before_ns,)
                ).rowcount
        return removed
