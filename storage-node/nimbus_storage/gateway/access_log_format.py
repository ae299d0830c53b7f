"""AWS's server access log format: one record per request (``AccessLogRecord``, formatted by
``format_record``), the operation name AWS gives it, and the keys of the log objects
(gateway/access_log.py records requests; gateway/access_log_delivery.py delivers the lines)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from nimbus_storage.bucket_config.bucket_logging import LoggingTarget
from nimbus_storage.gateway.operation import Scope

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
