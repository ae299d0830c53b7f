"""ring.json and builder.json: the documented format, round trips and malformed files."""

from __future__ import annotations

import base64
import copy
import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from nimbus_storage.ring import Ring, RingBuilder

from tests.unit.storage.ring_layouts import builder_with, grid

Doc = dict[str, object]


@pytest.fixture(scope="module")
def builder() -> RingBuilder:
    built = builder_with(grid(3, 2), part_power=8)
    built.rebalance()
    built.remove_device(4)
    built.rebalance()
    return built


@pytest.fixture
def doc(builder: RingBuilder) -> Doc:
    return builder.ring().to_json()


def test_ring_json_has_exactly_the_documented_fields(doc: Doc) -> None:
    assert set(doc) == {
        "format",
        "version",
        "part_power",
        "replicas",
        "hash_prefix",
        "hash_suffix",
        "devices",
        "assignments",
        "generation",
    }
    assert (doc["format"], doc["version"], doc["part_power"], doc["replicas"]) == (
        "nimbus-ring",
        1,
        8,
        3,
    )
    assert doc["generation"] == 2
    devices = doc["devices"]
    assert isinstance(devices, list)
    assert devices[4] is None
    assert devices[0] == {
        "id": 0,
        "region": 1,
        "zone": "z0",
        "node": "10.0.0.0:6200",
        "device": "d0",
        "weight": 100.0,
    }


def test_rows_are_base64_little_endian_uint16(builder: RingBuilder, doc: Doc) -> None:
    rows = doc["assignments"]
    assert isinstance(rows, list)
    for text, row in zip(rows, builder.ring().assignments, strict=True):
        raw = base64.b64decode(text)
        assert struct.unpack(f"<{len(raw) // 2}H", raw) == row


def test_round_trip_through_json_text(builder: RingBuilder, doc: Doc) -> None:
    assert Ring.from_json(json.loads(json.dumps(doc))) == builder.ring()


def test_save_and_load_are_atomic_and_exact(builder: RingBuilder, tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    path.write_text("old")
    builder.ring().save(path)
    assert Ring.load(path) == builder.ring()
    assert [p.name for p in tmp_path.iterdir()] == ["ring.json"]


def test_a_failed_save_leaves_the_old_file_and_no_temp(
    builder: RingBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    path = tmp_path / "ring.json"
    path.write_text("old")
    monkeypatch.setattr("nimbus_storage.ring.codec.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        builder.ring().save(path)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["ring.json"]


def test_builder_round_trip_keeps_state(builder: RingBuilder, tmp_path: Path) -> None:
    builder_copy = RingBuilder.from_json(json.loads(json.dumps(builder.to_json())))
    assert builder_copy.ring() == builder.ring()
    assert (builder_copy.hash_prefix, builder_copy.hash_suffix) == ("pre", "suf")
    builder_copy.set_weight(0, 10)
    path = tmp_path / "builder.json"
    builder_copy.save(path)
    with pytest.raises(ValueError, match="rebalance first"):
        RingBuilder.load(path).ring()


def test_builders_generate_their_salts() -> None:
    first, second = RingBuilder(4, 1), RingBuilder(4, 1)
    assert len(first.hash_prefix) == 16
    assert first.hash_prefix != second.hash_prefix
    assert first.hash_suffix != second.hash_suffix


def _set(key: str, value: object) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc[key] = value

    return change


def _drop(key: str) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        del doc[key]

    return change


def _row(index: int, raw: bytes) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        rows = doc["assignments"]
        assert isinstance(rows, list)
        rows[index] = base64.b64encode(raw).decode()

    return change


def _device(index: int, **fields: object) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        devices = doc["devices"]
        assert isinstance(devices, list)
        devices[index] = None if not fields else {**devices[index], **fields}

    return change


def _rows_with(partition: int, device_ids: list[int]) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        rows = doc["assignments"]
        assert isinstance(rows, list)
        for index, device_id in enumerate(device_ids):
            raw = bytearray(base64.b64decode(rows[index]))
            raw[2 * partition : 2 * partition + 2] = struct.pack("<H", device_id)
            rows[index] = base64.b64encode(bytes(raw)).decode()

    return change


MALFORMED = {
    "other format": (_set("format", "swift-ring"), "not a nimbus-ring document"),
    "newer version": (_set("version", 2), "unsupported nimbus-ring version 2"),
    "no part_power": (_drop("part_power"), "part_power must be an integer"),
    "part_power bool": (_set("part_power", True), "part_power must be an integer"),
    "part_power huge": (_set("part_power", 40), "part_power must be an integer within 0..24"),
    "no replicas": (_set("replicas", 0), "replicas must be an integer >= 1"),
    "salt not text": (_set("hash_prefix", 5), "hash_prefix must be a string"),
    "negative generation": (_set("generation", -1), "generation must be an integer >= 0"),
    "rows missing": (_set("assignments", "x"), "assignments must be a list"),
    "too few rows": (_set("assignments", []), "assignments hold 0 rows, not one per replica"),
    "not base64": (_set("assignments", ["!!", "!!", "!!"]), "row 0 is not valid base64"),
    "short row": (_row(1, b"\x00\x00"), "row 1 holds 2 bytes, not 512"),
    "unknown device": (_rows_with(3, [60, 1, 2]), "partition 3: device 60 is not in the ring"),
    "removed device": (_rows_with(3, [4, 1, 2]), "partition 3: device 4 is not in the ring"),
    "twice on one device": (_rows_with(9, [1, 1, 2]), "partition 9 has two replicas on one"),
    "devices not a list": (_set("devices", {}), "devices must be a list"),
    "device id off slot": (_device(1, id=3), "device at index 1 has id 3"),
    "device field missing": (lambda d: d.update(devices=[{"id": 0}]), "device is missing"),
    "weight not a number": (_device(0, weight="heavy"), "weight must be a number"),
    "negative weight": (_device(0, weight=-5), "weight must be a finite number >= 0"),
    "region not int": (_device(0, region="1"), "region must be an integer"),
    "bad node": (_device(0, node="nowhere"), "node must be host:port"),
    "bad device name": (_device(0, device="a/b"), "plain directory name"),
    "node in two zones": (_device(2, node="10.0.0.0:6200"), "appears in two zones"),
    "device twice": (_device(1, node="10.0.0.0:6200", device="d0"), "appears twice"),
}


@pytest.mark.parametrize(("change", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_rings_are_refused_with_a_reason(
    doc: Doc, change: Callable[[Doc], None], message: str
) -> None:
    broken = copy.deepcopy(doc)
    change(broken)
    with pytest.raises(ValueError, match=message):
        Ring.from_json(broken)


def test_a_file_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ring.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"ring.json is not valid JSON"):
        Ring.load(path)


def test_a_builder_file_is_not_a_ring(builder: RingBuilder) -> None:
    with pytest.raises(ValueError, match="not a nimbus-ring document"):
        Ring.from_json(builder.to_json())
    with pytest.raises(ValueError, match="must be a JSON object"):
        Ring.from_json([1, 2])
