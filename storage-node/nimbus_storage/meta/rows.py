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

Rows travel as JSON arrays in the column order of ``*_FIELDS``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nimbus_storage.meta.api import ObjectVersion, Part, Upload

Row = tuple[Any, ...]

VERSION_FIELDS = (
    "key", "version_id", "created", "updated", "deleted", "delete_marker", "last_modified",
    "etag", "size", "blob", "content_type", "storage_class", "owner", "tags", "acl",
)  # fmt: skip
UPLOAD_FIELDS = ("upload_id", "key", "created", "updated", "deleted", "initiated", "meta")
PART_FIELDS = (
    "upload_id", "part_number", "created", "updated", "deleted", "etag", "size", "blob",
    "last_modified",
)  # fmt: skip
# Column positions shared by every kind of row.
CREATED, UPDATED, DELETED = 2, 3, 4


def now_ns() -> int:
    return time.time_ns()


def order(row: Sequence[Any]) -> tuple[int, int, int, str]:
    """Of two rows with one identity, the one with the greater order wins."""
    text = json.dumps(list(row), separators=(",", ":"))
    return int(row[CREATED]), int(row[DELETED]), int(row[UPDATED]), text


def supersedes(incoming: Sequence[Any], existing: Sequence[Any] | None) -> bool:
    return existing is None or order(incoming) > order(existing)


def is_live(row: Sequence[Any] | None) -> bool:
    return row is not None and not row[DELETED]


def displaces(incoming: Sequence[Any], existing: Sequence[Any] | None) -> bool:
    """Whether ``existing`` stops being a live thing of its own when ``incoming`` wins.

    A newer state of the same thing (a tag change: same ``created``) displaces nothing; a
    deletion, or a new thing under the same identity (an overwritten null version), does.
    """
    if existing is None or not is_live(existing):
        return False
    return bool(incoming[DELETED]) or incoming[CREATED] != existing[CREATED]


def later(row: Sequence[Any], at: int | None = None) -> int:
    """An ``updated`` stamp for a new state of ``row``: now, and after its current one."""
    return max(now_ns() if at is None else at, int(row[UPDATED]) + 1)


# --- versions ---------------------------------------------------------------------------------


def version_row(
    v: ObjectVersion,
    created: int,
    updated: int | None = None,
    *,
    tags: Mapping[str, str] | None = None,
    deleted: bool = False,
) -> Row:
    return (
        v.key, v.version_id, created, created if updated is None else updated, int(deleted),
        int(v.delete_marker), v.last_modified, v.etag, v.size, v.blob, v.content_type,
        v.storage_class, v.owner, json.dumps(dict(tags)) if tags else None, v.acl,
    )  # fmt: skip


def version_of(row: Sequence[Any], *, is_latest: bool = True) -> ObjectVersion:
    (key, vid, created, updated, _deleted, marker, modified, etag, size, blob, ctype, sclass,
     owner, _tags, acl) = row  # fmt: skip
    return ObjectVersion(
        key, vid, modified, etag, size, blob, is_latest, bool(marker), ctype, sclass, owner, acl,
        created, updated,
    )  # fmt: skip


def tags_of(row: Sequence[Any]) -> dict[str, str]:
    document = row[13]
    return dict(json.loads(document)) if document else {}


def with_tags(row: Row, tags: Mapping[str, str], at: int | None = None) -> Row:
    document = json.dumps(dict(tags)) if tags else None
    return (*row[:UPDATED], later(row, at), *row[UPDATED + 1 : 13], document, row[14])


def with_acl(row: Row, acl: str, at: int | None = None) -> Row:
    return (*row[:UPDATED], later(row, at), *row[UPDATED + 1 : 14], acl)


def tombstone(row: Row, at: int | None = None) -> Row:
    return (*row[:UPDATED], later(row, at), 1, *row[DELETED + 1 :])


# --- uploads and parts ------------------------------------------------------------------------


def upload_row(upload: Upload, created: int, *, deleted: bool = False) -> Row:
    meta = json.dumps(dict(upload.meta))
    return (upload.upload_id, upload.key, created, created, int(deleted), upload.initiated, meta)


def upload_of(row: Sequence[Any]) -> Upload:
    upload_id, key, _created, _updated, _deleted, initiated, meta = row
    return Upload(upload_id, key, initiated, json.loads(meta))


def part_row(upload_id: str, part: Part, created: int) -> Row:
    return (
        upload_id, part.part_number, created, created, 0, part.etag, part.size, part.blob,
        part.last_modified,
    )  # fmt: skip


def part_of(row: Sequence[Any]) -> Part:
    _upload_id, number, _created, _updated, _deleted, etag, size, blob, modified = row
    return Part(number, etag, size, blob, modified)


def merge_rows(replies: Iterable[Iterable[Sequence[Any]]], identity: Sequence[int]) -> list[Row]:
    """Rows from several replicas merged as a database would: the greatest row per identity."""
    best: dict[tuple[Any, ...], Row] = {}
    for reply in replies:
        for found in reply:
            row = tuple(found)
            key = tuple(row[i] for i in identity)
            if supersedes(row, best.get(key)):
                best[key] = row
    return list(best.values())
