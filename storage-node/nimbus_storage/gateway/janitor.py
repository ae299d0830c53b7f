"""Background housekeeping: lifecycle expiration and abandoned multipart uploads.

One pass walks every bucket: current versions past their rule's expiration are deleted (a
delete marker in a versioned bucket, exactly as S3 does), noncurrent versions and lone delete
markers are removed when a rule says so, and multipart uploads are aborted when a rule's
AbortIncompleteMultipartUpload or the gateway-wide abandonment limit has passed. Each bucket
gets at most ``janitor_batch`` removals per pass, so a large expiry never starves clients.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from nimbus_storage.gateway import objects
from nimbus_storage.gateway.context import Services
from nimbus_storage.policy import lifecycle
from nimbus_storage.store.catalog import Bucket
from nimbus_storage.store.index import BucketIndex

log = logging.getLogger("nimbus.janitor")


@dataclass
class PassReport:
    expired: int = 0
    uploads_aborted: int = 0


async def _expire_versions(
    services: Services,
    bucket: Bucket,
    rules: lifecycle.LifecycleConfiguration,
    now: float,
    budget: int,
) -> int:
    index = services.catalog.index(bucket.name)
    removed = 0
    key_marker, version_marker = "", ""
    newer_noncurrent: dict[str, int] = {}
    became_noncurrent: dict[str, float] = {}
    while removed < budget:
        page = index.list_versions("", "", key_marker, version_marker, 1000)
        for version in page.entries:
            if removed >= budget:
                break
            tags = index.get_tags(version.key, version.version_id) or {}
            if version.is_latest:
                newer_noncurrent[version.key] = 0
                became_noncurrent[version.key] = version.last_modified
                if version.delete_marker:
                    others = _other_versions(index, version.key)
                    if lifecycle.delete_marker_expired(rules, version.key, others):
                        await objects.delete_object(
                            services, bucket, version.key, version.version_id
                        )
                        removed += 1
                elif lifecycle.current_expired(
                    rules, version.key, version.size, tags, version.last_modified, now
                ):
                    await objects.delete_object(services, bucket, version.key, None)
                    removed += 1
                continue
            count = newer_noncurrent.get(version.key, 0)
            since = became_noncurrent.get(version.key, version.last_modified)
            if not version.delete_marker and lifecycle.noncurrent_expired(
                rules, version.key, version.size, tags, since, count, now
            ):
                await objects.delete_object(services, bucket, version.key, version.version_id)
                removed += 1
            else:
                newer_noncurrent[version.key] = count + 1
            became_noncurrent[version.key] = version.last_modified
        if not page.is_truncated:
            break
        key_marker = page.next_marker or ""
        version_marker = page.next_version_marker or ""
    return removed


def _other_versions(index: BucketIndex, key: str) -> int:
    """How many versions of ``key`` exist besides its newest one (0 or 1 is enough to know)."""
    page = index.list_versions(key, "", "", "", 2)
    return sum(1 for version in page.entries if version.key == key) - 1


async def _abort_abandoned(
    services: Services, bucket: Bucket, rules: lifecycle.LifecycleConfiguration | None, now: float
) -> int:
    index = services.catalog.index(bucket.name)
    limit = now - services.config.abandoned_upload_seconds
    aborted = 0
    for upload in index.uploads_initiated_before(now):
        too_old = upload.initiated < limit
        by_rule = rules is not None and lifecycle.upload_abandoned(
            rules, upload.key, upload.initiated, now
        )
        if not (too_old or by_rule):
            continue
        timestamp = f"{now:016.05f}"
        for part in index.delete_upload(upload.upload_id):
            await services.blobs.delete(part.blob, timestamp)
        aborted += 1
    return aborted


async def run_pass(services: Services, now: float | None = None) -> PassReport:
    now = time.time() if now is None else now
    report = PassReport()
    for bucket in services.catalog.list_buckets(None):
        stored = services.catalog.get_config(bucket.name, "lifecycle")
        rules = lifecycle.from_json(stored) if stored else None
        if rules is not None:
            report.expired += await _expire_versions(
                services, bucket, rules, now, services.config.janitor_batch
            )
        report.uploads_aborted += await _abort_abandoned(services, bucket, rules, now)
    services.metrics.lifecycle_expired.inc(report.expired)
    services.metrics.uploads_aborted.inc(report.uploads_aborted)
    if report.expired or report.uploads_aborted:
        log.info(
            "janitor pass: %d versions expired, %d uploads aborted",
            report.expired,
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
