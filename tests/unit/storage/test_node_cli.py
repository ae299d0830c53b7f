"""``nimbus-storage node`` options, and the node protocol's parsing rules."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from nimbus_storage import cli as top_cli
from nimbus_storage.blobs.layout import IDENTITY_FILE, StoreIdentity
from nimbus_storage.node import cli
from nimbus_storage.node.requests import BadRequest, parse_range, parse_target, parse_timestamp
from nimbus_storage.ring import RingBuilder


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def write_ring(path: Path) -> Path:
    builder = RingBuilder(part_power=3, replicas=2, hash_prefix="pre", hash_suffix="suf")
    builder.add_device(region=1, zone="a", node="127.0.0.1:6200", device="d0", weight=1)
    builder.add_device(region=1, zone="b", node="127.0.0.2:6200", device="d0", weight=1)
    builder.add_device(region=1, zone="a", node="127.0.0.1:6200", device="d1", weight=1)
    builder.rebalance()
    builder.ring().save(path)
    return path


def test_ring_gives_identity_and_the_devices_of_this_node(tmp_path: Path) -> None:
    ring = write_ring(tmp_path / "ring.json")
    args = parse("--data", str(tmp_path), "--listen", "127.0.0.1:6200", "--ring", str(ring))
    config = cli.config_from_args(args, "tok")
    assert config.identity == StoreIdentity("pre", "suf", 3)
    assert config.devices == ("d0", "d1")
    assert (config.host, config.port, config.token) == ("127.0.0.1", 6200, "tok")
    assert config.auditor is not None


def test_ring_node_name_can_differ_from_the_bind_address(tmp_path: Path) -> None:
    ring = write_ring(tmp_path / "ring.json")
    args = parse(
        "--data", str(tmp_path), "--listen", "0.0.0.0:6200", "--node", "127.0.0.2:6200",
        "--ring", str(ring),
    )  # fmt: skip
    config = cli.config_from_args(args, "tok")
    assert config.devices == ("d0",)
    assert config.host == "0.0.0.0"


def test_a_ring_mounted_from_a_configmap_is_followed_through_its_symlink(tmp_path: Path) -> None:
    """A kubelet swaps ``..data`` to a new directory on every ConfigMap update and removes the
    old one: the node must keep the link, not the directory it pointed to at start."""
    mount = tmp_path / "rings"
    first = mount / "..2026_01_01_00_00_00.1"
    first.mkdir(parents=True)
    write_ring(first / "ring.json")
    (mount / "..data").symlink_to(first.name)
    (mount / "ring.json").symlink_to("..data/ring.json")
    args = parse(
        "--data", str(tmp_path), "--listen", "127.0.0.1:6200", "--ring", str(mount / "ring.json")
    )

    config = cli.config_from_args(args, "tok")

    assert config.ring_file == mount / "ring.json"


def test_ring_without_this_node_is_refused(tmp_path: Path) -> None:
    ring = write_ring(tmp_path / "ring.json")
    args = parse("--data", str(tmp_path), "--listen", "127.0.0.9:6200", "--ring", str(ring))
    with pytest.raises(cli.UsageError, match=r"no devices on node 127\.0\.0\.9:6200"):
        cli.config_from_args(args, "tok")


def test_explicit_identity_and_devices(tmp_path: Path) -> None:
    args = parse(
        "--data", str(tmp_path), "--listen", "0.0.0.0:0", "--part-power", "5",
        "--hash-prefix", "x", "--hash-suffix", "y", "--device", "a", "--device", "b",
        "--no-auditor", "--create-devices",
    )  # fmt: skip
    config = cli.config_from_args(args, "tok")
    assert config.identity == StoreIdentity("x", "y", 5)
    assert config.devices == ("a", "b")
    assert config.auditor is None
    assert config.create_devices


def test_identity_from_an_existing_store(tmp_path: Path) -> None:
    identity = StoreIdentity.load_or_create(tmp_path / "old", 7)
    args = parse(
        "--data", str(tmp_path), "--listen", "h:1", "--identity-from", str(tmp_path / "old"),
        "--device", "d0",
    )  # fmt: skip
    assert cli.config_from_args(args, "tok").identity == identity
    assert (tmp_path / "old" / IDENTITY_FILE).exists()


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--listen", "nohost", "--part-power", "3", "--device", "d"], "HOST:PORT"),
        (["--listen", "h:1", "--part-power", "3", "--device", "d"], "--hash-prefix"),
        (["--listen", "h:1", "--part-power", "3", "--hash-prefix", "a", "--hash-suffix", "b"],
         "--device is required"),
    ],
)  # fmt: skip
def test_bad_options(tmp_path: Path, argv: list[str], complaint: str) -> None:
    with pytest.raises(cli.UsageError, match=complaint):
        cli.config_from_args(parse("--data", str(tmp_path), *argv), "tok")


def test_run_refuses_without_token_and_on_identity_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--data", str(tmp_path), "--listen", "127.0.0.1:0", "--part-power", "3",
            "--hash-prefix", "a", "--hash-suffix", "b", "--device", "d0"]  # fmt: skip
    monkeypatch.delenv(cli.TOKEN_ENV, raising=False)
    assert cli.run(parse(*argv)) == 2
    assert cli.TOKEN_ENV in capsys.readouterr().err
    StoreIdentity.load_or_create(tmp_path, 3)  # a store with its own random salt
    monkeypatch.setenv(cli.TOKEN_ENV, "tok")
    assert cli.run(parse(*argv)) == 2
    assert "the ring has part_power=3" in capsys.readouterr().err


def test_top_level_command_has_the_node_subcommand() -> None:
    args = top_cli._parser().parse_args(
        ["node", "--data", "/d", "--listen", "h:1", "--ring", "/r.json"]
    )
    assert args.command == "node"
    assert args.ring == Path("/r.json")


# --- protocol parsing -------------------------------------------------------------------------


def test_parse_target_keeps_encoded_slashes_in_the_name() -> None:
    target = parse_target("/objects/d0/12/bucket%2Fa%2Fb%20c")
    assert (target.device, target.partition, target.name) == ("d0", 12, "bucket/a/b c")
    assert parse_target("/objects/d0/12").name is None
    with pytest.raises(BadRequest):
        parse_target("/objects/d0/12/a/b")


@pytest.mark.parametrize("value", ["1700000001.00000", "0000000001.50000"])
def test_normalised_timestamps_pass(value: str) -> None:
    assert parse_timestamp(value) == value


@pytest.mark.parametrize("value", ["1700000001.0", "1700000001", "17000000010.00000", "-1", ""])
def test_other_timestamps_are_refused(value: str) -> None:
    with pytest.raises(BadRequest):
        parse_timestamp(value)


def test_range_forms() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=2-4", 10) == (2, 4)
    assert parse_range("bytes=2-", 10) == (2, 9)
    assert parse_range("bytes=-2", 10) == (8, 9)
    assert parse_range("items=1-2", 10) is None


def test_replicator_settings_come_from_the_flags(tmp_path: Path) -> None:
    ring = write_ring(tmp_path / "ring.json")
    args = parse(
        "--data", str(tmp_path), "--listen", "0.0.0.0:6200", "--node", "127.0.0.2:6200",
        "--ring", str(ring), "--replicate-interval", "5", "--replicate-items-per-second", "7",
        "--replicate-bytes-per-second", "1000", "--replicate-concurrency", "3",
        "--reclaim-age", "60",
    )  # fmt: skip
    config = cli.config_from_args(args, "tok")
    assert config.replicator is not None
    assert (config.replicator.interval, config.replicator.items_per_second) == (5, 7)
    assert (config.replicator.bytes_per_second, config.replicator.concurrency) == (1000, 3)
    assert config.replicator.reclaim_age == 60
    assert config.ring_file == ring.resolve()
    assert config.ring_node == "127.0.0.2:6200"


def test_no_replicator_without_a_ring_or_when_asked(tmp_path: Path) -> None:
    ring = write_ring(tmp_path / "ring.json")
    args = parse(
        "--data", str(tmp_path), "--listen", "127.0.0.1:6200", "--ring", str(ring),
        "--no-replicator",
    )  # fmt: skip
    assert cli.config_from_args(args, "tok").replicator is None
    args = parse(
        "--data", str(tmp_path), "--listen", "h:1", "--part-power", "3", "--hash-prefix", "x",
        "--hash-suffix", "y", "--device", "d0",
    )  # fmt: skip
    assert cli.config_from_args(args, "tok").replicator is None
    args = parse(
        "--data", str(tmp_path), "--listen", "127.0.0.1:6200", "--ring", str(ring),
        "--replicate-concurrency", "0",
    )  # fmt: skip
    with pytest.raises(cli.UsageError, match="concurrency"):
        cli.config_from_args(args, "tok")
