"""Background housekeeping: lifecycle expiration and abandoned multipart uploads.

One pass walks every bucket: current versions past their rule's expiration are deleted (a
delete marker in a versioned bucket, exactly as S3 does), noncurrent versions and lone delete
markers are removed when a rule says so, and multipart uploads are aborted when a rule's
AbortIncompleteMultipartUpload or the gateway-wide abandonment limit has passed.

A pass looks at no more than ``janitor_scan_batch`` versions and removes no more than
``janitor_batch`` per bucket, then resumes there on the next pass: a bucket of millions of
objects is swept over several passes and never holds the event loop for long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from nimbus_storage.bucket_config import lifecycle
from nimbus_storage.gateway import objects
from nimbus_storage.gateway.context import Services
from nimbus_storage.gateway.object_lock import keep_locked
from nimbus_storage.meta.api import Bucket, ObjectVersion
from nimbus_storage.meta.services import IndexService
from nimbus_storage.s3errors import AccessDenied

log = logging.getLogger("nimbus.janitor")


@dataclass
class PassReport:
    expired: int = 0
    kept_locked: int = 0  # versions lifecycle would have removed, kept by Object Lock
    uploads_aborted: int = 0


@dataclass
class _KeyHistory:
    """What a sweep knows about the key it is in: versions come newest first."""

    key: str = ""
    newer_noncurrent: int = 0
    # When the version being looked at stopped being current: the next newer one's write time.
    superseded_at: float = 0.0


@dataclass
class _Sweep:
    """One bucket's lifecycle sweep, resumable: it stops only between keys."""

    services: Services
    bucket: Bucket
    rules: lifecycle.LifecycleConfiguration
    now: float
    removed: int = 0
    kept_locked: int = 0
    history: _KeyHistory = field(default_factory=_KeyHistory)

    @property
    def index(self) -> IndexService:
        return self.services.catalog.index(self.bucket.name)

    @property
    def needs_tags(self) -> bool:
        return any(rule.filter.tags for rule in self.rules.rules)

    async def visit(self, version: ObjectVersion) -> None:
        if version.key != self.history.key:
            self.history = _KeyHistory(version.key)
        tags = (
            (await self.index.get_tags(version.key, version.version_id) or {})
            if self.needs_tags
            else {}
        )
        if version.is_latest:
            await self._visit_current(version, tags)
        else:
            await self._visit_noncurrent(version, tags)
        self.history.superseded_at = version.last_modified

    async def _visit_current(self, version: ObjectVersion, tags: dict[str, str]) -> None:
        if version.delete_marker:
            others = await _other_versions(self.index, version.key)
            if lifecycle.delete_marker_expired(self.rules, version.key, others):
                await self._delete(version.key, version.version_id)
        elif lifecycle.current_expired(
            self.rules, version.key, version.size, tags, version.last_modified, self.now
        ):
            await self._delete(version.key, None)

    async def _visit_noncurrent(self, version: ObjectVersion, tags: dict[str, str]) -> None:
        if not version.delete_marker and lifecycle.noncurrent_expired(
            self.rules,
            version.key,
            version.size,
            tags,
            self.history.superseded_at,
            self.history.newer_noncurrent,
            self.now,
        ):
            await self._delete(version.key, version.version_id)
        else:
            self.history.newer_noncurrent += 1

    async def _delete(self, key: str, version_id: str | None) -> None:
        """Remove a version (or add a delete marker, ``version_id`` None); a version Object
        Lock protects stays, as lifecycle leaves it on AWS."""
        try:
            await objects.delete_object(
                self.services,
                self.bucket,
                key,
                version_id,
                check=keep_locked(bypass_governance=False, now=self.now),
            )
        except AccessDenied:
            self.kept_locked += 1
            return
        self.removed += 1


async def _sweep_bucket(
    sweep: _Sweep, start_after: str, scan_budget: int, remove_budget: int
) -> str:
    """Visit versions after ``start_after`` until a budget is spent; return where to resume.

    A sweep stops only between keys, so the next pass starts on a key boundary with a fresh
    history ("" when it reached the end: the next pass starts over).
    """
    key_marker, version_marker = start_after, ""
    scanned = 0
    while True:
        page = await sweep.index.list_versions("", "", key_marker, version_marker, 1000)
        for version in page.entries:
            at_boundary = version.key != sweep.history.key
            if at_boundary and (scanned >= scan_budget or sweep.removed >= remove_budget):
                return sweep.history.key
            await sweep.visit(version)
            scanned += 1
        if not page.is_truncated:
            return ""
        key_marker = page.next_marker or ""
        version_marker = page.next_version_marker or ""
        await asyncio.sleep(0)  # let client requests in between pages


async def _other_versions(index: IndexService, key: str) -> int:
    """How many versions of ``key`` exist besides its newest one (0 or 1 is enough to know)."""
    page = await index.list_versions(key, "", "", "", 2)
    return sum(1 for version in page.entries if version.key == key) - 1


async def _abort_abandoned(
    services: Services, bucket: Bucket, rules: lifecycle.LifecycleConfiguration | None, now: float
) -> int:
    index = services.catalog.index(bucket.name)
    limit = now - services.config.abandoned_upload_seconds
    aborted = 0
    for upload in await index.uploads_initiated_before(now):
        too_old = upload.initiated < limit
        by_rule = rules is not None and lifecycle.upload_abandoned(
            rules, upload.key, upload.initiated, now
        )
        if not (too_old or by_rule):
            continue
        timestamp = f"{now:016.05f}"
        for part in await index.delete_upload(upload.upload_id):
            await services.blobs_for(bucket).delete(part.blob, timestamp)
        aborted += 1
    return aborted


async def run_pass(services: Services, now: float | None = None) -> PassReport:
    now = time.time() if now is None else now
    report = PassReport()
    config = services.config
    for bucket in await services.catalog.list_buckets(None):
        stored = await services.catalog.get_config(bucket.name, "lifecycle")
        rules = lifecycle.from_json(stored) if stored else None
        if rules is not None:
            sweep = _Sweep(services, bucket, rules, now)
            services.sweep_cursors[bucket.name] = await _sweep_bucket(
                sweep,
                services.sweep_cursors.get(bucket.name, ""),
                config.janitor_scan_batch,
                config.janitor_batch,
            )
            report.expired += sweep.removed
            report.kept_locked += sweep.kept_locked
        report.uploads_aborted += await _abort_abandoned(services, bucket, rules, now)
    services.metrics.lifecycle_expired.inc(report.expired)
    services.metrics.uploads_aborted.inc(report.uploads_aborted)
    if report.expired or report.uploads_aborted or report.kept_locked:
        log.info(
            "janitor pass: %d versions expired, %d kept by Object Lock, %d uploads aborted",
            report.expired,
            report.kept_locked,
            report.uploads_aborted,
        )
    return report


async def run_forever(services: Services) -> None:
    while True:
        await asyncio.sleep(services.config.janitor_interval_seconds)
        try:
            await run_pass(services)
        except Exception:
            log.exception("janitor pass failed; retrying next interval")
