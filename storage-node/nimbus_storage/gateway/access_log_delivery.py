"""Delivery of server access logs: the records waiting per target (``AccessLogs``), written as
log objects straight into the target bucket (not through S3 requests, so writing them logs
nothing), retried a few times, then logged and dropped: a delivery never holds up a client's
request (gateway/access_log.py says when records are made)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from nimbus_storage.bucket_config.bucket_logging import LoggingTarget
from nimbus_storage.gateway import objects, sse_objects
from nimbus_storage.gateway.access_log_format import log_object_key
from nimbus_storage.gateway.context import Services
from nimbus_storage.gateway.object_lock import default_version_lock
from nimbus_storage.meta.api import Bucket
from nimbus_storage.sse.envelope import Kind

log = logging.getLogger("nimbus.access_log")
DELIVERY_ATTEMPTS = 3
RETRY_PAUSE = 0.5
LOG_CONTENT_TYPE = "text/plain"


# --- buffering and delivery -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Batch:
    """What the records of one log object share: their target, their source bucket (its owner
    and region) and, with EventTime, their day (midnight UTC, seconds since the epoch)."""

    target: LoggingTarget
    source_bucket: str
    source_owner: str
    source_region: str
    event_day: float | None = None


class DeliveryRefused(Exception):
    """A log object that cannot be delivered, however often it is tried."""


@dataclass
class AccessLogs:
    """The records waiting for delivery, per batch, and the task that delivers them."""

    flush_seconds: float
    flush_records: int
    max_records: int
    pending: dict[Batch, list[str]] = field(default_factory=dict)
    _wake: asyncio.Event | None = field(default=None, repr=False)

    def add(self, services: Services, batch: Batch, line: str) -> None:
        counter = services.metrics.access_log_records
        lines = self.pending.setdefault(batch, [])
        if len(lines) >= self.max_records:
            counter.labels("dropped_full").inc()
            return
        lines.append(line)
        counter.labels("buffered").inc()
        if len(lines) >= self.flush_records and self._wake is not None:
            self._wake.set()

    @property
    def buffered(self) -> int:
        return sum(len(lines) for lines in self.pending.values())

    async def flush(self, services: Services, *, attempts: int = DELIVERY_ATTEMPTS) -> int:
        """Deliver every buffer; the number of records delivered."""
        taken, self.pending = self.pending, {}
        batches = list(taken.items())
        delivered = 0
        for index, (batch, lines) in enumerate(batches):
            try:
                if lines and await _deliver_with_retries(services, batch, lines, attempts):
                    delivered += len(lines)
            except asyncio.CancelledError:
                # Stopped mid-flush: what is not delivered yet waits for the final flush.
                for waiting, rest in batches[index:]:
                    self.pending.setdefault(waiting, [])[:0] = rest
                raise
        return delivered

    async def run_forever(self, services: Services) -> None:
        self._wake = asyncio.Event()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            self._wake.clear()
            try:
                await self.flush(services)
            except Exception:
                log.exception("access log delivery failed; retrying next interval")


async def _deliver_with_retries(
    services: Services, batch: Batch, lines: list[str], attempts: int
) -> bool:
    counter = services.metrics.access_log_records
    for attempt in range(1, attempts + 1):
        try:
            await deliver(services, batch, lines, time.time())
        except DeliveryRefused as refused:
            log.warning(
                "access logs of bucket %s not delivered to %s: %s (%d records dropped)",
                batch.source_bucket,
                batch.target.bucket,
                refused,
                len(lines),
            )
            break
        except Exception as failed:
            if attempt < attempts:
                await asyncio.sleep(RETRY_PAUSE * attempt)
                continue
            log.warning(
                "access logs of bucket %s not delivered to %s after %d attempts: %s"
                " (%d records dropped)",
                batch.source_bucket,
                batch.target.bucket,
                attempts,
                failed,
                len(lines),
            )
            break
        else:
            counter.labels("delivered").inc(len(lines))
            return True
    counter.labels("dropped_failed").inc(len(lines))
    return False


async def _one_chunk(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def deliver(services: Services, batch: Batch, lines: list[str], now: float) -> str:
    """Write ``lines`` as one log object into the batch's target bucket; its key."""
    target = await services.catalog.get_bucket(batch.target.bucket)
    if target is None:
        raise DeliveryRefused("the target bucket does not exist")
    if target.owner != batch.source_owner:
        raise DeliveryRefused("the target bucket has another owner")
    key = log_object_key(
        batch.target,
        source_account=batch.source_owner,
        source_region=batch.source_region,
        source_bucket=batch.source_bucket,
        delivered=now,
        event_day=batch.event_day,
    )
    body = "".join(f"{line}\n" for line in lines).encode("utf-8", "surrogateescape")
    await write_log_object(services, target, key, body)
    return key


async def write_log_object(services: Services, bucket: Bucket, key: str, body: bytes) -> None:
    """Store ``body`` as ``key`` in ``bucket``, owned by the bucket's owner, encrypted as the
    bucket's default encryption says (SSE-S3; a bucket whose default is SSE-KMS gets no logs,
    as on AWS)."""
    await objects.check_quota(services, bucket, len(body))
    sse = await sse_objects.bucket_default(services, bucket.name)
    if sse is not None and sse.kind is not Kind.SSE_S3:
        raise DeliveryRefused("the target bucket's default encryption is SSE-KMS")
    encryption = None if sse is None else sse_objects.seal_write(services, sse, bucket.name, key)
    out = sse_objects.Outgoing.of(encryption, _one_chunk(body), len(body))
    stored = await objects.store_blob(
        services,
        bucket,
        key,
        out.chunks,
        {"content-type": LOG_CONTENT_TYPE} | out.meta,
        expected_size=out.stored_size,
        trailer=out.trailer,
    )
    await objects.commit_version(
        services,
        bucket,
        key,
        stored,
        etag=out.etag(stored.info.md5_hex),
        size=len(body),
        owner=bucket.owner,
        content_type=LOG_CONTENT_TYPE,
        lock=await default_version_lock(services, bucket),
    )
