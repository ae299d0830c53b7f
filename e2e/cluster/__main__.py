"""``python -m e2e.cluster build|up|down|status|env|logs`` — the local Kubernetes control plane.

Progress goes to stderr; stdout carries only what a shell can use (the ``export`` line), so
``eval "$(python -m e2e.cluster env)"`` works.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from pathlib import Path

from e2e.cluster.build import BuildError, build_all, format_seconds
from e2e.cluster.catalog import COMPONENTS, CRD_SETS, bin_cache_root
from e2e.cluster.cluster import Cluster, ClusterError
from e2e.cluster.kubeconfig import export_line
from e2e.cluster.layout import default_run_dir
from e2e.cluster.state import all_alive, component_health, none_alive
from e2e.nodeagent.logs import LogNotFound, attempt_logs, follow, read_log
from e2e.nodeagent.network import ADDRESS_BLOCK_ENV

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NO_CLUSTER = 3


def cmd_build(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        results = build_all(args.components or None, force=args.force)
    except BuildError as error:
        logging.error("%s", error)
        return EXIT_FAILED
    for result in results:
        action = "built" if result.built else "cached"
        logging.info(
            "%-10s %-8s %-6s %8s  %s",
            result.component,
            result.version,
            action,
            format_seconds(result.seconds),
            result.directory,
        )
    logging.info("build finished in %s", format_seconds(time.monotonic() - started))
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    cluster = Cluster(args.dir, address_block=args.address_block, guests=args.guests)
    state = cluster.state()
    if state is not None:
        report = component_health(state)
        if all_alive(report):
            logging.info(
                "a cluster is already running in %s (since %s); reusing it",
                args.dir,
                state.started_at,
            )
            _print_usage(Path(state.kubeconfig))
            return EXIT_OK
        if not none_alive(report):
            logging.error(
                "%s holds a partly running cluster:\n%s\nrun `python -m e2e.cluster down` first",
                args.dir,
                "\n".join(item.describe() for item in report),
            )
            return EXIT_FAILED
        logging.info("removing the stale run directory %s (no component alive)", args.dir)
        cluster.stop()
    started = time.monotonic()
    logging.info("up: starting at %s", time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    try:
        cluster.start(timeout=args.timeout)
    except ClusterError as error:
        logging.error("up failed: %s", error)
        return EXIT_FAILED
    logging.info("up: ready in %s", format_seconds(time.monotonic() - started))
    _print_usage(cluster.kubeconfig)
    return EXIT_OK


def cmd_down(args: argparse.Namespace) -> int:
    cluster = Cluster(args.dir)
    if cluster.state() is None:
        logging.info("no cluster state in %s; nothing to stop", args.dir)
        if args.dir.exists():
            cluster.stop(keep=args.keep)
        return EXIT_OK
    cluster.stop(keep=args.keep)
    if args.keep:
        logging.info("kept %s", args.dir)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    state = Cluster(args.dir).state()
    if state is None:
        print(f"no cluster in {args.dir}")
        return EXIT_NO_CLUSTER
    report = component_health(state, tail_lines=args.lines)
    print(f"cluster {state.run_dir} (started {state.started_at}), API server {state.api_server}")
    print(f"kubeconfig {state.kubeconfig}")
    for item in report:
        print(item.describe())
    return EXIT_OK if all_alive(report) else EXIT_FAILED


def cmd_env(args: argparse.Namespace) -> int:
    state = Cluster(args.dir).state()
    if state is None:
        print(f"no cluster in {args.dir}; run `python -m e2e.cluster up`", file=sys.stderr)
        return EXIT_NO_CLUSTER
    print(export_line(state.kubeconfig))
    return EXIT_OK


def cmd_logs(args: argparse.Namespace) -> int:
    try:
        files = attempt_logs(args.dir, args.namespace, args.pod, args.container)
        if args.follow:
            with contextlib.suppress(KeyboardInterrupt):
                follow(files[-1])
            return EXIT_OK
        text = read_log(args.dir, args.namespace, args.pod, args.container, args.previous)
    except LogNotFound as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    sys.stdout.write(text)
    return EXIT_OK


def _print_usage(kubeconfig: Path) -> None:
    print(export_line(kubeconfig))
    print("# then: kubectl get nodes   (stop with: python -m e2e.cluster down)", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m e2e.cluster",
        description=(
            "A real local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,"
            " kube-scheduler) with kwok fake nodes, built from source via the Go module proxy."
        ),
        epilog=(
            "Typical use: build once (cold: many minutes), then `up`, "
            'then `eval "$(python -m e2e.cluster env)"; kubectl get nodes`, then `down`. '
            "Environment: NIMBUS_BIN_CACHE (binary cache, default ~/.cache/nimbus/bin), "
            "NIMBUS_CLUSTER_DIR (run directory, default <tmp>/nimbus-cluster)."
        ),
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=default_run_dir(),
        help="run directory holding state, certs, data and logs (default: %(default)s)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    names = [spec.name for spec in COMPONENTS] + [spec.name for spec in CRD_SETS]
    pinned = [f"{s.name} {s.version}" for s in COMPONENTS] + [
        f"{s.name} {s.version}" for s in CRD_SETS
    ]
    build = sub.add_parser(
        "build",
        help="build missing binaries and generated CRDs into the cache",
        description=(
            f"Build pinned binaries and generate the KubeVirt/CDI CRDs ({', '.join(pinned)}) "
            f"into {bin_cache_root()}/<component>-<version>/. Cached binaries that report the "
            "right version, and CRDs stamped with the pinned generator, are reused."
        ),
    )
    build.add_argument(
        "components", nargs="*", metavar="COMPONENT", help=f"only these ({', '.join(names)})"
    )
    build.add_argument("--force", action="store_true", help="rebuild even if cached")
    build.set_defaults(handler=cmd_build)

    up = sub.add_parser(
        "up",
        help="start the control plane and 3 kwok nodes (reuses a running one)",
        description=(
            "Start etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok, "
            "register nodes nimbus-node-a/b/c (zones a/b/c) and wait until they are Ready. "
            "If a cluster in --dir is already fully running, print its env and exit 0; if it is "
            "partly running, refuse (run `down` first)."
        ),
    )
    up.add_argument("--timeout", type=float, default=180.0, help="seconds (default: %(default)s)")
    up.add_argument(
        "--address-block",
        type=int,
        default=int(os.environ.get(ADDRESS_BLOCK_ENV, "0")),
        help="pod and Service address block, for a second cluster on this machine "
        f"(default 0, or ${ADDRESS_BLOCK_ENV}): 0 = pods 127.1.0.0/16, Services 127.3.0.0/24",
    )
    up.add_argument(
        "--guests",
        choices=("none", "all", "labelled"),
        default="all",
        help="which VirtualMachineInstances boot a real QEMU guest (about a minute of a core "
        "each): none, all, or those in namespaces labelled standin.e2e.nimbus.dev/guests=qemu "
        "(default: %(default)s; the e2e suite's own cluster uses labelled)",
    )
    up.set_defaults(handler=cmd_up)

    down = sub.add_parser("down", help="stop the processes `up` started and remove the run dir")
    down.add_argument("--keep", action="store_true", help="keep the run directory (logs, data)")
    down.set_defaults(handler=cmd_down)

    status = sub.add_parser(
        "status", help="show each component alive/dead (dead ones with their log tail)"
    )
    status.add_argument("--lines", type=int, default=20, help="log lines per dead component")
    status.set_defaults(handler=cmd_status)

    env = sub.add_parser("env", help="print `export KUBECONFIG=...` for the running cluster")
    env.set_defaults(handler=cmd_env)

    logs = sub.add_parser(
        "logs",
        help="print a pod's container log (what `kubectl logs` shows on a real cluster)",
        description="Container output the node agent recorded under <run dir>/logs/pods/.",
    )
    logs.add_argument("pod")
    logs.add_argument("-n", "--namespace", default="default")
    logs.add_argument("-c", "--container", help="needed when the pod has several")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new output")
    logs.add_argument(
        "-p", "--previous", action="store_true", help="the run before the last restart"
    )
    logs.set_defaults(handler=cmd_logs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
