"""The checksums of multipart objects, computed from their parts' checksums alone; the
algorithm of a part's checksum."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from collections.abc import Callable

import crc32c
import pytest
from multidict import CIMultiDict
from nimbus_storage.auth.checksums import announced_algorithm
from nimbus_storage.auth.crc64nvme import crc64nvme
from nimbus_storage.auth.multipart_checksums import (
    combine_crcs,
    composite_checksum,
    default_checksum_type,
    full_object_checksum,
    type_allows,
)
from nimbus_storage.s3errors import InvalidRequest

CRCS: dict[str, tuple[Callable[[bytes], int], int]] = {
    "CRC32": (zlib.crc32, 4),
    "CRC32C": (crc32c.crc32c, 4),
    "CRC64NVME": (crc64nvme, 8),
}


def crc_digest(algorithm: str, data: bytes) -> bytes:
    function, size = CRCS[algorithm]
    return int(function(data)).to_bytes(size, "big")


@pytest.mark.parametrize("algorithm", sorted(CRCS))
@pytest.mark.parametrize(
    "sizes",
    [[0], [1], [3, 0, 5], [1000, 1], [4096, 4096, 17], [0, 0], [65_537, 3, 256]],
)
def test_combined_crc_is_the_crc_of_the_concatenation(algorithm: str, sizes: list[int]) -> None:
    parts = [os.urandom(size) for size in sizes]
    combined = combine_crcs(algorithm, [(crc_digest(algorithm, p), len(p)) for p in parts])
    assert combined == crc_digest(algorithm, b"".join(parts))


@pytest.mark.parametrize("algorithm", sorted(CRCS))
def test_no_parts_combine_to_the_crc_of_nothing(algorithm: str) -> None:
    assert combine_crcs(algorithm, []) == crc_digest(algorithm, b"")


def test_long_parts_combine_as_their_blocks_do() -> None:
    # 4 GiB of zeros two ways: 4096 blocks of 1 MiB one after the other (small shifts), and
    # by doubling 1 MiB twelve times (shifts up to 2 GiB); then 4 GiB again, past 2^32 bytes.
    block = crc_digest("CRC32", bytes(1 << 20))
    one_by_one = combine_crcs("CRC32", [(block, 1 << 20)] * 4096)
    doubled, length = block, 1 << 20
    for _ in range(12):
        doubled = combine_crcs("CRC32", [(doubled, length), (doubled, length)])
        length *= 2
    assert length == 1 << 32
    assert doubled == one_by_one
    tail = crc_digest("CRC32", b"tail")
    assert combine_crcs("CRC32", [(doubled, length), (doubled, length), (tail, 4)]) == (
        combine_crcs("CRC32", [(block, 1 << 20)] * 8192 + [(tail, 4)])
    )


# 5 MiB of b"A" then b"tail": part checksums and object checksums as published with the
# ceph/s3-tests checksum suite (and reproduced by other S3 implementations' tests).
BIG = b"A" * (5 * 1024 * 1024)
TAIL = b"tail"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("CRC32", "ar6UVw==-2"),
        ("CRC32C", "9nmlxg==-2"),
        ("SHA1", "l89BPfYtRdlTXZSsCsWMB0Elnjg=-2"),
        ("SHA256", "2kYaKgwMh4G97NB7sxufv13cvQqUqNgjK75WsW6s16Q=-2"),
    ],
)
def test_composite_checksum(algorithm: str, expected: str) -> None:
    if algorithm in CRCS:
        digests = [crc_digest(algorithm, BIG), crc_digest(algorithm, TAIL)]
    else:
        digests = [hashlib.new(algorithm.lower(), p).digest() for p in (BIG, TAIL)]
    assert composite_checksum(algorithm, digests) == expected


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [("CRC32", "gPNU7Q=="), ("CRC32C", "LZbOwA=="), ("CRC64NVME", "UpfGsWmSCEg=")],
)
def test_full_object_checksum(algorithm: str, expected: str) -> None:
    whole = base64.b64encode(crc_digest(algorithm, BIG + TAIL)).decode()
    assert whole == expected
    parts = [(crc_digest(algorithm, BIG), len(BIG)), (crc_digest(algorithm, TAIL), len(TAIL))]
    assert full_object_checksum(algorithm, parts) == expected


def test_checksum_types_of_algorithms() -> None:
    assert default_checksum_type("CRC64NVME") == "FULL_OBJECT"
    assert {default_checksum_type(a) for a in ("CRC32", "CRC32C", "SHA1", "SHA256")} == {
        "COMPOSITE"
    }
    assert type_allows("FULL_OBJECT", "CRC32C")
    assert not type_allows("FULL_OBJECT", "SHA256")
    assert not type_allows("COMPOSITE", "CRC64NVME")
    assert type_allows("COMPOSITE", "SHA1")


def test_only_crcs_combine() -> None:
    with pytest.raises(ValueError, match="SHA256"):
        combine_crcs("SHA256", [])


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"x-amz-checksum-sha256": "x"}, "SHA256"),
        ({"x-amz-sdk-checksum-algorithm": "crc32c"}, "CRC32C"),
        ({"x-amz-trailer": "x-amz-checksum-crc64nvme"}, "CRC64NVME"),
        # The trailer's checksum is the one the request carries; the SDK header only announces.
        (
            {"x-amz-trailer": "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm": "CRC32"},
            "CRC32",
        ),
        ({"x-amz-checksum-type": "COMPOSITE", "x-amz-checksum-algorithm": "SHA1"}, None),
    ],
)
def test_the_algorithm_a_part_request_announces(
    headers: dict[str, str], expected: str | None
) -> None:
    assert announced_algorithm(CIMultiDict(headers)) == expected


def test_a_value_header_contradicting_the_sdk_header_is_refused() -> None:
    headers = {"x-amz-checksum-crc32": "x", "x-amz-sdk-checksum-algorithm": "SHA256"}
    with pytest.raises(InvalidRequest, match="x-amz-sdk-checksum-algorithm"):
        announced_algorithm(CIMultiDict(headers))
