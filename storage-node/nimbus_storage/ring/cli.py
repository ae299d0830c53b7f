"""``nimbus-storage ring`` (or ``python -m nimbus_storage.ring``): build and inspect rings, like
swift-ring-builder.

create builder.json --part-power 10 --replicas 3
add builder.json --region 1 --zone a --node 127.0.0.11:6200 --device d0 --weight 100
remove builder.json --id N
weight builder.json --id N --weight W
rebalance builder.json --ring ring.json [--seed S]
show ring.json
wait ring.json --node HOST:PORT [--timeout S]   (until the ring names the node: init containers)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from nimbus_storage.ring.builder import RingBuilder
from nimbus_storage.ring.ring import Ring

PROG = "nimbus-storage ring"


def module_prog() -> str:
    """How ``python -m nimbus_storage.ring`` was typed, for its usage line (what argparse does
    itself from Python 3.14): the interpreter's name, not its path."""
    return f"{Path(sys.executable).name or 'python'} -m nimbus_storage.ring"


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run one command; ``prog`` is the command as the user typed it (usage and errors)."""
    parser = _parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help or a usage error: argparse has printed why
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return int(args.run(args))
    except (ValueError, KeyError, OSError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 1


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Build and inspect Nimbus rings.")
    commands = parser.add_subparsers(dest="command", required=True)

    create = commands.add_parser("create", help="start a builder file")
    create.add_argument("builder", type=Path)
    create.add_argument("--part-power", type=int, required=True)
    create.add_argument("--replicas", type=int, required=True)
    create.add_argument("--hash-prefix", help="default: random")
    create.add_argument("--hash-suffix", help="default: random")
    create.set_defaults(run=_create)

    add = commands.add_parser("add", help="add a device")
    add.add_argument("builder", type=Path)
    add.add_argument("--region", type=int, default=1)
    add.add_argument("--zone", required=True)
    add.add_argument("--node", required=True, help="host:port of the storage node")
    add.add_argument("--device", required=True, help="directory under the node's data dir")
    add.add_argument("--weight", type=float, required=True)
    add.set_defaults(run=_add)

    remove = commands.add_parser("remove", help="remove a device")
    remove.add_argument("builder", type=Path)
    remove.add_argument("--id", type=int, required=True)
    remove.set_defaults(run=_remove)

    weight = commands.add_parser("weight", help="change a device's weight (0 drains it)")
    weight.add_argument("builder", type=Path)
    weight.add_argument("--id", type=int, required=True)
    weight.add_argument("--weight", type=float, required=True)
    weight.set_defaults(run=_weight)

    rebalance = commands.add_parser("rebalance", help="reassign partitions and write the ring")
    rebalance.add_argument("builder", type=Path)
    rebalance.add_argument("--ring", type=Path, required=True)
    rebalance.add_argument("--seed", type=int, default=0)
    rebalance.set_defaults(run=_rebalance)

    show = commands.add_parser("show", help="devices of a ring with their partition counts")
    show.add_argument("ring", type=Path)
    show.set_defaults(run=_show)

    wait = commands.add_parser(
        "wait", help="wait until a ring file exists and has devices on a node, then exit 0"
    )
    wait.add_argument("ring", type=Path)
    wait.add_argument("--node", help="HOST:PORT as the ring names it (default: any device will do)")
    wait.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    wait.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    wait.set_defaults(run=_wait)
    return parser


def _create(args: argparse.Namespace) -> int:
    if args.builder.exists():
        raise ValueError(f"{args.builder} already exists")
    builder = RingBuilder(args.part_power, args.replicas, args.hash_prefix, args.hash_suffix)
    builder.save(args.builder)
    print(
        f"created {args.builder}: {builder.partition_count} partitions, {builder.replicas} replicas"
    )
    return 0


def _add(args: argparse.Namespace) -> int:
    builder = RingBuilder.load(args.builder)
    device = builder.add_device(
        region=args.region, zone=args.zone, node=args.node, device=args.device, weight=args.weight
    )
    builder.save(args.builder)
    print(f"added device {device.id}: {_describe(device.to_json())}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    builder = RingBuilder.load(args.builder)
    device = builder.remove_device(args.id)
    builder.save(args.builder)
    print(f"removed device {device.id}: {_describe(device.to_json())}")
    return 0


def _weight(args: argparse.Namespace) -> int:
    builder = RingBuilder.load(args.builder)
    device = builder.set_weight(args.id, args.weight)
    builder.save(args.builder)
    print(f"device {device.id} now weighs {device.weight:g}")
    return 0


def _rebalance(args: argparse.Namespace) -> int:
    builder = RingBuilder.load(args.builder)
    report = builder.rebalance(seed=args.seed)
    ring = builder.ring()
    ring.save(args.ring)
    builder.save(args.builder)
    print(
        f"generation {ring.generation}: moved {report.moved} of"
        f" {ring.replicas * ring.partition_count} assignments, balance {report.balance:.2f}%,"
        f" dispersion problems {report.dispersion}"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    ring = Ring.load(args.ring)
    print(
        f"{args.ring}: generation {ring.generation}, {ring.partition_count} partitions"
        f" (part_power {ring.part_power}), {ring.replicas} replicas, {len(ring.devices)} devices"
    )
    parts, wanted = ring.parts_per_device(), ring.wanted_parts()
    print(
        f"{'id':>5} {'region':>6} {'zone':<8} {'node':<22} {'device':<10} {'weight':>8}"
        f" {'parts':>7} {'wanted':>9} {'balance':>8}"
    )
    for device in ring.devices:
        want = wanted[device.id]
        off = (parts[device.id] - want) / want * 100 if want else 0.0
        print(
            f"{device.id:>5} {device.region:>6} {device.zone:<8} {device.node:<22}"
            f" {device.device:<10} {device.weight:>8g} {parts[device.id]:>7} {want:>9.2f}"
            f" {off:>7.2f}%"
        )
    return 0


def _wait(args: argparse.Namespace) -> int:
    started = time.monotonic()
    last_report = started
    state = "does not exist yet"
    while True:
        try:
            ring = Ring.load(args.ring)
        except FileNotFoundError:
            state = "does not exist yet"
        except ValueError as exc:
            state = f"is not a valid ring yet ({exc})"
        else:
            mine = [d.device for d in ring.devices if args.node in (None, d.node)]
            if mine:
                where = args.node or "devices"
                print(f"{args.ring}: generation {ring.generation} has {where}: {mine}")
                return 0
            state = f"(generation {ring.generation}) has no device on {args.node} yet"
        now = time.monotonic()
        if now - started >= args.timeout:
            raise ValueError(f"{args.ring} {state} after {args.timeout:g}s")
        if now - last_report >= 10:
            print(f"waiting: {args.ring} {state}", flush=True)
            last_report = now
        time.sleep(args.interval)


def _describe(device: dict[str, object]) -> str:
    return " ".join(f"{key}={value}" for key, value in device.items() if key != "id")
