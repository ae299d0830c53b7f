"""The operator's Prometheus metrics, served at ``/metrics`` on ``$NIMBUS_METRICS_PORT``.

Reconciles by kind and result (``ok``, ``invalid`` — a spec or request that cannot be done as
written —, ``retry``, ``error``), their duration, and the objects the operator has seen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram, start_http_server

PORT_ENV = "NIMBUS_METRICS_PORT"
ADDRESS_ENV = "POD_IP"

RECONCILES = Counter(
    "nimbus_operator_reconciles_total", "Reconciles by kind and result.", ["kind", "result"]
)
RECONCILE_SECONDS = Histogram(
    "nimbus_operator_reconcile_duration_seconds",
    "How long one reconcile took, by kind.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
IN_FLIGHT = Gauge(
    "nimbus_operator_reconciles_in_flight", "Reconciles running now, by kind.", ["kind"]
)


@contextmanager
def reconciling(kind: str) -> Iterator[list[str]]:
    """Time one reconcile; the caller sets ``outcome[0]`` to its result."""
    outcome = ["error"]
    started = time.perf_counter()
    IN_FLIGHT.labels(kind).inc()
    try:
        yield outcome
    finally:
        IN_FLIGHT.labels(kind).dec()
        RECONCILE_SECONDS.labels(kind).observe(time.perf_counter() - started)
        RECONCILES.labels(kind, outcome[0]).inc()


def serve_from_environment() -> int | None:
    """Start the metrics server when ``$NIMBUS_METRICS_PORT`` is set (on ``$POD_IP``: pods of
    the local cluster share loopback, so binding every address would clash)."""
    port = os.environ.get(PORT_ENV)
    if not port:
        return None
    start_http_server(int(port), addr=os.environ.get(ADDRESS_ENV, "0.0.0.0"))
    return int(port)
