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

import logging
import time

from aiohttp import web

from nimbus_storage.bucket_config import bucket_logging
from nimbus_storage.bucket_config.bucket_logging import LoggingTarget
from nimbus_storage.gateway.access_log_delivery import Batch
from nimbus_storage.gateway.access_log_format import AccessLogRecord, format_record, operation_name
from nimbus_storage.gateway.context import S3Request, Services
from nimbus_storage.gateway.operation import Scope
from nimbus_storage.meta.api import Bucket

log = logging.getLogger("nimbus.access_log")
LOGGING_CONFIG = "logging"  # the catalog's name of a bucket's BucketLoggingStatus
FIRST_BYTE = web.RequestKey("nimbus_first_byte", float)
LOG_CONTENT_TYPE = "text/plain"


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
