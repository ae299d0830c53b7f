"""Catalog rows (buckets, configuration documents, credentials) as mergeable facts.

Same rules as ``rows``: positions 2, 3, 4 hold ``created``, ``updated`` and ``deleted``. A bucket
row's identity is ``(name, created)``: each creation of a name is an incarnation of its own, so a
bucket deleted and created again is a new row rather than an old one brought back. The live
bucket of a name is its earliest incarnation that is not deleted: if two gateways create one
name at once, both replicas end up agreeing on the first creator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from nimbus_storage.meta import rows
from nimbus_storage.meta.api import Bucket, Credential
from nimbus_storage.meta.rows import Row

BUCKET_ROW = (
    "name, owner, created, updated, deleted, created_at, versioning, quota_bytes, quota_objects,"
    " acl, region, storage_policy"
)
CONFIG_ROW = "bucket, kind, created, updated, deleted, value"
CREDENTIAL_ROW = (
    "access_key, secret_key, created, updated, deleted, is_admin, description, created_at, grants"
)
ROW_COLUMNS = {"buckets": BUCKET_ROW, "configs": CONFIG_ROW, "credentials": CREDENTIAL_ROW}
IDENTITY = {"buckets": (0, 2), "configs": (0, 1), "credentials": (0,)}
# Positions of a bucket row's settings.
VERSIONING, QUOTA_BYTES, QUOTA_OBJECTS, ACL = 6, 7, 8, 9


def bucket_row(bucket: Bucket, created: int) -> Row:
    return (
        bucket.name, bucket.owner, created, created, 0, bucket.created, bucket.versioning,
        bucket.quota_bytes, bucket.quota_objects, bucket.acl, bucket.region,
        bucket.storage_policy,
    )  # fmt: skip


def bucket_of(row: Sequence[Any]) -> Bucket:
    name, owner, _c, _u, _d, created_at, versioning, qbytes, qobjects, acl, region, policy = row
    return Bucket(name, owner, created_at, versioning, qbytes, qobjects, acl, region, policy)


def live_bucket(candidates: Iterable[Sequence[Any]]) -> Row | None:
    """The live incarnation among the rows of one name: the earliest that is not deleted."""
    live = [tuple(r) for r in candidates if rows.is_live(r)]
    return min(live, key=lambda r: (r[rows.CREATED], rows.order(r))) if live else None


def with_settings(row: Row, changes: Mapping[int, Any], at: int | None = None) -> Row:
    """``row`` with the values at the given positions replaced, as a newer state."""
    updated = list(row)
    for position, value in changes.items():
        updated[position] = value
    updated[rows.UPDATED] = rows.later(row, at)
    return tuple(updated)


def config_row(bucket: str, kind: str, value: str | None, at: int) -> Row:
    """A document, or with None its deletion; every write is a new state (created = now)."""
    return (bucket, kind, at, at, int(value is None), value or "")


def credential_row(credential: Credential, created: int) -> Row:
    return (
        credential.access_key, credential.secret_key, created, created, 0,
        int(credential.is_admin), credential.description, credential.created,
        json.dumps(dict(credential.grants), sort_keys=True),
    )  # fmt: skip


def credential_of(row: Sequence[Any]) -> Credential:
    access_key, secret_key, _c, _u, _d, is_admin, description, created_at, grants = row
    return Credential(
        access_key, secret_key, bool(is_admin), description, created_at, json.loads(grants)
    )


def without_grant(row: Row, bucket: str, at: int | None = None) -> Row:
    grants = {b: p for b, p in json.loads(row[8]).items() if b != bucket}
    return (*row[: rows.UPDATED], rows.later(row, at), *row[rows.UPDATED + 1 : 8],
            json.dumps(grants, sort_keys=True))  # fmt: skip
