"""The meta footer's format: a JSON object of strings padded to a fixed size."""

from __future__ import annotations

import pytest
from nimbus_storage.protocol.footer import (
    FOOTER_SIZE,
    MAX_FOOTER_SIZE,
    decode_footer,
    encode_footer,
    footer_size,
)


def test_a_footer_round_trips_at_its_fixed_size() -> None:
    meta = {"x-amz-checksum-sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=", "é": "ü"}
    raw = encode_footer(meta)
    assert len(raw) == FOOTER_SIZE
    assert raw.rstrip(b" ").endswith(b"}")
    assert decode_footer(raw) == meta
    assert decode_footer(encode_footer({})) == {}


def test_meta_too_large_for_the_footer_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit a 16-byte footer"):
        encode_footer({"key": "a value longer than sixteen bytes"}, 16)


@pytest.mark.parametrize(
    ("header", "expected"), [(None, 0), ("1", 1), ("512", 512), (str(MAX_FOOTER_SIZE), 65536)]
)
def test_footer_sizes(header: str | None, expected: int) -> None:
    assert footer_size(header) == expected


@pytest.mark.parametrize("header", ["", "0", "-5", "1.5", "x", str(MAX_FOOTER_SIZE + 1)])
def test_bad_footer_sizes(header: str) -> None:
    with pytest.raises(ValueError, match="must be a size"):
        footer_size(header)


@pytest.mark.parametrize("raw", [b"", b"   ", b"[1, 2]", b'{"a": 1}', b'{"a": null}', b"\xff{}"])
def test_bad_footers(raw: bytes) -> None:
    with pytest.raises(ValueError, match="meta footer"):
        decode_footer(raw)
