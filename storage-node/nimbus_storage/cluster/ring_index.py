"""A bucket index replicated on the storage nodes: ``IndexService`` over ``DatabaseReplicas``.

Every change is a row computed here and merged into a quorum of the index's replicas. What a
change depends on (the version a tag change applies to, the parts an abort drops) is read from
a quorum first and merged the way the database would (``rows.merge_rows``), so a replica that
missed a write cannot make the gateway act on a stale row. Listings and usage are read from one
replica (Swift's container listings: eventually consistent while a replica catches up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nimbus_storage.cluster.db_replicas import MISSING, DatabaseReplicas
from nimbus_storage.meta import rows
from nimbus_storage.meta.api import (
    ListPage,
    LockDecision,
    ObjectVersion,
    Part,
    Upload,
    UploadPage,
    VersionCheck,
)
from nimbus_storage.meta.db_names import bucket_db
from nimbus_storage.meta.errors import NoUpload
from nimbus_storage.meta.local_services import claimed_parts
from nimbus_storage.meta.replicated_db import RowBatch
from nimbus_storage.meta.rows import PartRow, UploadRow, VersionRow
from nimbus_storage.meta.services import IndexService
from nimbus_storage.protocol import db_wire
from nimbus_storage.protocol.db_ops import DbOp


class RingIndexService(IndexService):
    """One bucket's index, for one request (``S3Request.index()``): a client's reads of a key
    (its version, then its tags, for one GET) share one quorum read, forgotten at the first
    write made through this service."""

    def __init__(self, replicas: DatabaseReplicas, bucket: str) -> None:
        self.replicas = replicas
        self.bucket = bucket
        self.name = bucket_db(bucket)
        self._client_reads: dict[str, list[VersionRow]] = {}  # key -> rows of a degraded read

    async def _write(self, batch: RowBatch) -> dict[str, list[tuple[Any, ...]]]:
        self._client_reads.clear()
        return await self.replicas.write(self.name, batch)

    # --- quorum reads of raw rows -------------------------------------------------------------

    async def _key_rows(self, key: str, *, degraded: bool = False) -> list[VersionRow]:
        if degraded and key in self._client_reads:
            return self._client_reads[key]
        answers = await self.replicas.read_all(
            self.name, DbOp.KEY_ROWS, {"key": key}, degraded=degraded
        )
        merged = rows.merge_rows(_present(answers), VersionRow)
        if degraded:
            self._client_reads[key] = merged
        return merged

    async def _live_row(
        self, key: str, version_id: str | None, *, degraded: bool = False
    ) -> tuple[VersionRow | None, bool]:
        """The live row of that version (the newest when None) and whether it is the latest.

        ``degraded``: for answering a read, settle for fewer replicas than a quorum."""
        live = [r for r in await self._key_rows(key, degraded=degraded) if rows.is_live(r)]
        if not live:
            return None, False
        newest = max(live, key=lambda r: (r.created, rows.order(r)))
        if version_id is None:
            return newest, True
        found = [r for r in live if r.version_id == version_id]
        return (found[0], found[0] is newest) if found else (None, False)

    async def _upload_rows(self, upload_id: str) -> tuple[UploadRow | None, list[PartRow]]:
        args = {"upload_id": upload_id}
        answers = await self.replicas.read_all(self.name, DbOp.UPLOAD_ROWS, args)
        present = [(upload, parts) for upload, parts in _present(answers)]  # as upload_rows()
        uploads = rows.merge_rows(([upload] if upload else [] for upload, _ in present), UploadRow)
        found = rows.merge_rows((parts for _, parts in present), PartRow)
        return (uploads[0] if uploads else None), sorted(found, key=lambda r: r.part_number)

    async def _read_one(self, op: DbOp, **args: Any) -> Any:
        return await self.replicas.read_one(self.name, op, args)

    # --- versions -----------------------------------------------------------------------------

    async def get(self, key: str, version_id: str | None = None) -> ObjectVersion | None:
        row, latest = await self._live_row(key, version_id, degraded=True)
        return None if row is None else rows.version_of(row, is_latest=latest)

    async def put_version(
        self, v: ObjectVersion, versioning: str, *, tags: Mapping[str, str] | None = None
    ) -> list[ObjectVersion]:
        created = v.created or rows.now_ns()
        row = rows.version_row(v, created, v.updated or created, tags=tags)
        garbage = rows.rows_of(
            VersionRow, (await self._write({"versions": [row]})).get("versions", [])
        )
        return [rows.version_of(r, is_latest=False) for r in garbage]

    async def delete_version(
        self, key: str, version_id: str, *, check: VersionCheck | None = None
    ) -> ObjectVersion | None:
        row, latest = await self._live_row(key, version_id)
        if row is None:
            return None
        removed = rows.version_of(row, is_latest=latest)
        if check is not None:
            check(removed)
        await self._write({"versions": [rows.tombstone(row)]})
        return removed

    # --- listings and usage -------------------------------------------------------------------

    async def list_objects(
        self, prefix: str = "", delimiter: str = "", start_after: str = "", max_keys: int = 1000
    ) -> ListPage:
        found = await self._read_one(
            DbOp.LIST_OBJECTS,
            prefix=prefix,
            delimiter=delimiter,
            start_after=start_after,
            max_keys=max_keys,
        )
        return ListPage([], [], False, None) if found is MISSING else db_wire.list_page(found)

    async def list_versions(
        self,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        max_keys: int = 1000,
    ) -> ListPage:
        found = await self._read_one(
            DbOp.LIST_VERSIONS,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_id_marker=version_id_marker,
            max_keys=max_keys,
        )
        return ListPage([], [], False, None) if found is MISSING else db_wire.list_page(found)

    async def usage(self) -> tuple[int, int]:
        found = await self._read_one(DbOp.USAGE)
        return (0, 0) if found is MISSING else (int(found[0]), int(found[1]))

    async def has_versions(self) -> bool:
        """Whether any replica that answered (a quorum) holds a version or delete marker."""
        answers = await self.replicas.read_all(self.name, DbOp.HAS_VERSIONS, {})
        return any(a is not MISSING and a for a in answers)

    async def is_empty(self) -> bool:
        """Empty only when every replica that answered (a quorum) is empty."""
        answers = await self.replicas.read_all(self.name, DbOp.IS_EMPTY, {})
        return all(a is MISSING or a for a in answers)

    # --- per-version tags and ACLs ------------------------------------------------------------

    async def set_tags(self, key: str, version_id: str | None, tags: Mapping[str, str]) -> bool:
        row, _latest = await self._live_row(key, version_id)
        if row is None:
            return False
        await self._write({"versions": [rows.with_tags(row, tags)]})
        return True

    async def get_tags(self, key: str, version_id: str | None = None) -> dict[str, str] | None:
        row, _latest = await self._live_row(key, version_id, degraded=True)
        return None if row is None else rows.tags_of(row)

    async def delete_tags(self, key: str, version_id: str | None = None) -> bool:
        return await self.set_tags(key, version_id, {})

    async def set_acl(self, key: str, version_id: str | None, acl: str) -> bool:
        row, _latest = await self._live_row(key, version_id)
        if row is None:
            return False
        await self._write({"versions": [rows.with_acl(row, acl)]})
        return True

    async def set_lock(
        self, key: str, version_id: str | None, decide: LockDecision
    ) -> ObjectVersion | None:
        row, latest = await self._live_row(key, version_id)
        if row is None:
            return None
        changed = rows.with_lock(row, decide(rows.version_of(row, is_latest=latest)))
        await self._write({"versions": [changed]})
        return rows.version_of(changed, is_latest=latest)

    # --- multipart uploads --------------------------------------------------------------------

    async def create_upload(
        self, upload_id: str, key: str, initiated: float, meta: Mapping[str, str]
    ) -> Upload:
        upload = Upload(upload_id, key, initiated, dict(meta))
        await self._write({"uploads": [rows.upload_row(upload, rows.now_ns())]})
        return upload

    async def get_upload(self, upload_id: str) -> Upload | None:
        upload, _parts = await self._upload_rows(upload_id)
        return rows.upload_of(upload) if upload is not None and rows.is_live(upload) else None

    async def list_uploads(
        self,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadPage:
        found = await self._read_one(
            DbOp.LIST_UPLOADS,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )
        if found is MISSING:
            return UploadPage([], [], False, None, None)
        return db_wire.upload_page(found)

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
        if await self.get_upload(upload_id) is None:
            raise NoUpload(upload_id)
        part = Part(part_number, etag, size, blob, last_modified, checksum)
        row = rows.part_row(upload_id, part, rows.now_ns())
        garbage = rows.rows_of(PartRow, (await self._write({"parts": [row]})).get("parts", []))
        replaced = [rows.part_of(r) for r in garbage if r.blob != blob]
        return replaced[0] if replaced else None

    async def list_parts(
        self, upload_id: str, part_number_marker: int = 0, max_parts: int = 1000
    ) -> tuple[list[Part], bool, int | None]:
        parts = sorted((await self.get_parts(upload_id)).values(), key=lambda p: p.part_number)
        after = [p for p in parts if p.part_number > part_number_marker]
        page = after[: max(max_parts, 0)]
        truncated = len(after) > max_parts
        return page, truncated, (page[-1].part_number if truncated and page else None)

    async def get_parts(self, upload_id: str) -> dict[int, Part]:
        _upload, found = await self._upload_rows(upload_id)
        return {r.part_number: rows.part_of(r) for r in found if rows.is_live(r)}

    async def delete_upload(self, upload_id: str) -> list[Part]:
        """Its parts, if this call deleted it: a racing Complete or Abort through another
        gateway that won the claim keeps its parts (their blobs may be its object's)."""
        try:
            return await self.claim_upload(upload_id, {}) or []
        except NoUpload:
            return []

    async def claim_upload(self, upload_id: str, expected: Mapping[int, str]) -> list[Part] | None:
        """Claimed when a quorum of replicas claimed it: two gateways completing one upload at
        once cannot both get a quorum, so only one makes the object visible."""
        self._client_reads.clear()
        answers = await self.replicas.claim(
            self.name,
            DbOp.CLAIM_UPLOAD,
            {"upload_id": upload_id, "expected": [[n, b] for n, b in expected.items()]},
        )
        # Each answer is claim_upload()'s: [outcome, the part rows it claimed].
        claims = [(outcome, parts) for outcome, parts in _present(answers)]
        outcomes = [outcome for outcome, _ in claims] + ["missing"] * (len(answers) - len(claims))
        if outcomes.count("claimed") >= self.replicas.quorum():
            claimed = rows.merge_rows((parts for _, parts in claims), PartRow)
            return claimed_parts(upload_id, "claimed", sorted(claimed, key=lambda r: r.part_number))
        return claimed_parts(upload_id, "changed" if "changed" in outcomes else "missing", [])

    async def uploads_initiated_before(self, t: float) -> list[Upload]:
        found = await self._read_one(DbOp.UPLOADS_INITIATED_BEFORE, t=t)
        return [] if found is MISSING else [db_wire.upload(u) for u in found]


def _present(answers: Sequence[Any]) -> list[list[Any]]:
    return [a for a in answers if a is not MISSING]
