"""Prometheus metrics of a storage node, served at ``/_nimbus/metrics``.

Each node owns a registry, so several nodes in one process (tests) never collide.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class NodeMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "nimbus_node_requests",
            "Node requests handled, by method and HTTP status.",
            ["method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "nimbus_node_request_duration_seconds",
            "Time to handle a request, streamed body included, by method.",
            ["method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.bytes_in = Counter(
            "nimbus_node_received_bytes", "Object bytes received.", registry=registry
        )
        self.bytes_out = Counter("nimbus_node_sent_bytes", "Object bytes sent.", registry=registry)
        self.put_no_space = Counter(
            "nimbus_node_put_no_space",
            "PUTs answered 507 for want of space, by device and when: before_body (Expect:"
            " 100-continue, free space below Content-Length plus the reserve) or mid_body"
            " (ENOSPC/EDQUOT while writing).",
            ["device", "when"],
            registry=registry,
        )
        self.corrupt_reads = Counter(
            "nimbus_node_corrupt_reads",
            "GETs cut short because a block failed its digest check.",
            registry=registry,
        )
        self.read_quarantined = Counter(
            "nimbus_node_read_quarantined",
            "Hash dirs moved to quarantine by a GET that found them corrupt.",
            registry=registry,
        )
        self.audit_files = Counter(
            "nimbus_auditor_files_checked", "Data files re-read by the auditor.", registry=registry
        )
        self.audit_bytes = Counter(
            "nimbus_auditor_bytes_checked", "Bytes re-read by the auditor.", registry=registry
        )
        self.audit_quarantined = Counter(
            "nimbus_auditor_quarantined",
            "Hash dirs the auditor moved to quarantine.",
            registry=registry,
        )
        self.audit_errors = Counter(
            "nimbus_auditor_errors",
            "Hash dirs the auditor could not check (I/O errors).",
            registry=registry,
        )
        self.audit_passes = Counter(
            "nimbus_auditor_passes", "Completed auditor passes.", registry=registry
        )
        self.audit_pass_seconds = Gauge(
            "nimbus_auditor_last_pass_seconds",
            "Duration of the last completed auditor pass.",
            registry=registry,
        )
        self.replication_objects = Counter(
            "nimbus_replicator_objects_pushed", "Objects written on peers.", registry=registry
        )
        self.replication_tombstones = Counter(
            "nimbus_replicator_tombstones_pushed", "Tombstones taken by peers.", registry=registry
        )
        self.replication_bytes = Counter(
            "nimbus_replicator_bytes_pushed", "Object bytes sent to peers.", registry=registry
        )
        self.replication_handoffs_reverted = Counter(
            "nimbus_replicator_handoffs_reverted",
            "Handoff partitions pushed to their primaries and removed locally.",
            registry=registry,
        )
        self.replication_reclaimed = Counter(
            "nimbus_replicator_tombstones_reclaimed",
            "Tombstones removed after reclaim_age.",
            registry=registry,
        )
        self.replication_failures = Counter(
            "nimbus_replicator_failures",
            "Peers unreachable or refusing, failed pushes and local errors.",
            registry=registry,
        )
        self.replication_passes = Counter(
            "nimbus_replicator_passes", "Completed replication passes.", registry=registry
        )
        self.replication_pass_seconds = Gauge(
            "nimbus_replicator_last_pass_seconds",
            "Duration of the last completed replication pass.",
            registry=registry,
        )
        self.replication_last_pass = Gauge(
            "nimbus_replicator_last_pass_completion_timestamp_seconds",
            "Unix time the last replication pass completed (now minus this: replication lag).",
            registry=registry,
        )
        self.reconstructor_checked = Counter(
            "nimbus_reconstructor_fragments_checked",
            "Peers' fragment archives checked by the reconstructor (HEAD).",
            registry=registry,
        )
        self.reconstructor_rebuilt = Counter(
            "nimbus_reconstructor_fragments_rebuilt",
            "Fragment archives rebuilt from k others and stored on their primary.",
            registry=registry,
        )
        self.reconstructor_reverted = Counter(
            "nimbus_reconstructor_archives_reverted",
            "Fragment archives moved from a handoff to their primary and removed locally.",
            registry=registry,
        )
        self.reconstructor_tombstones = Counter(
            "nimbus_reconstructor_tombstones_pushed",
            "Tombstones of erasure-coded blobs taken by primaries.",
            registry=registry,
        )
        self.reconstructor_bytes = Counter(
            "nimbus_reconstructor_bytes_sent",
            "Fragment archive bytes sent by the reconstructor (rebuilt and reverted).",
            registry=registry,
        )
        self.reconstructor_failures = Counter(
            "nimbus_reconstructor_failures",
            "Unreachable peers, refused pushes, fragments that could not be rebuilt, local errors.",
            registry=registry,
        )
        self.reconstructor_passes = Counter(
            "nimbus_reconstructor_passes", "Completed reconstruction passes.", registry=registry
        )
        self.reconstructor_pass_seconds = Gauge(
            "nimbus_reconstructor_last_pass_seconds",
            "Duration of the last completed reconstruction pass.",
            registry=registry,
        )
        self.reconstructor_last_pass = Gauge(
            "nimbus_reconstructor_last_pass_completion_timestamp_seconds",
            "Unix time the last reconstruction pass completed.",
            registry=registry,
        )
        self.db_rows_merged = Counter(
            "nimbus_db_rows_merged", "Catalog and index rows received in merges.", registry=registry
        )
        self.db_rows_pushed = Counter(
            "nimbus_db_replicator_rows_pushed",
            "Catalog and index rows the database replicator sent to peers.",
            registry=registry,
        )
        self.db_handoffs_reverted = Counter(
            "nimbus_db_replicator_handoffs_reverted",
            "Database replicas handed home to their primaries and removed here.",
            registry=registry,
        )
        self.db_failures = Counter(
            "nimbus_db_replicator_failures",
            "Database pushes that failed (the peer was unreachable or refused).",
            registry=registry,
        )
        self.db_passes = Counter(
            "nimbus_db_replicator_passes",
            "Completed database replication passes.",
            registry=registry,
        )
        self.db_last_pass = Gauge(
            "nimbus_db_replicator_last_pass_completion_timestamp_seconds",
            "Unix time the last database replication pass completed.",
            registry=registry,
        )

    def watch_devices(self, data_dir: Path, devices: tuple[str, ...]) -> None:
        """Report the space of each device's filesystem at every scrape."""
        self.registry.register(DeviceSpace(data_dir, devices))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class DeviceSpace(Collector):
    """``nimbus_node_device_bytes{device, state=total|used|free}`` (free: what an unprivileged
    writer may still use), read from the filesystem when scraped; a missing device is left out
    (``/_nimbus/healthz`` names it)."""

    def __init__(self, data_dir: Path, devices: tuple[str, ...]) -> None:
        self.data_dir = data_dir
        self.devices = devices

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "nimbus_node_device_bytes",
            "Space of each device's filesystem, by state (total, used, free).",
            labels=["device", "state"],
        )
        for device in self.devices:
            try:
                space = os.statvfs(self.data_dir / device)
            except OSError:
                continue
            total = space.f_blocks * space.f_frsize
            free = space.f_bavail * space.f_frsize
            family.add_metric([device, "total"], total)
            family.add_metric([device, "used"], total - space.f_bfree * space.f_frsize)
            family.add_metric([device, "free"], free)
        yield family
