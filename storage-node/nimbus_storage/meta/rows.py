"""Index and catalog rows as mergeable facts, so that replicas of a database converge.

Every row has an identity (a version is ``(key, version_id)``, a part ``(upload_id,
part_number)``, a bucket ``(name, created)``, ...) and two nanosecond timestamps: ``created``,
when the thing the row describes came to be (a write, an upload, a bucket incarnation), and
``updated``, when this state of it was written (a tag change, a deletion). A deletion is a row
too (``deleted = 1``), kept until reclaimed, so that an older copy arriving later cannot bring
the thing back.

Two rows with one identity merge by keeping the greater :func:`order` -- ``(created, deleted,
updated)`` then the row's own text as a tie-break -- which makes merging commutative, associative
and idempotent. A deletion beats every other state of the same thing (same ``created``), so a
change racing a deletion on another replica cannot bring the thing back. Replicas that have
seen the same rows, in any order, hold the same database. Whatever
is derived (the latest version of a key, usage counters, which bucket incarnation is live) is
recomputed from the rows, never merged.

Each table's rows are a typed ``NamedTuple`` (``VersionRow``, ``UploadRow``, ``PartRow`` here;
the catalog's in ``catalog_rows``): still a tuple of the row's columns in the order of the
class's fields, which is the order of the SQL column lists (``index_schema``) and of the JSON
array a row travels as, so the database and the wire see plain tuples while code reads fields by
name. ``Row`` is what every kind of row has.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol, Self, TypeVar

from nimbus_storage.meta.api import NO_LOCK, ObjectLock, ObjectVersion, Part, Upload


class Row(Protocol):
    """A row of any table: a tuple of its columns, with the stamps every row has and an
    identity (the columns that name the thing it describes)."""

    @property
    def created(self) -> int: ...

    @property
    def updated(self) -> int: ...

    @property
    def deleted(self) -> int: ...

    def identity(self) -> tuple[Any, ...]: ...

    def __new__(cls, *columns: Any) -> Self: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Any: ...

    def _replace(self, *, updated: int = ..., deleted: int = ...) -> Self: ...


R = TypeVar("R", bound=Row)


class VersionRow(NamedTuple):
    """An object version (or delete marker) in a bucket index: table ``versions``."""

    key: str
    version_id: str
    created: int
    updated: int
    deleted: int
    delete_marker: int
    last_modified: float
    etag: str
    size: int
    blob: str
    content_type: str
    storage_class: str
    owner: str
    tags: str | None  # a JSON object; None without tags
    acl: str
    lock: str | None  # a JSON object (Object Lock: mode, until, hold); None without a lock

    def identity(self) -> tuple[str, str]:
        return self.key, self.version_id


class UploadRow(NamedTuple):
    """A multipart upload: table ``uploads``."""

    upload_id: str
    key: str
    created: int
    updated: int
    deleted: int
    initiated: float
    meta: str  # a JSON object

    def identity(self) -> tuple[str]:
        return (self.upload_id,)


class PartRow(NamedTuple):
    """A part of a multipart upload: table ``parts``."""

    upload_id: str
    part_number: int
    created: int
    updated: int
    deleted: int
    etag: str
    size: int
    blob: str
    last_modified: float
    checksum: str  # base64; "" when its upload has no checksum algorithm

    def identity(self) -> tuple[str, int]:
        return self.upload_id, self.part_number


# The tables of a bucket index and their rows, in merge order; the columns that identify a row
# (what its ``identity()`` gives), for SQL.
INDEX_ROWS: Mapping[str, type[Row]] = {
    "uploads": UploadRow,
    "parts": PartRow,
    "versions": VersionRow,
}
INDEX_IDENTITY: Mapping[str, tuple[str, ...]] = {
    "uploads": ("upload_id",),
    "parts": ("upload_id", "part_number"),
    "versions": ("key", "version_id"),
}


def columns(fields: Iterable[str]) -> str:
    """A row class's fields (``VersionRow._fields``) as an SQL column list, in row order."""
    return ", ".join(fields)


def rows_of(kind: type[R], found: Iterable[Iterable[Any]]) -> list[R]:
    """Rows of one table (from SQLite, a JSON answer, a merge's garbage) as ``kind`` rows.

    TypeError when one has not exactly the columns of ``kind``.
    """
    return [row if isinstance(row, kind) else kind(*row) for row in found]


def now_ns() -> int:
    return time.time_ns()


def order(row: Row) -> tuple[int, int, int, str]:
    """Of two rows with one identity, the one with the greater order wins."""
    text = json.dumps(list(row), separators=(",", ":"))
    return int(row.created), int(row.deleted), int(row.updated), text


def supersedes(incoming: Row, existing: Row | None) -> bool:
    return existing is None or order(incoming) > order(existing)


def is_live(row: Row | None) -> bool:
    return row is not None and not row.deleted


def displaces(incoming: Row, existing: Row | None) -> bool:
    """Whether ``existing`` stops being a live thing of its own when ``incoming`` wins.

    A newer state of the same thing (a tag change: same ``created``) displaces nothing; a
    deletion, or a new thing under the same identity (an overwritten null version), does.
    """
    if existing is None or not is_live(existing):
        return False
    return bool(incoming.deleted) or incoming.created != existing.created


def later(row: Row, at: int | None = None) -> int:
    """An ``updated`` stamp for a new state of ``row``: now, and after its current one."""
    return max(now_ns() if at is None else at, int(row.updated) + 1)


def tombstone(row: R, at: int | None = None) -> R:
    """The deletion of ``row``: a newer state of it, marked deleted."""
    return row._replace(updated=later(row, at), deleted=1)


def merge_rows(replies: Iterable[Iterable[Iterable[Any]]], kind: type[R]) -> list[R]:
    """Rows from several replicas merged as a database would: the greatest row per identity."""
    best: dict[tuple[Any, ...], R] = {}
    for reply in replies:
        for row in rows_of(kind, reply):
            key = row.identity()
            if supersedes(row, best.get(key)):
                best[key] = row
    return list(best.values())


# --- versions ---------------------------------------------------------------------------------


def version_row(
    v: ObjectVersion,
    created: int,
    updated: int | None = None,
    *,
    tags: Mapping[str, str] | None = None,
    deleted: bool = False,
) -> VersionRow:
    return VersionRow(
        key=v.key,
        version_id=v.version_id,
        created=created,
        updated=created if updated is None else updated,
        deleted=int(deleted),
        delete_marker=int(v.delete_marker),
        last_modified=v.last_modified,
        etag=v.etag,
        size=v.size,
        blob=v.blob,
        content_type=v.content_type,
        storage_class=v.storage_class,
        owner=v.owner,
        tags=json.dumps(dict(tags)) if tags else None,
        acl=v.acl,
        lock=lock_document(v.lock),
    )


def version_of(row: VersionRow, *, is_latest: bool = True) -> ObjectVersion:
    lock = lock_of(row)
    return ObjectVersion(
        key=row.key,
        version_id=row.version_id,
        last_modified=row.last_modified,
        etag=row.etag,
        size=row.size,
        blob=row.blob,
        is_latest=is_latest,
        delete_marker=bool(row.delete_marker),
        content_type=row.content_type,
        storage_class=row.storage_class,
        owner=row.owner,
        acl=row.acl,
        created=row.created,
        updated=row.updated,
        lock_mode=lock.mode,
        lock_until=lock.retain_until,
        legal_hold=lock.legal_hold,
    )


def tags_of(row: VersionRow) -> dict[str, str]:
    return dict(json.loads(row.tags)) if row.tags else {}


def with_tags(row: VersionRow, tags: Mapping[str, str], at: int | None = None) -> VersionRow:
    document = json.dumps(dict(tags)) if tags else None
    return row._replace(updated=later(row, at), tags=document)


def with_acl(row: VersionRow, acl: str, at: int | None = None) -> VersionRow:
    return row._replace(updated=later(row, at), acl=acl)


def lock_document(lock: ObjectLock) -> str | None:
    return None if lock == NO_LOCK else lock.document()


def lock_of(row: VersionRow) -> ObjectLock:
    return ObjectLock.of_document(row.lock) if row.lock else NO_LOCK


def with_lock(row: VersionRow, lock: ObjectLock, at: int | None = None) -> VersionRow:
    return row._replace(updated=later(row, at), lock=lock_document(lock))


# --- uploads and parts ------------------------------------------------------------------------


def upload_row(upload: Upload, created: int, *, deleted: bool = False) -> UploadRow:
    return UploadRow(
        upload_id=upload.upload_id,
        key=upload.key,
        created=created,
        updated=created,
        deleted=int(deleted),
        initiated=upload.initiated,
        meta=json.dumps(dict(upload.meta)),
    )


def upload_of(row: UploadRow) -> Upload:
    return Upload(row.upload_id, row.key, row.initiated, json.loads(row.meta))


def part_row(upload_id: str, part: Part, created: int) -> PartRow:
    return PartRow(
        upload_id=upload_id,
        part_number=part.part_number,
        created=created,
        updated=created,
        deleted=0,
        etag=part.etag,
        size=part.size,
        blob=part.blob,
        last_modified=part.last_modified,
        checksum=part.checksum,
    )


def part_of(row: PartRow) -> Part:
    return Part(row.part_number, row.etag, row.size, row.blob, row.last_modified, row.checksum)
