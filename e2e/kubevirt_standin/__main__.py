"""``python -m e2e.kubevirt_standin --kubeconfig PATH --healthz-port N [--guests MODE
--state-dir DIR]`` (started by ``up``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from kubernetes import client, config

from e2e.kubevirt_standin.controller import Controller, serve_health
from e2e.kubevirt_standin.guests import GUESTS_LABEL, GUESTS_LABEL_VALUE, GuestMode

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
    parser.add_argument(
        "--guests",
        choices=[mode.value for mode in GuestMode],
        default=GuestMode.NONE.value,
        help="which VMIs boot a real guest under QEMU: none, all, or those in namespaces "
        f"labelled {GUESTS_LABEL}={GUESTS_LABEL_VALUE} (default: none)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where imported disks and launcher files live (required unless --guests none)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.guests != GuestMode.NONE and args.state_dir is None:
        parser.error(f"--guests {args.guests} needs --state-dir")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    configuration = client.Configuration()
    config.load_kube_config(config_file=args.kubeconfig, client_configuration=configuration)  # type: ignore[no-untyped-call]
    configuration.connection_pool_maxsize = POOL_SIZE
    api_client = client.ApiClient(configuration)
    state_dir = args.state_dir.resolve() if args.state_dir else Path("/nonexistent")
    if args.guests != GuestMode.NONE:
        state_dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(api_client, GuestMode(args.guests), state_dir)

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
