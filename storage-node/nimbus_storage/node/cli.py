"""``nimbus-storage node``: run a storage node.

The hashing constants and the devices come from one of:

* ``--ring ring.json``: the ring's constants; the devices whose ``node`` is ``--node``
  (default ``--listen``);
* ``--identity-from DIR``: the constants recorded in ``DIR/.nimbus-store.json``, with
  ``--device`` (repeatable);
* ``--part-power N --hash-prefix X --hash-suffix Y`` with ``--device`` (tests without a ring).

The cluster token comes from ``NIMBUS_CLUSTER_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import uvloop

from nimbus_storage.blobs.layout import IDENTITY_FILE, StoreIdentity
from nimbus_storage.logs import add_format_argument, configure_logging
from nimbus_storage.node.auditor import AuditorSettings
from nimbus_storage.node.config import CLIENT_HEADER_TIMEOUT, NodeConfig, SpaceReserve
from nimbus_storage.node.db_replicator import DBReplicatorSettings
from nimbus_storage.node.node_ring import load_node_ring
from nimbus_storage.node.reconstructor import ReconstructorSettings
from nimbus_storage.node.replicator import ReplicatorSettings
from nimbus_storage.node.server import start_node

TOKEN_ENV = "NIMBUS_CLUSTER_TOKEN"


class UsageError(ValueError):
    pass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="dir holding one dir per device")
    parser.add_argument("--listen", required=True, help="HOST:PORT to bind")
    parser.add_argument(
        "--node", help="this node's HOST:PORT in the ring, when not --listen (0.0.0.0 in a pod)"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--ring", type=Path, help="ring.json: constants and this node's devices")
    source.add_argument(
        "--identity-from", type=Path, help="use the constants of the store in this dir"
    )
    source.add_argument("--part-power", type=int, help="explicit constants (with the two below)")
    parser.add_argument("--hash-prefix", help="with --part-power")
    parser.add_argument("--hash-suffix", help="with --part-power")
    parser.add_argument(
        "--device", action="append", default=None, help="device to serve (repeatable; no --ring)"
    )
    parser.add_argument(
        "--create-devices",
        action="store_true",
        help="create missing device dirs (default: a missing dir is an unmounted disk, 507)",
    )
    parser.add_argument("--no-fsync", action="store_true", help="tests and benchmarks only")
    parser.add_argument(
        "--fallocate-reserve",
        type=SpaceReserve.parse,
        default=SpaceReserve(1.0, percent=True),
        metavar="BYTES|N%",
        help="free space a PUT must leave on its device, in bytes or a percent of the device"
        " (default 1%%); checked before the body of an Expect: 100-continue PUT is taken",
    )
    parser.add_argument(
        "--client-header-timeout",
        type=float,
        default=CLIENT_HEADER_TIMEOUT,
        metavar="S",
        help="seconds a connection may go without a complete request head before it is closed"
        " (default %(default)s; keep it above 15)",
    )
    parser.add_argument("--no-auditor", action="store_true", help="do not audit in background")
    defaults = AuditorSettings()
    parser.add_argument("--audit-files-per-second", type=float, default=defaults.files_per_second)
    parser.add_argument("--audit-bytes-per-second", type=float, default=defaults.bytes_per_second)
    parser.add_argument(
        "--audit-interval", type=float, default=defaults.interval, help="seconds between passes"
    )
    replication = ReplicatorSettings()
    parser.add_argument(
        "--no-replicator", action="store_true", help="do not replicate blobs in background (--ring)"
    )
    parser.add_argument(
        "--no-db-replicator",
        action="store_true",
        help="do not replicate catalog and bucket index replicas in background (--ring)",
    )
    parser.add_argument(
        "--reconstructor",
        action="store_true",
        help="rebuild lost erasure-coded fragment archives and move handoffs' archives home in"
        " background (--ring, --no-replicator; paced and timed by the --replicate-* flags)",
    )
    parser.add_argument(
        "--replicate-interval",
        type=float,
        default=replication.interval,
        help="seconds between replication passes",
    )
    parser.add_argument(
        "--replicate-items-per-second", type=float, default=replication.items_per_second
    )
    parser.add_argument(
        "--replicate-bytes-per-second", type=float, default=replication.bytes_per_second
    )
    parser.add_argument(
        "--replicate-concurrency",
        type=int,
        default=replication.concurrency,
        help="partitions replicated at once",
    )
    parser.add_argument(
        "--reclaim-age",
        type=float,
        default=replication.reclaim_age,
        help="seconds a tombstone is kept before replication removes it",
    )
    parser.add_argument("--log-level", default="INFO")
    add_format_argument(parser)


def config_from_args(args: argparse.Namespace, token: str) -> NodeConfig:
    host, colon, port = str(args.listen).rpartition(":")
    if not colon or not host or not port.isdigit():
        raise UsageError(f"--listen must be HOST:PORT, not {args.listen!r}")
    if args.ring is not None:
        if args.device:
            raise UsageError("--device comes from the ring when --ring is given")
        node = args.node or args.listen
        ring = load_node_ring(args.ring, node)
        identity, devices = ring.identity, ring.devices
        if not devices:
            raise UsageError(f"the ring has no devices on node {node}")
    else:
        identity = _explicit_identity(args)
        devices = tuple(args.device or ())
        if not devices:
            raise UsageError("--device is required without --ring")
    auditor = None
    if not args.no_auditor:
        auditor = AuditorSettings(
            files_per_second=args.audit_files_per_second,
            bytes_per_second=args.audit_bytes_per_second,
            interval=args.audit_interval,
        )
    replicator = None
    if not args.client_header_timeout > 0:
        raise UsageError("--client-header-timeout must be above 0")
    if args.replicate_concurrency < 1:
        raise UsageError("--replicate-concurrency must be at least 1")
    db_replicator = None
    if args.ring is not None and not args.no_db_replicator:
        db_replicator = DBReplicatorSettings(
            interval=args.replicate_interval,
            concurrency=args.replicate_concurrency,
            reclaim_age=args.reclaim_age,
        )
    if args.ring is not None and not args.no_replicator:
        replicator = ReplicatorSettings(
            items_per_second=args.replicate_items_per_second,
            bytes_per_second=args.replicate_bytes_per_second,
            interval=args.replicate_interval,
            concurrency=args.replicate_concurrency,
            reclaim_age=args.reclaim_age,
        )
    reconstructor = None
    if args.reconstructor:
        if args.ring is None:
            raise UsageError("--reconstructor needs --ring")
        if replicator is not None:
            # It would push fragment archive i to the primary that should hold archive j.
            raise UsageError("--reconstructor needs --no-replicator")
        reconstructor = ReconstructorSettings(
            items_per_second=args.replicate_items_per_second,
            bytes_per_second=args.replicate_bytes_per_second,
            interval=args.replicate_interval,
            concurrency=args.replicate_concurrency,
        )
    return NodeConfig(
        data_dir=args.data.resolve(),
        identity=identity,
        devices=devices,
        token=token,
        host=host,
        port=int(port),
        fsync=not args.no_fsync,
        create_devices=args.create_devices,
        auditor=auditor,
        # absolute(), not resolve(): a ConfigMap-mounted ring is a symlink to a directory the
        # kubelet swaps on every update, and the link is what must be followed each time.
        ring_file=args.ring.absolute() if args.ring is not None else None,
        ring_node=args.node or args.listen,
        replicator=replicator,
        db_replicator=db_replicator,
        reconstructor=reconstructor,
        fallocate_reserve=args.fallocate_reserve,
        client_header_timeout=args.client_header_timeout,
    )


def _explicit_identity(args: argparse.Namespace) -> StoreIdentity:
    if args.identity_from is not None:
        path = args.identity_from / IDENTITY_FILE
        try:
            return StoreIdentity.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            raise UsageError(f"{path} does not exist") from None
    if not args.hash_prefix or not args.hash_suffix:
        raise UsageError("--part-power needs --hash-prefix and --hash-suffix")
    return StoreIdentity(args.hash_prefix, args.hash_suffix, args.part_power)


async def _serve(config: NodeConfig) -> None:
    node = await start_node(
        config,
        auditor_enabled=config.auditor is not None,
        replicator_enabled=config.replicator is not None
        or config.db_replicator is not None
        or config.reconstructor is not None,
    )
    serving = node.context.devices.serving()
    print(f"Nimbus storage node: {node.endpoint} serving {serving}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await node.stop()


def run(args: argparse.Namespace) -> int:
    """Run the node described by parsed ``args``; returns the exit status."""
    token = os.environ.get(TOKEN_ENV, "")
    try:
        if not token:
            raise UsageError(f"set {TOKEN_ENV} to the cluster token")
        config = config_from_args(args, token)
        StoreIdentity.adopt(config.data_dir, config.identity)  # IdentityMismatch: say so now
    except (UsageError, ValueError, OSError) as exc:
        print(f"nimbus-storage node: {exc}", file=sys.stderr)
        return 2
    uvloop.run(_serve(config))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nimbus-storage node", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        configure_logging(args.log_level, args.log_format)
    except ValueError as exc:
        parser.error(str(exc))
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
