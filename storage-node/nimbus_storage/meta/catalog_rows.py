"""Catalog rows (buckets, configuration documents, credentials) as mergeable facts.

Same rules as ``rows``: every row has ``created``, ``updated`` and ``deleted`` (columns 2, 3 and 4
of its array on the wire), and is a typed ``NamedTuple`` per table. A bucket
row's identity is ``(name, created)``: each creation of a name is an incarnation of its own, so a
bucket deleted and created again is a new row rather than an old one brought back. The live
bucket of a name is its earliest incarnation that is not deleted: if two gateways create one
name at once, both replicas end up agreeing on the first creator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import NamedTuple, TypedDict

from nimbus_storage.meta import rows
from nimbus_storage.meta.api import Bucket, Credential
from nimbus_storage.meta.rows import Row


class BucketRow(NamedTuple):
    """One incarnation of a bucket: table ``buckets``."""

    name: str
    owner: str
    created: int
    updated: int
    deleted: int
    created_at: float  # seconds, as S3 shows it
    versioning: str
    quota_bytes: int | None
    quota_objects: int | None
    acl: str
    region: str
    storage_policy: str

    def identity(self) -> tuple[str, int]:
        return self.name, self.created


class ConfigRow(NamedTuple):
    """A bucket's configuration document of one kind: table ``configs``."""

    bucket: str
    kind: str
    created: int
    updated: int
    deleted: int
    value: str

    def identity(self) -> tuple[str, str]:
        return self.bucket, self.kind


class CredentialRow(NamedTuple):
    """An access key: table ``credentials``."""

    access_key: str
    secret_key: str
    created: int
    updated: int
    deleted: int
    is_admin: int
    description: str
    created_at: float
    grants: str  # a JSON object {bucket: RO|RW|WO}

    def identity(self) -> tuple[str]:
        return (self.access_key,)


BUCKET_ROW = rows.columns(BucketRow._fields)
CONFIG_ROW = rows.columns(ConfigRow._fields)
CREDENTIAL_ROW = rows.columns(CredentialRow._fields)
# The catalog's tables and their rows, in merge order; their columns in row (and wire) order;
# the columns that identify a row (what its ``identity()`` gives).
ROW_TYPES: Mapping[str, type[Row]] = {
    "buckets": BucketRow,
    "configs": ConfigRow,
    "credentials": CredentialRow,
}
ROW_COLUMNS = {"buckets": BUCKET_ROW, "configs": CONFIG_ROW, "credentials": CREDENTIAL_ROW}
IDENTITY: Mapping[str, tuple[str, ...]] = {
    "buckets": ("name", "created"),
    "configs": ("bucket", "kind"),
    "credentials": ("access_key",),
}


class BucketSettings(TypedDict, total=False):
    """The settings of a bucket that change after its creation."""

    versioning: str
    quota_bytes: int | None
    quota_objects: int | None
    acl: str


def bucket_row(bucket: Bucket, created: int) -> BucketRow:
    return BucketRow(
        name=bucket.name,
        owner=bucket.owner,
        created=created,
        updated=created,
        deleted=0,
        created_at=bucket.created,
        versioning=bucket.versioning,
        quota_bytes=bucket.quota_bytes,
        quota_objects=bucket.quota_objects,
        acl=bucket.acl,
        region=bucket.region,
        storage_policy=bucket.storage_policy,
    )


def bucket_of(row: BucketRow) -> Bucket:
    return Bucket(
        name=row.name,
        owner=row.owner,
        created=row.created_at,
        versioning=row.versioning,
        quota_bytes=row.quota_bytes,
        quota_objects=row.quota_objects,
        acl=row.acl,
        region=row.region,
        storage_policy=row.storage_policy,
    )


def live_bucket(candidates: Iterable[BucketRow]) -> BucketRow | None:
    """The live incarnation among the rows of one name: the earliest that is not deleted."""
    live = [r for r in candidates if rows.is_live(r)]
    return min(live, key=lambda r: (r.created, rows.order(r))) if live else None


def with_settings(row: BucketRow, changes: BucketSettings, at: int | None = None) -> BucketRow:
    """``row`` with some settings changed, as a newer state."""
    return row._replace(**changes, updated=rows.later(row, at))


def config_row(bucket: str, kind: str, value: str | None, at: int) -> ConfigRow:
    """A document, or with None its deletion; every write is a new state (created = now)."""
    return ConfigRow(bucket, kind, at, at, int(value is None), value or "")


def credential_row(credential: Credential, created: int) -> CredentialRow:
    return CredentialRow(
        access_key=credential.access_key,
        secret_key=credential.secret_key,
        created=created,
        updated=created,
        deleted=0,
        is_admin=int(credential.is_admin),
        description=credential.description,
        created_at=credential.created,
        grants=json.dumps(dict(credential.grants), sort_keys=True),
    )


def credential_of(row: CredentialRow) -> Credential:
    return Credential(
        access_key=row.access_key,
        secret_key=row.secret_key,
        is_admin=bool(row.is_admin),
        description=row.description,
        created=row.created_at,
        grants=json.loads(row.grants),
    )


def grants_of(row: CredentialRow) -> dict[str, str]:
    """The buckets an app credential is limited to, with its permission on each."""
    return dict(json.loads(row.grants))


def without_grant(row: CredentialRow, bucket: str, at: int | None = None) -> CredentialRow:
    grants = {b: p for b, p in grants_of(row).items() if b != bucket}
    return row._replace(updated=rows.later(row, at), grants=json.dumps(grants, sort_keys=True))
