"""Golden files of ``ring.json``: small rings built from fixed hash salts and the default
rebalance seed, saved as every node and gateway reads them, compared byte for byte with
tests/unit/storage/golden/. A change to the format, the codec or the rebalancer shows up here as
a diff to review. The lookups (name -> partition -> primaries and first handoffs) are golden
too, and the committed ring loads back into the same lookups. After a deliberate change,
rewrite the files with ``NIMBUS_UPDATE_GOLDEN=1 pytest tests/unit/storage/test_ring_golden.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from nimbus_storage.ring import Ring, RingBuilder

from tests.support.golden import assert_golden
from tests.unit.storage.ring_layouts import Spec, builder_with, grid

GOLDEN = Path(__file__).parent / "golden"
NAMES = [
    "catalog",
    "bucket:photos",
    "/photos/2026/q4.csv\0w1",
    "/photos/a b/\u00e9\0w2",
    *(f"/bench/key-{n:04d}\0w" for n in range(12)),
]


def replicated() -> RingBuilder:
    """3 replicas over 3 zones of 2 nodes, one heavier; one device removed after the first
    rebalance (a null slot, generation 2)."""
    specs = grid(3, 2)
    specs[1] = Spec(1, "z0", "10.0.0.1:6200", weight=200.0)
    specs.append(Spec(1, "z2", "10.0.2.9:6200"))
    builder = builder_with(specs, part_power=6, replicas=3)
    builder.rebalance()
    builder.remove_device(len(specs) - 1)
    builder.rebalance()
    return builder


def erasure_coded() -> RingBuilder:
    """A ring for erasure coding 4+2: 6 fragment archives per object over 3 zones of 3 nodes."""
    builder = builder_with(grid(3, 3), part_power=5, replicas=6)
    builder.rebalance()
    return builder


RINGS: dict[str, Callable[[], RingBuilder]] = {
    "ring-replicated": replicated,
    "ring-ec-4+2": erasure_coded,
}


def lookups(ring: Ring) -> dict[str, object]:
    found: dict[str, object] = {}
    for name in NAMES:
        partition = ring.partition(name)
        found[name] = {
            "partition": partition,
            "primaries": [f"{d.id} {d.node}/{d.device}" for d in ring.primaries(partition)],
            "handoffs": [f"{d.id} {d.node}/{d.device}" for d in ring.handoffs(partition)][:2],
        }
    return found


def lookups_text(ring: Ring) -> str:
    return json.dumps(lookups(ring), indent=1, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(RINGS))
def test_saved_ring_json_matches_its_golden_file(name: str, tmp_path: Path) -> None:
    saved = tmp_path / "ring.json"
    RINGS[name]().ring().save(saved)
    assert_golden(GOLDEN / f"{name}.json", saved.read_text())


@pytest.mark.parametrize("name", sorted(RINGS))
def test_lookups_match_their_golden_file(name: str) -> None:
    assert_golden(GOLDEN / f"{name}.lookups.json", lookups_text(RINGS[name]().ring()))


@pytest.mark.parametrize("name", sorted(RINGS))
def test_the_golden_ring_loads_back_into_the_same_ring_and_lookups(name: str) -> None:
    built = RINGS[name]().ring()
    loaded = Ring.load(GOLDEN / f"{name}.json")
    assert loaded == built
    assert lookups(loaded) == lookups(built)
    for partition in range(built.partition_count):
        assert loaded.primaries(partition) == built.primaries(partition)
        assert list(loaded.handoffs(partition)) == list(built.handoffs(partition))


def test_the_golden_rings_are_what_they_claim() -> None:
    replicated_ring = Ring.load(GOLDEN / "ring-replicated.json")
    assert (replicated_ring.replicas, replicated_ring.generation) == (3, 2)
    assert replicated_ring.device_slots[-1] is None  # the removed device keeps its id
    ec_ring = Ring.load(GOLDEN / "ring-ec-4+2.json")
    assert (ec_ring.replicas, len(ec_ring.devices)) == (6, 9)
    for partition in range(ec_ring.partition_count):  # each archive on a device of its own
        assert len({d.id for d in ec_ring.primaries(partition)}) == 6


def test_every_golden_file_has_a_ring() -> None:
    stems = {path.name.split(".")[0] for path in GOLDEN.glob("*.json")}
    assert stems <= set(RINGS)
