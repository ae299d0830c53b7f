"""Prometheus metrics of the gateway, served at ``/_nimbus/metrics``.

Each gateway owns a registry, so several gateways in one process (tests, benchmarks) never
collide on metric names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "nimbus_s3_requests",
            "S3 requests handled, by operation and HTTP status.",
            ["operation", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "nimbus_s3_errors",
            "S3 error responses, by AWS error code.",
            ["code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nimbus_s3_request_duration_seconds",
            "Time from request to response headers, by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.bytes_in = Counter(
            "nimbus_s3_received_bytes", "Object bytes received.", registry=self.registry
        )
        self.bytes_out = Counter(
            "nimbus_s3_sent_bytes", "Object bytes sent.", registry=self.registry
        )
        self.in_flight = Gauge(
            "nimbus_s3_requests_in_flight", "Requests being handled.", registry=self.registry
        )
        self.lifecycle_expired = Counter(
            "nimbus_lifecycle_expired_objects",
            "Objects and versions removed by lifecycle rules.",
            registry=self.registry,
        )
        self.uploads_aborted = Counter(
            "nimbus_multipart_uploads_aborted",
            "Abandoned multipart uploads cleaned up by the janitor.",
            registry=self.registry,
        )
        self.access_log_records = Counter(
            "nimbus_s3_access_log_records",
            "Server access log records: buffered, delivered, dropped_full (the target's buffer"
            " was full) or dropped_failed (the delivery failed).",
            ["result"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
