"""Server access logging: one record per request on a bucket whose logging is on, delivered as
log objects into the target bucket (PutBucketLogging; docs/s3-compatibility.md).

* ``record`` runs once a request's answer is sent (gateway/app.py): it formats the request in
  AWS's server access log format and adds the line to the buffer of its target;
* ``AccessLogs`` holds the buffers (at most ``access_log_max_records`` lines per target: more
  are dropped and counted) and writes each as one object into its target bucket, named by the
  target's key format, every ``access_log_flush_seconds``, when a buffer reaches
  ``access_log_flush_records`` lines, and when the gateway stops;
* log objects are written straight to storage, not through S3 requests, so writing them logs
  nothing. A delivery that fails is retried a few times, then logged and dropped: it never
  holds up or fails a client's request.

Each gateway delivers the records of the requests it served (as each of AWS's log servers
does), so a bucket served by several gateways gets log objects from each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from aiohttp import web

from nimbus_storage.bucket_config import bucket_logging
from nimbus_storage.bucket_config.bucket_logging import LoggingTarget
from nimbus_storage.gateway import objects, sse_objects
from nimbus_storage.gateway.context import S3Request, Services
from nimbus_storage.gateway.object_lock import default_version_lock
from nimbus_storage.gateway.operation import Scope
from nimbus_storage.meta.api import Bucket
from nimbus_storage.sse.envelope import Kind

log = logging.getLogger("nimbus.access_log")
LOGGING_CONFIG = "logging"  # the catalog's name of a bucket's BucketLoggingStatus
FIRST_BYTE = web.RequestKey("nimbus_first_byte", float)
DELIVERY_ATTEMPTS = 3
RETRY_PAUSE = 0.5
LOG_CONTENT_TYPE = "text/plain"
# AWS's name of each operation's resource type, in ``REST.<METHOD>.<TYPE>``; other operations
# are named from their sub-resource (``?versioning``: VERSIONING), else their scope.
RESOURCE_TYPES = {
    "ListObjects": "BUCKET",
    "ListObjectsV2": "BUCKET",
    "ListObjectVersions": "BUCKETVERSIONS",
    "ListMultipartUploads": "UPLOADS",
    "GetBucketPolicy": "BUCKETPOLICY",
    "PutBucketPolicy": "BUCKETPOLICY",
    "DeleteBucketPolicy": "BUCKETPOLICY",
    "GetBucketLogging": "LOGGING_STATUS",
    "PutBucketLogging": "LOGGING_STATUS",
    "GetBucketLocation": "LOCATION",
    "GetObjectTagging": "OBJECT_TAGGING",
    "PutObjectTagging": "OBJECT_TAGGING",
    "DeleteObjectTagging": "OBJECT_TAGGING",
    "GetObjectAcl": "ACL",
    "PutObjectAcl": "ACL",
    "GetObjectAttributes": "OBJECT_ATTRIBUTES",
    "CreateMultipartUpload": "UPLOADS",
    "UploadPart": "PART",
    "ListParts": "UPLOAD",
    "CompleteMultipartUpload": "UPLOAD",
    "AbortMultipartUpload": "UPLOAD",
    "DeleteObjects": "MULTI_OBJECT_DELETE",
    "GetPublicAccessBlock": "PUBLIC_ACCESS_BLOCK",
    "PutPublicAccessBlock": "PUBLIC_ACCESS_BLOCK",
    "DeletePublicAccessBlock": "PUBLIC_ACCESS_BLOCK",
    "GetBucketPolicyStatus": "POLICY_STATUS",
    "GetBucketOwnershipControls": "OWNERSHIP_CONTROLS",
    "PutBucketOwnershipControls": "OWNERSHIP_CONTROLS",
    "DeleteBucketOwnershipControls": "OWNERSHIP_CONTROLS",
    "PostObject": "OBJECT",
    "PreflightCors": "PREFLIGHT",
}
# Operations AWS names with a method of their own.
OPERATION_NAMES = {"CopyObject": "REST.COPY.OBJECT", "UploadPartCopy": "REST.COPY.PART"}


# --- the record -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessLogRecord:
    """One request, as the fields of AWS's server access log format; "" and None are ``-``."""

    bucket_owner: str
    bucket: str
    time: float  # when the request was received, seconds since the epoch
    remote_ip: str
    requester: str
    request_id: str
    operation: str
    key: str
    request_uri: str  # "GET /bucket/key?x HTTP/1.1"
    status: int
    error_code: str = ""
    bytes_sent: int = 0
    object_size: int | None = None
    total_ms: int | None = None
    turnaround_ms: int | None = None
    referer: str = ""
    user_agent: str = ""
    version_id: str = ""
    host_id: str = ""
    signature_version: str = ""
    cipher_suite: str = ""
    auth_type: str = ""
    host: str = ""
    tls_version: str = ""
    access_point_arn: str = ""
    acl_required: bool = False


def _bare(value: str | int | None) -> str:
    """An unquoted field: ``-`` when empty; white space and controls percent-escaped, so that
    the record stays one line of space-separated fields."""
    if value is None or value == "":
        return "-"
    text = str(value)
    return "".join(f"%{ord(c):02X}" if c.isspace() or ord(c) < 0x20 else c for c in text)


def _quoted(value: str) -> str:
    """A quoted field (Request-URI, Referer, User-Agent): ``"-"`` when empty; quotes and
    backslashes escaped, controls percent-escaped."""
    if not value:
        return '"-"'
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(f"%{ord(c):02X}" if ord(c) < 0x20 or ord(c) == 0x7F else c for c in escaped)
    return f'"{escaped}"'


def log_time(seconds: float) -> str:
    """``[06/Feb/2019:00:00:38 +0000]``"""
    return datetime.fromtimestamp(seconds, UTC).strftime("[%d/%b/%Y:%H:%M:%S +0000]")


def format_record(record: AccessLogRecord) -> str:
    """The record as one line of AWS's server access log format (no line feed)."""
    fields = [
        _bare(record.bucket_owner),
        _bare(record.bucket),
        log_time(record.time),
        _bare(record.remote_ip),
        _bare(record.requester),
        _bare(record.request_id),
        _bare(record.operation),
        _bare(quote(record.key, safe="/") if record.key else ""),
        _quoted(record.request_uri),
        str(record.status),
        _bare(record.error_code),
        _bare(record.bytes_sent or None),
        _bare(record.object_size),
        _bare(record.total_ms),
        _bare(record.turnaround_ms),
        _quoted(record.referer),
        _quoted(record.user_agent),
        _bare(record.version_id),
        _bare(record.host_id),
        _bare(record.signature_version),
        _bare(record.cipher_suite),
        _bare(record.auth_type),
        _bare(record.host),
        _bare(record.tls_version),
        _bare(record.access_point_arn),
        "Yes" if record.acl_required else "-",
    ]
    return " ".join(fields)


def operation_name(
    method: str, operation: str, subresource: str | None, scope: Scope | None
) -> str:
    """``REST.PUT.OBJECT``, ``REST.GET.VERSIONING`` ..."""
    if operation in OPERATION_NAMES:
        return OPERATION_NAMES[operation]
    kind = RESOURCE_TYPES.get(operation)
    if kind is None:
        if subresource is not None:
            kind = subresource.replace("-", "_").upper()
        else:
            kind = "OBJECT" if scope is Scope.OBJECT else "BUCKET"
    return f"REST.{method}.{kind}"


# --- the log objects' keys ------------------------------------------------------------------


def unique_string() -> str:
    return os.urandom(8).hex().upper()


def log_object_key(
    target: LoggingTarget,
    *,
    source_account: str,
    source_region: str,
    source_bucket: str,
    delivered: float,
    event_day: float | None = None,
    unique: str | None = None,
) -> str:
    """The key of a log object delivered at ``delivered``: SimplePrefix
    ``[TargetPrefix]YYYY-mm-DD-HH-MM-SS-UniqueString``; PartitionedPrefix
    ``[TargetPrefix][SourceAccountId]/[SourceRegion]/[SourceBucket]/[YYYY]/[MM]/[DD]/`` then
    the same name, dated ``event_day`` at 00:00:00 with EventTime."""
    unique = unique or unique_string()
    at = datetime.fromtimestamp(delivered, UTC)
    if target.key_format == "simple":
        return f"{target.prefix}{at:%Y-%m-%d-%H-%M-%S}-{unique}"
    if target.by_event_time and event_day is not None:
        day = datetime.fromtimestamp(event_day, UTC)
        at = day.replace(hour=0, minute=0, second=0, microsecond=0)
    partition = f"{source_account}/{source_region}/{source_bucket}/{at:%Y}/{at:%m}/{at:%d}/"
    return f"{target.prefix}{partition}{at:%Y-%m-%d-%H-%M-%S}-{unique}"


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


# --- recording a request --------------------------------------------------------------------


async def logging_target(services: Services, bucket: Bucket) -> LoggingTarget | None:
    stored = await services.catalog.get_config(bucket.name, LOGGING_CONFIG)
    return bucket_logging.from_json(stored) if stored else None


def _object_size(request: S3Request, response: web.StreamResponse) -> int | None:
    if request.operation.scope is not Scope.OBJECT:
        return None
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and content_range.rpartition("/")[2].isdigit():
        return int(content_range.rpartition("/")[2])
    if request.http.method in ("PUT", "POST"):
        declared = request.headers.get("x-amz-decoded-content-length") or request.headers.get(
            "Content-Length"
        )
        return int(declared) if declared and declared.isdigit() else None
    return response.content_length if response.status < 300 else None


def _bytes_sent(request: S3Request, response: web.StreamResponse) -> int:
    if request.http.method == "HEAD" or response.status in (204, 304):
        return 0
    if response.content_length is not None:
        return response.content_length
    return response.body_length


def _auth_type(request: S3Request) -> tuple[str, str]:
    """Signature version and authentication type (``-`` for anonymous requests)."""
    auth = request.auth
    if auth is None:
        return "", ""
    version = f"SigV{auth.signature_version}"
    if request.form is not None:
        return version, ""
    return version, "QueryString" if auth.presigned else "AuthHeader"


async def record(
    request: S3Request | None,
    response: web.StreamResponse,
    *,
    error_code: str,
    received: float,
    started: float,
) -> None:
    """Finish sending ``response``, then add the request's record to its bucket's target (if
    logging is on); called by the gateway for every request. A failure here is logged, never
    the request's."""
    if request is None or request.bucket is None or request.services.access_logs is None:
        return
    services, bucket, logs = request.services, request.bucket, request.services.access_logs
    try:
        target = await logging_target(services, bucket)
        if target is None:
            return
        http, version = request.http, request.http.version
        try:
            await response.prepare(http)
            await response.write_eof()
        except ConnectionError:
            pass  # recorded all the same: the client went away
        finished = time.perf_counter()
        first_byte = http.get(FIRST_BYTE, finished)
        signature, auth_type = _auth_type(request)
        version_id = response.headers.get("x-amz-version-id") or request.query.get("versionId", "")
        entry = AccessLogRecord(
            bucket_owner=bucket.owner,
            bucket=bucket.name,
            time=received,
            remote_ip=http.remote or "",
            requester=request.principal or "",
            request_id=request.request_id,
            operation=operation_name(
                http.method,
                request.operation.name,
                request.operation.subresource,
                request.operation.scope,
            ),
            key=request.key,
            request_uri=f"{http.method} {http.raw_path} HTTP/{version.major}.{version.minor}",
            status=response.status,
            error_code=error_code,
            bytes_sent=_bytes_sent(request, response),
            object_size=_object_size(request, response),
            total_ms=max(0, round((finished - started) * 1000)),
            turnaround_ms=max(0, round((first_byte - started) * 1000)),
            referer=request.headers.get("Referer", ""),
            user_agent=request.headers.get("User-Agent", ""),
            version_id=version_id,
            host_id=response.headers.get("x-amz-id-2", ""),
            signature_version=signature,
            auth_type=auth_type,
            host=http.host,
            acl_required=request.object_acl_required,
        )
        region = bucket.region or services.config.region
        day = None
        if target.by_event_time:
            day = float(int(received // 86400) * 86400)
        batch = Batch(target, bucket.name, bucket.owner, region, day)
        logs.add(services, batch, format_record(entry))
    except Exception:
        log.exception("access log record of request %s not kept", request.request_id)


async def stamp_first_byte(http: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: when the answer's first byte went out (turn-around time)."""
    http[FIRST_BYTE] = time.perf_counter()
