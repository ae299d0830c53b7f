"""The pieces ``ring.json`` and ``builder.json`` share, and atomic file I/O.

Assignment rows travel as base64 of little-endian uint16 device ids; devices as a list indexed
by id in which a removed device is ``null``. Every reader check raises ``ValueError`` with a
message that names the offending field.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
import tempfile
from array import array
from collections.abc import Sequence
from pathlib import Path

from nimbus_storage.ring.device import Device
from nimbus_storage.ring.hashing import MAX_PART_POWER

VERSION = 1


def encode_row(row: Sequence[int]) -> str:
    packed = array("H", row)
    if sys.byteorder != "little":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def decode_row(text: object, partitions: int, index: int) -> array[int]:
    if not isinstance(text, str):
        raise ValueError(f"assignment row {index} must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"assignment row {index} is not valid base64: {exc}") from None
    if len(raw) != 2 * partitions:
        raise ValueError(
            f"assignment row {index} holds {len(raw)} bytes, not {2 * partitions}"
            f" (2 bytes for each of {partitions} partitions)"
        )
    row = array("H")
    row.frombytes(raw)
    if sys.byteorder != "little":
        row.byteswap()
    return row


def check_header(doc: object, expected_format: str) -> dict[str, object]:
    """The document as a dict once its format and version are ours."""
    if not isinstance(doc, dict):
        raise ValueError(f"a {expected_format} document must be a JSON object")
    if doc.get("format") != expected_format:
        raise ValueError(f"not a {expected_format} document: format is {doc.get('format')!r}")
    version = doc.get("version")
    if version != VERSION:
        raise ValueError(f"unsupported {expected_format} version {version!r}; this reads {VERSION}")
    return doc


def int_field(doc: dict[str, object], key: str, lowest: int, highest: int | None = None) -> int:
    value = doc.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < lowest
        or (highest is not None and value > highest)
    ):
        bounds = f"within {lowest}..{highest}" if highest is not None else f">= {lowest}"
        raise ValueError(f"{key} must be an integer {bounds}, not {value!r}")
    return value


def str_field(doc: dict[str, object], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, not {value!r}")
    return value


def part_power_field(doc: dict[str, object]) -> int:
    return int_field(doc, "part_power", 0, MAX_PART_POWER)


def decode_device_slots(value: object) -> list[Device | None]:
    if not isinstance(value, list):
        raise ValueError("devices must be a list (null for a removed device)")
    slots: list[Device | None] = []
    for index, entry in enumerate(value):
        if entry is None:
            slots.append(None)
            continue
        device = Device.from_json(entry)
        if device.id != index:
            raise ValueError(f"device at index {index} has id {device.id}; ids must match slots")
        slots.append(device)
    return slots


def encode_device_slots(slots: Sequence[Device | None]) -> list[dict[str, object] | None]:
    return [None if device is None else device.to_json() for device in slots]


def decode_rows(value: object, replicas: int, partitions: int) -> list[array[int]]:
    if not isinstance(value, list):
        raise ValueError("assignments must be a list of base64 rows")
    if len(value) != replicas:
        raise ValueError(f"assignments hold {len(value)} rows, not one per replica ({replicas})")
    return [decode_row(text, partitions, index) for index, text in enumerate(value)]


def write_json_atomic(path: Path, doc: object) -> None:
    """Write to a temporary file beside ``path``, fsync, rename: readers see old or new."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, separators=(",", ":"))
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
