"""``nimbus-operator``: run the Nimbus operator (kopf) against the cluster it finds.

In a pod it uses its service account; elsewhere ``$KUBECONFIG``. Progress of handlers is kept
in annotations (not in ``status``, which is the resources' own), and the liveness endpoint
serves ``/healthz`` for the pod's probe.
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

import kopf

from nimbus_operator import handlers, metrics  # noqa: F401  (handlers: registers them)

LIVENESS_ENV = "NIMBUS_LIVENESS_ENDPOINT"
WORKER_THREADS = 32


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
    settings.execution.max_workers = WORKER_THREADS
    port = metrics.serve_from_environment()
    if port is not None:
        logging.getLogger(__name__).info("metrics at :%d/metrics", port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="nimbus-operator", description=__doc__)
    parser.add_argument(
        "--liveness",
        default=os.environ.get(LIVENESS_ENV),
        help="liveness endpoint URL, e.g. http://$(POD_IP):8080/healthz",
    )
    parser.add_argument("--namespace", action="append", help="watch only these (repeatable)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    kopf.run(
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=args.namespace or (),
        liveness_endpoint=args.liveness,
    )


if __name__ == "__main__":
    main()
