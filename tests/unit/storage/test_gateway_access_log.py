"""Server access logging: the BucketLoggingStatus document, the record format, the log
objects' keys and the bounded buffer (gateway/access_log.py, bucket_config/bucket_logging.py)."""

from __future__ import annotations

import calendar
import re
import shlex
from types import SimpleNamespace
from typing import cast

import pytest
from nimbus_storage.bucket_config.bucket_logging import (
    LoggingTarget,
    from_json,
    parse_logging_status,
    render_logging_status,
    to_json,
)
from nimbus_storage.gateway.access_log_delivery import AccessLogs, Batch
from nimbus_storage.gateway.access_log_format import (
    AccessLogRecord,
    format_record,
    log_object_key,
    log_time,
    operation_name,
)
from nimbus_storage.gateway.context import Services
from nimbus_storage.gateway.metrics import GatewayMetrics
from nimbus_storage.gateway.operation import Scope
from nimbus_storage.s3errors import MalformedXML

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
# 2019-02-06 00:00:38 UTC, AWS's example.
EXAMPLE_TIME = calendar.timegm((2019, 2, 6, 0, 0, 38))


def status(inner: str) -> bytes:
    return f"<BucketLoggingStatus {NS} {XSI}>{inner}</BucketLoggingStatus>".encode()


# --- the document -----------------------------------------------------------------------------


def test_empty_status_turns_logging_off() -> None:
    assert parse_logging_status(status("")).target is None


def test_simple_target() -> None:
    parsed = parse_logging_status(
        status(
            "<LoggingEnabled><TargetBucket>logs</TargetBucket>"
            "<TargetPrefix>access/ </TargetPrefix></LoggingEnabled>"
        )
    )
    assert parsed.target == LoggingTarget("logs", "access/ ")
    assert parsed.grants == ()


@pytest.mark.parametrize(
    ("key_format", "expected"),
    [
        ("<SimplePrefix/>", ("simple", "")),
        ("<PartitionedPrefix/>", ("partitioned", "")),
        (
            "<PartitionedPrefix><PartitionDateSource>EventTime</PartitionDateSource>"
            "</PartitionedPrefix>",
            ("partitioned", "EventTime"),
        ),
        (
            "<PartitionedPrefix><PartitionDateSource>DeliveryTime</PartitionDateSource>"
            "</PartitionedPrefix>",
            ("partitioned", "DeliveryTime"),
        ),
    ],
)
def test_key_formats_round_trip(key_format: str, expected: tuple[str, str]) -> None:
    body = status(
        "<LoggingEnabled><TargetBucket>logs</TargetBucket><TargetPrefix>p/</TargetPrefix>"
        f"<TargetObjectKeyFormat>{key_format}</TargetObjectKeyFormat></LoggingEnabled>"
    )
    target = parse_logging_status(body).target
    assert target is not None
    assert (target.key_format, target.date_source) == expected
    assert from_json(to_json(target)) == target
    assert parse_logging_status(render_logging_status(target)).target == target


@pytest.mark.parametrize(
    "inner",
    [
        "<LoggingEnabled><TargetPrefix>p</TargetPrefix></LoggingEnabled>",
        "<LoggingEnabled><TargetBucket>logs</TargetBucket></LoggingEnabled>",
        "<LoggingEnabled><TargetBucket>l</TargetBucket><TargetPrefix/><Other/></LoggingEnabled>",
        "<Unknown/>",
        "<LoggingEnabled><TargetBucket>l</TargetBucket><TargetPrefix/>"
        "<TargetObjectKeyFormat><SimplePrefix/><PartitionedPrefix/></TargetObjectKeyFormat>"
        "</LoggingEnabled>",
        "<LoggingEnabled><TargetBucket>l</TargetBucket><TargetPrefix/>"
        "<TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>Later"
        "</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat></LoggingEnabled>",
        "<LoggingEnabled><TargetBucket>l</TargetBucket><TargetPrefix/><TargetGrants><Grant>"
        "<Permission>READ</Permission></Grant></TargetGrants></LoggingEnabled>",
    ],
)
def test_malformed_documents(inner: str) -> None:
    with pytest.raises(MalformedXML):
        parse_logging_status(status(inner))


def test_target_grants_are_read() -> None:
    parsed = parse_logging_status(
        status(
            "<LoggingEnabled><TargetBucket>l</TargetBucket><TargetPrefix/><TargetGrants>"
            '<Grant><Grantee xsi:type="CanonicalUser"><ID>OWNER</ID></Grantee>'
            "<Permission>FULL_CONTROL</Permission></Grant>"
            '<Grant><Grantee xsi:type="Group"><URI>http://g</URI></Grantee>'
            "<Permission>READ</Permission></Grant></TargetGrants></LoggingEnabled>"
        )
    )
    assert [(g.grantee_type, g.grantee, g.permission) for g in parsed.grants] == [
        ("CanonicalUser", "OWNER", "FULL_CONTROL"),
        ("Group", "http://g", "READ"),
    ]


def test_render_off() -> None:
    assert b"<LoggingEnabled>" not in render_logging_status(None)


# --- the record -------------------------------------------------------------------------------


def test_time_format() -> None:
    assert log_time(EXAMPLE_TIME) == "[06/Feb/2019:00:00:38 +0000]"


def test_record_fields_in_order_with_dashes_for_empty_ones() -> None:
    record = AccessLogRecord(
        bucket_owner="OWNER",
        bucket="b",
        time=EXAMPLE_TIME,
        remote_ip="192.0.2.3",
        requester="",
        request_id="3E57427F3EXAMPLE",
        operation="REST.GET.VERSIONING",
        key="",
        request_uri="GET /b?versioning HTTP/1.1",
        status=200,
        bytes_sent=113,
        total_ms=7,
        user_agent="S3Console/0.4",
        signature_version="SigV4",
        auth_type="AuthHeader",
        host="localhost:9000",
    )
    assert format_record(record) == (
        "OWNER b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING"
        ' - "GET /b?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - - SigV4 -'
        " AuthHeader localhost:9000 - - -"
    )


def test_record_quoting_keeps_one_line_of_fields() -> None:
    record = AccessLogRecord(
        bucket_owner="OWNER",
        bucket="b",
        time=EXAMPLE_TIME,
        remote_ip="192.0.2.3",
        requester="AKEY",
        request_id="R",
        operation="REST.PUT.OBJECT",
        key='dir/a b"\n.txt',
        request_uri="PUT /b/dir/a%20b%22%0A.txt HTTP/1.1",
        status=403,
        error_code="AccessDenied",
        object_size=0,
        referer='http://x/"quoted"',
        user_agent="agent\nwith a line feed \\ and a backslash",
        host="host with space",
        acl_required=True,
    )
    line = format_record(record)
    assert "\n" not in line
    fields = shlex.split(line.replace("[06/Feb/2019:00:00:38 +0000]", "TIME"), posix=True)
    assert len(fields) == 26
    assert fields[7] == "dir/a%20b%22%0A.txt"  # the key, URL-encoded
    assert fields[9:13] == ["403", "AccessDenied", "-", "0"]  # no bytes sent; size 0
    assert fields[15] == 'http://x/"quoted"'
    assert fields[16] == "agent%0Awith a line feed \\ and a backslash"
    assert fields[22] == "host%20with%20space"
    assert fields[-1] == "Yes"


@pytest.mark.parametrize(
    ("method", "operation", "subresource", "scope", "expected"),
    [
        ("PUT", "PutObject", None, Scope.OBJECT, "REST.PUT.OBJECT"),
        ("GET", "GetObject", None, Scope.OBJECT, "REST.GET.OBJECT"),
        ("HEAD", "HeadObject", None, Scope.OBJECT, "REST.HEAD.OBJECT"),
        ("GET", "ListObjectsV2", None, Scope.BUCKET, "REST.GET.BUCKET"),
        ("GET", "GetBucketVersioning", "versioning", Scope.BUCKET, "REST.GET.VERSIONING"),
        ("PUT", "PutBucketLogging", "logging", Scope.BUCKET, "REST.PUT.LOGGING_STATUS"),
        ("PUT", "CopyObject", None, Scope.OBJECT, "REST.COPY.OBJECT"),
        ("POST", "DeleteObjects", "delete", Scope.BUCKET, "REST.POST.MULTI_OBJECT_DELETE"),
    ],
)
def test_operation_names(
    method: str, operation: str, subresource: str | None, scope: Scope, expected: str
) -> None:
    assert operation_name(method, operation, subresource, scope) == expected


# --- the keys of log objects ------------------------------------------------------------------

DELIVERED = calendar.timegm((2024, 3, 9, 17, 5, 42))
EVENT = calendar.timegm((2024, 3, 8, 23, 59, 59))


def test_simple_prefix_key() -> None:
    key = log_object_key(
        LoggingTarget("logs", "access/"),
        source_account="OWNER",
        source_region="us-east-1",
        source_bucket="src",
        delivered=DELIVERED,
        unique="0123456789ABCDEF",
    )
    assert key == "access/2024-03-09-17-05-42-0123456789ABCDEF"


def test_unique_strings_differ() -> None:
    target = LoggingTarget("logs", "")
    keys = {
        log_object_key(
            target, source_account="O", source_region="r", source_bucket="s", delivered=DELIVERED
        )
        for _ in range(20)
    }
    assert len(keys) == 20
    assert all(re.fullmatch(r"2024-03-09-17-05-42-[0-9A-F]{16}", key) for key in keys)


def test_partitioned_prefix_by_delivery_time() -> None:
    key = log_object_key(
        LoggingTarget("logs", "p/", "partitioned", "DeliveryTime", True),
        source_account="OWNER",
        source_region="eu-west-1",
        source_bucket="src",
        delivered=DELIVERED,
        event_day=None,
        unique="U",
    )
    assert key == "p/OWNER/eu-west-1/src/2024/03/09/2024-03-09-17-05-42-U"


def test_partitioned_prefix_by_event_time_is_the_day_at_midnight() -> None:
    key = log_object_key(
        LoggingTarget("logs", "p/", "partitioned", "EventTime", True),
        source_account="OWNER",
        source_region="us-east-1",
        source_bucket="src",
        delivered=DELIVERED,
        event_day=EVENT,
        unique="U",
    )
    assert key == "p/OWNER/us-east-1/src/2024/03/08/2024-03-08-00-00-00-U"


# --- the buffer -------------------------------------------------------------------------------


def test_buffer_is_bounded_and_counts_drops() -> None:
    metrics = GatewayMetrics()
    services = cast(Services, SimpleNamespace(metrics=metrics))
    logs = AccessLogs(flush_seconds=60, flush_records=1000, max_records=3)
    batch = Batch(LoggingTarget("logs", ""), "src", "OWNER", "us-east-1")
    for number in range(5):
        logs.add(services, batch, f"line {number}")
    assert logs.pending[batch] == ["line 0", "line 1", "line 2"]
    exposition = metrics.exposition().decode()
    assert 'nimbus_s3_access_log_records_total{result="buffered"} 3.0' in exposition
    assert 'nimbus_s3_access_log_records_total{result="dropped_full"} 2.0' in exposition
