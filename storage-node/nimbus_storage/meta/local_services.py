"""The metadata services on local SQLite: ``Catalog`` and ``BucketIndex`` behind async methods.

Each method calls the synchronous object directly, on the event loop, with no thread hop: the
SQLite transactions are short. None of these coroutines suspends, so a sequence of awaited
calls with no other await between them still runs without any other request in between (the
gateway's CompleteMultipartUpload relies on that; see ``_claim_upload``).
"""

from __future__ import annotations

from collections.abc import Mapping

from nimbus_storage.meta import rows
from nimbus_storage.meta.api import (
    Bucket,
    Credential,
    ListPage,
    LockDecision,
    ObjectVersion,
    Part,
    Upload,
    UploadPage,
    VersionCheck,
)
from nimbus_storage.meta.catalog import Catalog
from nimbus_storage.meta.errors import NoUpload
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.meta.rows import PartRow
from nimbus_storage.meta.services import CatalogService, IndexService

__all__ = ["LocalCatalogService", "LocalIndexService", "claimed_parts"]


def claimed_parts(upload_id: str, outcome: str, found: list[PartRow]) -> list[Part] | None:
    """What ``claim_upload`` answers for one outcome of ``BucketIndex.claim_upload``."""
    if outcome == "missing":
        raise NoUpload(upload_id)
    return [rows.part_of(r) for r in found] if outcome == "claimed" else None


class LocalIndexService(IndexService):
    """An ``IndexService`` over one ``BucketIndex`` (``index_db``)."""

    def __init__(self, index_db: BucketIndex) -> None:
        self.index_db = index_db

    async def get(self, key: str, version_id: str | None = None) -> ObjectVersion | None:
        return self.index_db.get(key, version_id)

    async def put_version(
        self, v: ObjectVersion, versioning: str, *, tags: Mapping[str, str] | None = None
    ) -> list[ObjectVersion]:
        return self.index_db.put_version(v, versioning, tags=tags)

    async def delete_version(
        self, key: str, version_id: str, *, check: VersionCheck | None = None
    ) -> ObjectVersion | None:
        return self.index_db.delete_version(key, version_id, check=check)

    async def list_objects(
        self, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        return self.index_db.list_objects(prefix, delimiter, start_after, max_keys)

    async def list_versions(
        self,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> ListPage:
        return self.index_db.list_versions(
            prefix, delimiter, key_marker, version_id_marker, max_keys
        )

    async def usage(self) -> tuple[int, int]:
        return self.index_db.usage()

    async def has_versions(self) -> bool:
        return self.index_db.has_versions()

    async def is_empty(self) -> bool:
        return self.index_db.is_empty()

    async def set_tags(self, key: str, version_id: str | None, tags: Mapping[str, str]) -> bool:
        return self.index_db.set_tags(key, version_id, tags)

    async def get_tags(self, key: str, version_id: str | None = None) -> dict[str, str] | None:
        return self.index_db.get_tags(key, version_id)

    async def delete_tags(self, key: str, version_id: str | None = None) -> bool:
        return self.index_db.delete_tags(key, version_id)

    async def set_acl(self, key: str, version_id: str | None, acl: str) -> bool:
        return self.index_db.set_acl(key, version_id, acl)

    async def set_lock(
        self, key: str, version_id: str | None, decide: LockDecision
    ) -> ObjectVersion | None:
        return self.index_db.set_lock(key, version_id, decide)

    async def create_upload(
        self, upload_id: str, key: str, initiated: float, meta: Mapping[str, str]
    ) -> Upload:
        return self.index_db.create_upload(upload_id, key, initiated, meta)

    async def get_upload(self, upload_id: str) -> Upload | None:
        return self.index_db.get_upload(upload_id)

    async def list_uploads(
        self,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadPage:
        return self.index_db.list_uploads(
            prefix, delimiter, key_marker, upload_id_marker, max_uploads
        )

    async def put_part(  # noqa: PLR0917 - BucketIndex.put_part's positional call shape
        self,
        upload_id: str,
        part_number: int,
        etag: str,
        size: int,
        blob: str,
        last_modified: float,
        checksum: str = "",
    ) -> Part | None:
        return self.index_db.put_part(
            upload_id, part_number, etag, size, blob, last_modified, checksum
        )

    async def list_parts(
        self, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> tuple[list[Part], bool, int | None]:
        return self.index_db.list_parts(upload_id, part_number_marker, max_parts)

    async def get_parts(self, upload_id: str) -> dict[int, Part]:
        return self.index_db.get_parts(upload_id)

    async def delete_upload(self, upload_id: str) -> list[Part]:
        return self.index_db.delete_upload(upload_id)

    async def claim_upload(self, upload_id: str, expected: Mapping[int, str]) -> list[Part] | None:
        outcome, found = self.index_db.claim_upload(upload_id, list(expected.items()))
        return claimed_parts(upload_id, outcome, found)

    async def uploads_initiated_before(self, t: float) -> list[Upload]:
        return self.index_db.uploads_initiated_before(t)


class LocalCatalogService(CatalogService):
    """A ``CatalogService`` over one ``Catalog`` (``catalog``) and its bucket indexes."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def index(self, name: str) -> LocalIndexService:
        # A fresh wrapper each time: the catalog caches (and on delete, drops) the index itself.
        return LocalIndexService(self.catalog.index(name))

    async def close(self) -> None:
        self.catalog.close()

    async def create_bucket(
        self,
        name: str,
        owner: str,
        *,
        region: str = "",
        acl: str = "private",
        storage_policy: str = "",
    ) -> Bucket:
        return self.catalog.create_bucket(
            name, owner, region=region, acl=acl, storage_policy=storage_policy
        )

    async def get_bucket(self, name: str) -> Bucket | None:
        return self.catalog.get_bucket(name)

    async def list_buckets(self, owner: str | None = None) -> list[Bucket]:
        return self.catalog.list_buckets(owner)

    async def delete_bucket(self, name: str) -> None:
        self.catalog.delete_bucket(name)

    async def set_versioning(self, name: str, status: str) -> None:
        self.catalog.set_versioning(name, status)

    async def set_quota(self, name: str, max_bytes: int | None, max_objects: int | None) -> None:
        self.catalog.set_quota(name, max_bytes, max_objects)

    async def set_acl(self, name: str, acl: str) -> None:
        self.catalog.set_acl(name, acl)

    async def get_config(self, name: str, kind: str) -> str | None:
        return self.catalog.get_config(name, kind)

    async def set_config(self, name: str, kind: str, value: str | None) -> None:
        self.catalog.set_config(name, kind, value)

    async def create_credential(
        self,
        access_key: str,
        secret_key: str,
        *,
        is_admin: bool = False,
        description: str = "",
        grants: Mapping[str, str] | None = None,
    ) -> Credential:
        return self.catalog.create_credential(
            access_key, secret_key, is_admin=is_admin, description=description, grants=grants
        )

    async def get_credential(self, access_key: str) -> Credential | None:
        return self.catalog.get_credential(access_key)

    async def list_credentials(self) -> list[Credential]:
        return self.catalog.list_credentials()

    async def delete_credential(self, access_key: str) -> bool:
        return self.catalog.delete_credential(access_key)
