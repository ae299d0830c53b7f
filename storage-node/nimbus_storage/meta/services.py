"""The metadata services the gateway is written against: the catalog and one bucket's index.

The catalog and the bucket indexes may be local SQLite files (``local_services``) or, later,
replicated on the storage nodes; either way every call may have to cross the network, so the
gateway awaits them all. The methods are those of ``Catalog`` and ``BucketIndex``, with the same
parameters, results and errors, made awaitable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

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

__all__ = ["CatalogService", "IndexService"]


class IndexService(Protocol):
    """One bucket's listing index: its versions, multipart uploads and parts (``BucketIndex``)."""

    # --- versions

    async def get(self, key: str, version_id: str | None = None) -> ObjectVersion | None: ...

    async def put_version(
        self, v: ObjectVersion, versioning: str, *, tags: Mapping[str, str] | None = None
    ) -> list[ObjectVersion]: ...

    async def delete_version(
        self, key: str, version_id: str, *, check: VersionCheck | None = None
    ) -> ObjectVersion | None: ...

    # --- listings and usage

    async def list_objects(
        self, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage: ...

    async def list_versions(
        self,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> ListPage: ...

    async def usage(self) -> tuple[int, int]: ...

    async def has_versions(self) -> bool:
        """Whether any version or delete marker is stored (multipart uploads aside)."""
        ...

    async def is_empty(self) -> bool:
        """No versions, no delete markers and no multipart uploads."""
        ...

    # --- per-version tags and ACLs

    async def set_tags(self, key: str, version_id: str | None, tags: Mapping[str, str]) -> bool: ...

    async def get_tags(self, key: str, version_id: str | None = None) -> dict[str, str] | None: ...

    async def delete_tags(self, key: str, version_id: str | None = None) -> bool: ...

    async def set_acl(self, key: str, version_id: str | None, acl: str) -> bool: ...

    async def set_lock(
        self, key: str, version_id: str | None, decide: LockDecision
    ) -> ObjectVersion | None: ...

    # --- multipart uploads

    async def create_upload(
        self, upload_id: str, key: str, initiated: float, meta: Mapping[str, str]
    ) -> Upload: ...

    async def get_upload(self, upload_id: str) -> Upload | None: ...

    async def list_uploads(
        self,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadPage: ...

    async def put_part(  # noqa: PLR0917 - BucketIndex.put_part's positional call shape
        self,
        upload_id: str,
        part_number: int,
        etag: str,
        size: int,
        blob: str,
        last_modified: float,
        checksum: str = "",
    ) -> Part | None: ...

    async def list_parts(
        self, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> tuple[list[Part], bool, int | None]: ...

    async def get_parts(self, upload_id: str) -> dict[int, Part]: ...

    async def delete_upload(self, upload_id: str) -> list[Part]: ...

    async def uploads_initiated_before(self, t: float) -> list[Upload]: ...

    async def claim_upload(self, upload_id: str, expected: Mapping[int, str]) -> list[Part] | None:
        """Forget the upload for its completion if its parts are still ``expected`` (part
        number -> blob), atomically even when several gateways complete it at once: its parts;
        None when a listed part was uploaded again meanwhile; NoUpload when it is gone."""
        ...


class CatalogService(Protocol):
    """Buckets, their configuration documents and credentials (``Catalog``)."""

    def index(self, name: str) -> IndexService:
        """The bucket's index, as ``Catalog.index``: NoBucket if there is no such bucket."""
        ...

    async def close(self) -> None: ...

    # --- buckets

    async def create_bucket(
        self,
        name: str,
        owner: str,
        *,
        region: str = "",
        acl: str = "private",
        storage_policy: str = "",
    ) -> Bucket: ...

    async def get_bucket(self, name: str) -> Bucket | None: ...

    async def list_buckets(self, owner: str | None = None) -> list[Bucket]: ...

    async def delete_bucket(self, name: str) -> None: ...

    async def set_versioning(self, name: str, status: str) -> None: ...

    async def set_quota(
        self, name: str, max_bytes: int | None, max_objects: int | None
    ) -> None: ...

    async def set_acl(self, name: str, acl: str) -> None: ...

    async def get_config(self, name: str, kind: str) -> str | None: ...

    async def set_config(self, name: str, kind: str, value: str | None) -> None: ...

    # --- credentials

    async def create_credential(
        self,
        access_key: str,
        secret_key: str,
        *,
        is_admin: bool = False,
        description: str = "",
        grants: Mapping[str, str] | None = None,
    ) -> Credential: ...

    async def get_credential(self, access_key: str) -> Credential | None:
        """The credential of ``access_key``; None only when the catalog says for sure there is
        none: StorageUnavailable when it cannot be read well enough to tell."""
        ...

    async def list_credentials(self) -> list[Credential]: ...

    async def delete_credential(self, access_key: str) -> bool: ...
