"""Ring lookups: the partition rule of the disk layout, primaries and handoff order."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.ring import Device, Ring

from tests.unit.storage.ring_layouts import builder_with, grid

NAMES = ["bucket/key", "b/ünïcødé", "b/a/very/deep/key.txt", "", "b/\udcff surrogate"]


@pytest.fixture(scope="module")
def ring() -> Ring:
    builder = builder_with(grid(4, 2, 2), part_power=8)
    builder.rebalance()
    return builder.ring()


@pytest.mark.parametrize("name", NAMES)
def test_partition_rule_matches_the_disk_layout(ring: Ring, name: str) -> None:
    identity = StoreIdentity(ring.hash_prefix, ring.hash_suffix, ring.part_power)
    assert ring.name_hash(name) == identity.name_hash(name)
    assert ring.partition(name) == identity.partition(identity.name_hash(name))


def test_partition_is_the_top_bits_of_the_salted_md5(ring: Ring) -> None:
    digest = hashlib.md5(b"pre" + b"bucket/key" + b"suf").digest()
    assert ring.partition("bucket/key") == digest[0]  # part_power 8: the first byte


def test_primaries_follow_the_rows_and_never_repeat_a_device(ring: Ring) -> None:
    for partition in range(ring.partition_count):
        primaries = ring.primaries(partition)
        assert [d.id for d in primaries] == [row[partition] for row in ring.assignments]
        assert len({d.id for d in primaries}) == ring.replicas


def test_handoffs_are_every_other_device_once(ring: Ring) -> None:
    for partition in (0, 17, 255):
        primary_ids = {d.id for d in ring.primaries(partition)}
        handoff_ids = [d.id for d in ring.handoffs(partition)]
        assert len(handoff_ids) == len(set(handoff_ids))
        assert set(handoff_ids) == {d.id for d in ring.devices} - primary_ids


def test_handoffs_prefer_zones_then_nodes_without_a_replica(ring: Ring) -> None:
    for partition in range(0, ring.partition_count, 7):
        primaries = ring.primaries(partition)
        zones, nodes = {d.zone_key for d in primaries}, {d.node for d in primaries}
        ranks = [(d.zone_key in zones, d.node in nodes) for d in ring.handoffs(partition)]
        assert ranks == sorted(ranks)
        assert ranks[0] == (False, False)


def test_handoff_order_is_deterministic_and_varies_by_partition(ring: Ring) -> None:
    orders = {p: [d.id for d in ring.handoffs(p)] for p in range(ring.partition_count)}
    assert orders[3] == [d.id for d in ring.handoffs(3)]
    assert len({order[0] for order in orders.values()}) > 4


def test_the_ring_is_immutable(ring: Ring) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ring.generation = 99  # type: ignore[misc]


def test_removed_devices_keep_their_id_slot() -> None:
    builder = builder_with(grid(3, 2))
    builder.rebalance()
    builder.remove_device(2)
    builder.rebalance()
    ring = builder.ring()
    assert ring.device_slots[2] is None
    assert [d.id for d in ring.devices] == [0, 1, 3, 4, 5]
    with pytest.raises(KeyError):
        ring.device(2)
    added = builder.add_device(region=1, zone="z1", node="10.0.8.8:6200", device="d", weight=1)
    assert added.id == 6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"node": "no-port"}, "node must be host:port"),
        ({"node": "host:99999"}, "node must be host:port"),
        ({"device": "../etc"}, "plain directory name"),
        ({"device": ""}, "plain directory name"),
        ({"zone": ""}, "zone must not be empty"),
        ({"weight": -1.0}, "weight must be a finite number"),
        ({"weight": float("nan")}, "weight must be a finite number"),
        ({"id": 65535}, "id must be within"),
    ],
)
def test_devices_reject_unusable_fields(change: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "id": 0,
        "region": 1,
        "zone": "a",
        "node": "10.0.0.1:6200",
        "device": "d0",
        "weight": 1.0,
    }
    with pytest.raises(ValueError, match=message):
        Device(**{**fields, **change})  # type: ignore[arg-type]


def test_builder_refuses_a_device_twice() -> None:
    builder = builder_with(grid(3, 1))
    with pytest.raises(ValueError, match="already in the ring"):
        builder.add_device(region=1, zone="z0", node="10.0.0.0:6200", device="d0", weight=1)


def test_builder_refuses_a_node_in_two_zones() -> None:
    builder = builder_with(grid(3, 1))
    with pytest.raises(ValueError, match=r"node 10\.0\.0\.0:6200 is in region 1 zone z0"):
        builder.add_device(region=1, zone="z1", node="10.0.0.0:6200", device="d9", weight=1)


def test_builder_ring_needs_a_rebalance_after_changes() -> None:
    builder = builder_with(grid(3, 1))
    with pytest.raises(ValueError, match="never been rebalanced"):
        builder.ring()
    builder.rebalance()
    builder.set_weight(0, 50)
    with pytest.raises(ValueError, match="rebalance first"):
        builder.ring()
