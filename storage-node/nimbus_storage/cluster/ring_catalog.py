"""The catalog replicated on the storage nodes: ``CatalogService`` over ``DatabaseReplicas``.

Changes are rows computed here from a quorum read and merged into a quorum of the catalog's
replicas (``catalog_rows`` says how rows merge). Buckets, credentials and bucket documents are
read on almost every request, so lookups are cached for ``cache_ttl`` seconds: a change made
through another gateway shows here within that time (AWS documents the same delay for bucket
and IAM changes); this gateway's own changes drop its cache at once. Concurrent lookups of one
entry share one read: when an entry expires under load, the requests that need it wait for the
first one's read instead of each reading a quorum of replicas.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from nimbus_storage.cluster.db_replicas import MISSING, DatabaseReplicas
from nimbus_storage.cluster.ring_index import RingIndexService
from nimbus_storage.meta import catalog_rows as cr
from nimbus_storage.meta import rows
from nimbus_storage.meta.api import Bucket, Credential
from nimbus_storage.meta.catalog import FILE_SAFE_NAME, new_credential
from nimbus_storage.meta.db_names import CATALOG
from nimbus_storage.meta.errors import (
    BadBucketName,
    BadVersioningState,
    BucketExists,
    BucketNotEmpty,
    CredentialExists,
    NoBucket,
)
from nimbus_storage.meta.rows import Row
from nimbus_storage.meta.services import CatalogService
from nimbus_storage.protocol.db_ops import DbOp
from nimbus_storage.storage_errors import StorageUnavailable

T = TypeVar("T")
R = TypeVar("R", bound=Row)


class RingCatalogService(CatalogService):
    def __init__(self, replicas: DatabaseReplicas, *, cache_ttl: float = 1.0) -> None:
        self.replicas = replicas
        self.cache_ttl = cache_ttl
        self._cache: dict[tuple[str, str], tuple[float, Any]] = {}
        self._changes = 0  # changes this gateway made: a read racing one is not cached
        # Reads under way, by cache key, with the change count they started at.
        self._loading: dict[tuple[str, str], tuple[int, asyncio.Task[Any]]] = {}

    def index(self, name: str) -> RingIndexService:
        return RingIndexService(self.replicas, name)

    async def close(self) -> None:
        self._cache.clear()
        for _changes, loading in self._loading.values():
            loading.cancel()
        self._loading.clear()

    async def _cached(self, key: tuple[str, str], load: Callable[[], Awaitable[T]]) -> T:
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.cache_ttl:
            return hit[1]  # type: ignore[no-any-return]
        changes = self._changes
        under_way = self._loading.get(key)
        if under_way is None or under_way[0] != changes:
            # No read of this entry since this gateway's last change: start one that every
            # request needing the entry meanwhile shares (a read started before a change here
            # may miss it, so it is not shared after one). A task, shielded: a request that
            # goes away does not cancel the read the others wait for.
            under_way = (changes, asyncio.ensure_future(self._load(key, load, changes)))
            self._loading[key] = under_way
        return await asyncio.shield(under_way[1])

    async def _load(
        self, key: tuple[str, str], load: Callable[[], Awaitable[T]], changes: int
    ) -> T:
        try:
            value = await load()
            # Fresh from when the read finished: a read that waited on a node (up to its
            # timeout) still serves the rest of the request. Unless this gateway changed
            # something meanwhile.
            if self._changes == changes:
                self._cache[key] = (time.monotonic(), value)
            return value
        finally:
            under_way = self._loading.get(key)
            if under_way is not None and under_way[1] is asyncio.current_task():
                del self._loading[key]

    def _forget(self, kind: str, name: str) -> None:
        self._cache.pop((kind, name), None)
        self._changes += 1

    async def _rows(
        self, op: DbOp, args: Mapping[str, Any], kind: type[R], *, degraded: bool = False
    ) -> list[R]:
        """The rows a quorum of replicas answers (any replica when ``degraded``), merged."""
        answers = await self.replicas.read_all(CATALOG, op, args, degraded=degraded)
        return rows.merge_rows((a for a in answers if a is not MISSING), kind)

    async def _write(self, batch: Mapping[str, Sequence[Row]]) -> None:
        await self.replicas.write(CATALOG, batch)

    # --- buckets ------------------------------------------------------------------------------

    async def _live_bucket_row(self, name: str, *, degraded: bool = False) -> cr.BucketRow | None:
        found = await self._rows(DbOp.BUCKET_ROWS, {"name": name}, cr.BucketRow, degraded=degraded)
        return cr.live_bucket(found)

    async def create_bucket(
        self,
        name: str,
        owner: str,
        *,
        region: str = "",
        acl: str = "private",
        storage_policy: str = "",
    ) -> Bucket:
        if not FILE_SAFE_NAME.fullmatch(name):
            raise BadBucketName(name)
        existing = await self._live_bucket_row(name)
        if existing is not None:
            raise BucketExists(name, owned_by_caller=existing.owner == owner)
        bucket = Bucket(name, owner, time.time(), "", None, None, acl, region, storage_policy)
        await self._write({"buckets": [cr.bucket_row(bucket, rows.now_ns())]})
        self._forget("bucket", name)
        return bucket

    async def get_bucket(self, name: str) -> Bucket | None:
        async def load() -> Bucket | None:
            live = await self._live_bucket_row(name, degraded=True)
            return None if live is None else cr.bucket_of(live)

        return await self._cached(("bucket", name), load)

    async def list_buckets(self, owner: str | None = None) -> list[Bucket]:
        by_name: dict[str, list[cr.BucketRow]] = {}
        for row in await self._rows(DbOp.ALL_BUCKET_ROWS, {}, cr.BucketRow):
            by_name.setdefault(row.name, []).append(row)
        found = [cr.live_bucket(candidates) for _name, candidates in sorted(by_name.items())]
        buckets = [cr.bucket_of(row) for row in found if row is not None]
        return [b for b in buckets if owner is None or b.owner == owner]

    async def delete_bucket(self, name: str) -> None:
        found = await self._rows(DbOp.BUCKET_ROWS, {"name": name}, cr.BucketRow)
        live = [r for r in found if r.deleted == 0]
        if not live:
            raise NoBucket(name)
        if not await self.index(name).is_empty():
            raise BucketNotEmpty(name)
        configs = [
            r
            for r in await self._rows(DbOp.CONFIG_ROWS, {"bucket": name}, cr.ConfigRow)
            if r.deleted == 0
        ]
        holders = [
            r
            for r in await self._rows(DbOp.CREDENTIAL_ROWS, {}, cr.CredentialRow)
            if rows.is_live(r) and name in cr.grants_of(r)
        ]
        await self._write(
            {
                "buckets": [rows.tombstone(r) for r in live],
                "configs": [rows.tombstone(r) for r in configs],
                "credentials": [cr.without_grant(r, name) for r in holders],
            }
        )
        self._forget("bucket", name)
        self._forget("configs", name)
        for holder in holders:
            self._forget("credential", holder.access_key)

    async def set_versioning(self, name: str, status: str) -> None:
        if status not in ("Enabled", "Suspended"):
            raise BadVersioningState(status)
        await self._update_bucket(name, {"versioning": status})

    async def set_quota(self, name: str, max_bytes: int | None, max_objects: int | None) -> None:
        await self._update_bucket(name, {"quota_bytes": max_bytes, "quota_objects": max_objects})

    async def set_acl(self, name: str, acl: str) -> None:
        await self._update_bucket(name, {"acl": acl})

    async def _update_bucket(self, name: str, changes: cr.BucketSettings) -> None:
        live = await self._live_bucket_row(name)
        if live is None:
            raise NoBucket(name)
        await self._write({"buckets": [cr.with_settings(live, changes)]})
        self._forget("bucket", name)

    # --- bucket documents ---------------------------------------------------------------------

    async def get_config(self, name: str, kind: str) -> str | None:
        async def load() -> dict[str, str]:
            found = await self._rows(
                DbOp.CONFIG_ROWS, {"bucket": name}, cr.ConfigRow, degraded=True
            )
            return {r.kind: r.value for r in found if rows.is_live(r)}

        documents = await self._cached(("configs", name), load)
        return documents.get(kind)

    async def set_config(self, name: str, kind: str, value: str | None) -> None:
        if await self._live_bucket_row(name) is None:
            raise NoBucket(name)
        await self._write({"configs": [cr.config_row(name, kind, value, rows.now_ns())]})
        self._forget("configs", name)

    # --- credentials --------------------------------------------------------------------------

    async def _live_credential_row(
        self, access_key: str, *, degraded: bool = False
    ) -> cr.CredentialRow | None:
        args = {"access_key": access_key}
        found = await self._rows(DbOp.CREDENTIAL_ROWS, args, cr.CredentialRow, degraded=degraded)
        live = [r for r in found if rows.is_live(r)]
        return live[0] if live else None

    async def create_credential(
        self,
        access_key: str,
        secret_key: str,
        *,
        is_admin: bool = False,
        description: str = "",
        grants: Mapping[str, str] | None = None,
    ) -> Credential:
        credential = new_credential(access_key, secret_key, is_admin, description, grants)
        if await self._live_credential_row(access_key) is not None:
            raise CredentialExists(access_key)
        await self._write({"credentials": [cr.credential_row(credential, rows.now_ns())]})
        self._forget("credential", access_key)
        return credential

    async def get_credential(self, access_key: str) -> Credential | None:
        """Read as every request needs it: a credential found by a degraded read (any one
        replica, while most are out of reach) is served, but None, "no such key", only comes
        from a quorum of replicas. Fewer cannot tell, and a key that exists must not be refused
        for that (it was, right after a cluster started): StorageUnavailable, which the client
        retries."""

        async def load() -> Credential | None:
            live = await self._live_credential_row(access_key, degraded=True)
            if live is None:  # maybe from fewer replicas than a quorum: ask a quorum
                try:
                    live = await self._live_credential_row(access_key)
                except StorageUnavailable as exc:
                    raise StorageUnavailable(
                        f"The credentials could not be read for sure. {exc.message}"
                    ) from exc
            return None if live is None else cr.credential_of(live)

        return await self._cached(("credential", access_key), load)

    async def list_credentials(self) -> list[Credential]:
        found = await self._rows(DbOp.CREDENTIAL_ROWS, {}, cr.CredentialRow)
        return [cr.credential_of(r) for r in sorted(r for r in found if rows.is_live(r))]

    async def delete_credential(self, access_key: str) -> bool:
        live = await self._live_credential_row(access_key)
        if live is not None:
            await self._write({"credentials": [rows.tombstone(live)]})
        self._forget("credential", access_key)
        return live is not None
