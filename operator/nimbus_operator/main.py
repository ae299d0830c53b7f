"""``nimbus-operator``: run the Nimbus operator (kopf) against the cluster it finds.

In a pod it uses its service account; elsewhere ``$KUBECONFIG``. Progress of handlers is kept
in annotations (not in ``status``, which is the resources' own), and the liveness endpoint
serves ``/healthz`` for the pod's probe. With ``--leader-election-lease NAMESPACE/NAME``
(what the Helm chart passes) replicas elect one leader through that Lease: only the leader
reconciles, the others wait, answering ``/healthz`` and serving metrics.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from types import FrameType
from typing import Any

import kopf
from nimbus_storage.logs import add_format_argument, configure_logging

from nimbus_operator import handlers, metrics  # noqa: F401  (handlers: registers them)
from nimbus_operator.clients.leases import Leases
from nimbus_operator.leadership import LeaderElector, Timing
from nimbus_operator.standby import standby_health

LIVENESS_ENV = "NIMBUS_LIVENESS_ENDPOINT"
LEASE_ENV = "NIMBUS_LEADER_ELECTION_LEASE"
WORKER_THREADS = 32

log = logging.getLogger(__name__)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="storage.nimbus.dev"
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="storage.nimbus.dev", key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    settings.batching.error_delays = [1, 2, 5, 10, 20, 30]
    # Handlers are synchronous (the Kubernetes client and the admin API block): kopf runs them
    # in a thread pool, by default of CPUs + 4 threads, which a few slow calls (a store that is
    # going away) would fill, starving every other object.
    settings.execution.executor = metrics.CountingExecutor(max_workers=WORKER_THREADS)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nimbus-operator", description=__doc__)
    parser.add_argument(
        "--liveness",
        default=os.environ.get(LIVENESS_ENV),
        help="liveness endpoint URL, e.g. http://$(POD_IP):8080/healthz",
    )
    parser.add_argument("--namespace", action="append", help="watch only these (repeatable)")
    parser.add_argument(
        "--leader-election-lease",
        default=os.environ.get(LEASE_ENV),
        metavar="NAMESPACE/NAME",
        help="elect one leader among replicas through this Lease (default: no election)",
    )
    parser.add_argument("--lease-duration", type=float, default=Timing.lease_duration)
    parser.add_argument("--renew-deadline", type=float, default=Timing.renew_deadline)
    parser.add_argument("--retry-period", type=float, default=Timing.retry_period)
    parser.add_argument("--verbose", action="store_true")
    add_format_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        configure_logging(logging.DEBUG if args.verbose else logging.INFO, args.log_format)
        timing = Timing(args.lease_duration, args.renew_deadline, args.retry_period)
    except ValueError as error:
        parser.error(str(error))
    port = metrics.serve_from_environment()
    if port is not None:
        log.info("metrics at :%d/metrics", port)
    if not args.leader_election_lease:
        _run_kopf(args, [])
        return
    namespace, slash, name = str(args.leader_election_lease).partition("/")
    if not slash or not namespace or not name:
        parser.error("--leader-election-lease must be NAMESPACE/NAME")
    identity = f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"
    elector = LeaderElector(Leases(namespace, name), identity, timing)
    sys.exit(_lead(elector, args, timing))


def _lead(elector: LeaderElector, args: argparse.Namespace, timing: Timing) -> int:
    """Wait to lead, reconcile while leading; the exit code says how it ended."""
    terminated = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s while on standby: stopping", signal.Signals(signum).name)
        terminated.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("waiting to lead as %s (Lease %s)", elector.identity, args.leader_election_lease)
    with standby_health(args.liveness):
        leading = elector.acquire(terminated)
    for sig, handler in previous.items():
        signal.signal(sig, handler)
    if not leading:
        return 0
    log.info("leading as %s: reconciling", elector.identity)
    metrics.LEADER.set(1)
    lost, done = threading.Event(), threading.Event()
    stoppers: list[Callable[[], None]] = []

    def on_lost() -> None:
        lost.set()
        for stop_kopf in stoppers:
            stop_kopf()

    renewer = threading.Thread(target=elector.keep, args=(done, on_lost), name="lease renewer")
    renewer.start()
    # After the deadline a standby may take over once the Lease expires: a handler that has not
    # finished by then is cut short (handlers are idempotent; the next leader redoes it).
    grace = timing.lease_duration - timing.renew_deadline
    threading.Thread(target=_exit_when_stuck, args=(lost, done, grace), daemon=True).start()
    try:
        _run_kopf(args, stoppers)
    finally:
        done.set()
        renewer.join()
        metrics.LEADER.set(0)
    if lost.is_set():
        log.error("lost the leader Lease: exiting so that one leader reconciles at a time")
        return 1
    elector.release()
    return 0


def _exit_when_stuck(lost: threading.Event, done: threading.Event, grace: float) -> None:
    while not done.wait(0.5):
        if lost.is_set():
            if not done.wait(grace):
                log.error("still reconciling %.0f s after losing the Lease: exiting now", grace)
                os._exit(1)
            return


def _run_kopf(args: argparse.Namespace, stoppers: list[Callable[[], None]]) -> None:
    """Run kopf until a signal, or until a function it appends to ``stoppers`` is called (from
    any thread). The stop flag is an asyncio.Event of kopf's own loop: kopf waits for a
    threading.Event or a concurrent Future in a thread of the loop's default executor, and
    that thread then holds the loop's shutdown until the flag is set."""

    async def operate() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def stop_soon() -> None:
            loop.call_soon_threadsafe(stop.set)

        stoppers.append(stop_soon)
        await kopf.operator(
            standalone=True,
            clusterwide=not args.namespace,
            namespaces=args.namespace or (),
            liveness_endpoint=args.liveness,
            stop_flag=stop,
        )

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(operate())


if __name__ == "__main__":
    main()
