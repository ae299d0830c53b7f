"""The operator's Prometheus metrics, served at ``/metrics`` on ``$NIMBUS_METRICS_PORT``.

Reconciles by kind and result (``ok``, ``invalid`` — a spec or request that cannot be done as
written —, ``retry``, ``error``), their duration, the objects the operator manages by kind and
last result, handler calls waiting for a worker thread, and whether this replica is the leader.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

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

OBJECTS = Gauge(
    "nimbus_operator_objects",
    "Objects the operator manages, by kind and the result of their last reconcile.",
    ["kind", "result"],
)
QUEUE_DEPTH = Gauge(
    "nimbus_operator_queue_depth", "Handler calls waiting for a free worker thread."
)
LEADER = Gauge(
    "nimbus_operator_leader", "1 while this replica holds the leader Lease and reconciles."
)

_last_results: dict[str, tuple[str, str]] = {}
_results_guard = threading.Lock()


def record_result(uid: str, kind: str, result: str) -> None:
    """Remember an object's last result (``objects`` counts each object once)."""
    with _results_guard:
        previous = _last_results.get(uid)
        if previous == (kind, result):
            return
        if previous is not None:
            OBJECTS.labels(*previous).dec()
        _last_results[uid] = (kind, result)
        OBJECTS.labels(kind, result).inc()


def forget(uid: str) -> None:
    """An object is gone (its deletion handler finished)."""
    with _results_guard:
        previous = _last_results.pop(uid, None)
        if previous is not None:
            OBJECTS.labels(*previous).dec()


class CountingExecutor(ThreadPoolExecutor):
    """A thread pool that counts calls submitted but not yet started (``queue_depth``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        QUEUE_DEPTH.inc()

        def started() -> Any:
            QUEUE_DEPTH.dec()
            return fn(*args, **kwargs)

        return super().submit(started)


@contextmanager
def reconciling(kind: str, uid: str | None = None) -> Iterator[list[str]]:
    """Time one reconcile of object ``uid``; the caller sets ``outcome[0]`` to its result."""
    outcome = ["error"]
    started = time.perf_counter()
    IN_FLIGHT.labels(kind).inc()
    try:
        yield outcome
    finally:
        IN_FLIGHT.labels(kind).dec()
        RECONCILE_SECONDS.labels(kind).observe(time.perf_counter() - started)
        RECONCILES.labels(kind, outcome[0]).inc()
        if uid is not None:
            record_result(uid, kind, outcome[0])


def serve_from_environment() -> int | None:
    """Start the metrics server when ``$NIMBUS_METRICS_PORT`` is set (on ``$POD_IP``: pods of
    the local cluster share loopback, so binding every address would clash)."""
    port = os.environ.get(PORT_ENV)
    if not port:
        return None
    start_http_server(int(port), addr=os.environ.get(ADDRESS_ENV, "0.0.0.0"))
    return int(port)
