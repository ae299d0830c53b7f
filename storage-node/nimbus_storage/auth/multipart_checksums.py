"""The checksum of an object uploaded in parts, from its parts' checksums alone.

S3 gives a multipart object one of two kinds of checksum (``x-amz-checksum-type``):

* ``COMPOSITE``: the checksum of the concatenated binary checksums of the parts, written
  ``<base64>-<number of parts>`` (any algorithm but CRC64NVME);
* ``FULL_OBJECT``: the CRC of the whole object, as a single upload would have it (CRC32,
  CRC32C and CRC64NVME only). It is computed here from each part's CRC and length, without
  reading the data again: ``crc(A + B)`` is ``crc(A)`` multiplied by ``x^(8 * len(B))`` modulo
  the CRC's polynomial, then XORed with ``crc(B)`` (zlib's ``crc32_combine``; the initial value
  and final XOR of these CRCs cancel out).

Pure: no I/O, no S3 errors.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import cache

from nimbus_storage.auth.checksums import new_checksum

COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"
CHECKSUM_TYPES = (COMPOSITE, FULL_OBJECT)

# Bit-reflected polynomials and widths of the CRCs S3 combines into full-object checksums.
_CRCS: dict[str, tuple[int, int]] = {
    "CRC32": (0xEDB88320, 32),
    "CRC32C": (0x82F63B78, 32),
    "CRC64NVME": (0x9A6C9329AC4BC9B5, 64),
}
FULL_OBJECT_ALGORITHMS = frozenset(_CRCS)
COMPOSITE_ALGORITHMS = frozenset({"CRC32", "CRC32C", "SHA1", "SHA256"})


def default_checksum_type(algorithm: str) -> str:
    """The type S3 gives an upload that names only its algorithm: CRC64NVME exists only as a
    full-object checksum, every other algorithm is composite."""
    return FULL_OBJECT if algorithm == "CRC64NVME" else COMPOSITE


def type_allows(checksum_type: str, algorithm: str) -> bool:
    allowed = FULL_OBJECT_ALGORITHMS if checksum_type == FULL_OBJECT else COMPOSITE_ALGORITHMS
    return algorithm in allowed


def composite_checksum(algorithm: str, part_digests: Sequence[bytes]) -> str:
    """``<base64 of the checksum of the concatenated part digests>-<number of parts>``."""
    checksum = new_checksum(algorithm)
    checksum.update(b"".join(part_digests))
    return f"{checksum.b64digest()}-{len(part_digests)}"


def _multiply(a: int, b: int, poly: int, width: int) -> int:
    """``a * b`` modulo the polynomial, both in the CRC's reflected bit order."""
    mask = 1 << (width - 1)  # x^0
    product = 0
    while a:
        if a & mask:
            product ^= b
            a ^= mask
        mask >>= 1
        b = (b >> 1) ^ poly if b & 1 else b >> 1
    return product


@cache
def _squares(algorithm: str) -> tuple[int, ...]:
    """``x^(2^k)`` modulo the polynomial, for k = 0..63."""
    poly, width = _CRCS[algorithm]
    power = 1 << (width - 2)  # x^1
    squares = []
    for _ in range(64):
        squares.append(power)
        power = _multiply(power, power, poly, width)
    return tuple(squares)


def _shift(algorithm: str, crc: int, length: int) -> int:
    """``crc * x^(8 * length)``: the CRC register after ``length`` zero bytes, unconditioned."""
    poly, width = _CRCS[algorithm]
    squares = _squares(algorithm)
    exponent, k = length, 3  # x^(8n) = product of x^(2^(k+3)) over the bits k of n
    while exponent:
        if exponent & 1:
            crc = _multiply(squares[k], crc, poly, width)
        exponent >>= 1
        k += 1
    return crc


def combine_crcs(algorithm: str, parts: Sequence[tuple[bytes, int]]) -> bytes:
    """The CRC (big-endian digest) of the concatenation of parts given as (digest, length)."""
    if algorithm not in _CRCS:
        raise ValueError(f"{algorithm} is not a CRC that S3 combines")
    width = _CRCS[algorithm][1]
    combined = int.from_bytes(new_checksum(algorithm).digest(), "big")  # of no bytes: 0
    for digest, length in parts:
        combined = _shift(algorithm, combined, length) ^ int.from_bytes(digest, "big")
    return combined.to_bytes(width // 8, "big")


def full_object_checksum(algorithm: str, parts: Sequence[tuple[bytes, int]]) -> str:
    """The base64 full-object CRC of parts given as (digest, length)."""
    return base64.b64encode(combine_crcs(algorithm, parts)).decode("ascii")
