"""``python -m e2e.kubevirt_standin --kubeconfig PATH --healthz-port N`` (started by ``up``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from kubernetes import client, config

from e2e.kubevirt_standin.controller import Controller, serve_health

POOL_SIZE = 16
"""Four watches hold a connection each; the worker and the health server need more."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m e2e.kubevirt_standin",
        description="A stand-in for KubeVirt's virt-controller and CDI's importer "
        "(local e2e cluster only; see e2e/README.md).",
    )
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--healthz-port", type=int, required=True)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    configuration = client.Configuration()
    config.load_kube_config(config_file=args.kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = POOL_SIZE
    api_client = client.ApiClient(configuration)
    controller = Controller(api_client)

    def stop(signum: int, _frame: FrameType | None) -> None:
        logging.info("signal %d: stopping", signum)
        controller.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = serve_health(controller, args.healthz_port)
    logging.info("KubeVirt virt-controller stand-in: healthz on 127.0.0.1:%d", args.healthz_port)
    try:
        controller.run()
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
