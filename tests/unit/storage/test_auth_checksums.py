"""Checksum algorithms, header_algorithm and PayloadVerifier."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import pytest
from botocore.httpchecksum import Crc32Checksum, Sha1Checksum, Sha256Checksum
from nimbus_storage.auth.checksums import (
    ALGORITHMS,
    PayloadVerifier,
    header_algorithm,
    new_checksum,
)
from nimbus_storage.s3errors import (
    BadDigest,
    InvalidChecksum,
    InvalidDigest,
    InvalidRequest,
    XAmzContentSHA256Mismatch,
)

from tests.unit.storage.test_auth_client import drain

CHECK_INPUT = b"123456789"
CHUNKS = [b"The quick brown fox ", b"jumps over ", b"the lazy dog"]
DATA = b"".join(CHUNKS)


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


async def source(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.mark.parametrize(
    ("algorithm", "check_value"),
    [
        # The catalogued "check" values: the CRC of b"123456789".
        ("CRC32", 0xCBF43926.to_bytes(4, "big")),
        ("CRC32C", 0xE3069283.to_bytes(4, "big")),
        ("CRC64NVME", 0xAE8B14860A799888.to_bytes(8, "big")),
        ("SHA1", hashlib.sha1(CHECK_INPUT).digest()),
        ("SHA256", hashlib.sha256(CHECK_INPUT).digest()),
    ],
)
def test_check_values_and_incremental_updates(algorithm: str, check_value: bytes) -> None:
    one_shot = new_checksum(algorithm)
    one_shot.update(CHECK_INPUT)
    pieces = new_checksum(algorithm.lower())
    for byte in CHECK_INPUT:
        pieces.update(bytes([byte]))
    assert one_shot.digest() == pieces.digest() == check_value
    assert one_shot.b64digest() == b64(check_value)
    assert one_shot.algorithm == algorithm


@pytest.mark.parametrize(
    ("algorithm", "botocore_checksum"),
    [("CRC32", Crc32Checksum), ("SHA1", Sha1Checksum), ("SHA256", Sha256Checksum)],
)
def test_b64digest_matches_botocore(algorithm: str, botocore_checksum: type[Crc32Checksum]) -> None:
    ours, theirs = new_checksum(algorithm), botocore_checksum()
    for chunk in CHUNKS:
        ours.update(chunk)
        theirs.update(chunk)
    assert ours.b64digest() == theirs.b64digest()


def test_every_algorithm_is_constructible_and_unknown_is_invalid() -> None:
    assert set(ALGORITHMS) == {"CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"}
    with pytest.raises(InvalidRequest):
        new_checksum("MD5")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Content-Type": "text/plain"}, None),
        ({"X-Amz-Checksum-CRC32": "AAAAAA=="}, "CRC32"),
        ({"x-amz-checksum-sha256": "x", "x-amz-checksum-mode": "ENABLED"}, "SHA256"),
        ({"x-amz-sdk-checksum-algorithm": "crc32c"}, "CRC32C"),
        ({"x-amz-sdk-checksum-algorithm": "SHA1", "x-amz-checksum-sha1": "x"}, "SHA1"),
        ({"x-amz-checksum-type": "FULL_OBJECT", "x-amz-checksum-algorithm": "CRC32"}, None),
    ],
)
def test_header_algorithm(headers: dict[str, str], expected: str | None) -> None:
    assert header_algorithm(headers) == expected


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-checksum-crc32": "x", "x-amz-checksum-sha1": "y"},
        {"x-amz-sdk-checksum-algorithm": "CRC32", "x-amz-checksum-sha1": "y"},
        {"x-amz-sdk-checksum-algorithm": "MD5"},
        {"x-amz-checksum-whirlpool": "x"},
    ],
)
def test_header_algorithm_rejects(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        header_algorithm(headers)


# --- PayloadVerifier ---


async def test_content_md5_good() -> None:
    verifier = PayloadVerifier(source(CHUNKS), content_md5=b64(hashlib.md5(DATA).digest()))
    assert await drain(verifier) == DATA
    assert verifier.size == len(DATA)
    assert verifier.finished


async def test_content_md5_mismatch_raises_before_the_last_chunk() -> None:
    verifier = PayloadVerifier(source(CHUNKS), content_md5=b64(hashlib.md5(b"other").digest()))
    received: list[bytes] = []
    with pytest.raises(BadDigest) as info:
        await drain(verifier, received)
    assert info.value.message == "The Content-MD5 you specified did not match what we received."
    assert received == CHUNKS[:-1]
    assert not verifier.finished


@pytest.mark.parametrize("value", ["not base64!", "AAAA", b64(b"x" * 17), ""])
def test_content_md5_malformed_raises_up_front(value: str) -> None:
    with pytest.raises(InvalidDigest):
        PayloadVerifier(source(CHUNKS), content_md5=value)


async def test_empty_body_with_wrong_md5() -> None:
    verifier = PayloadVerifier(source([]), content_md5=b64(hashlib.md5(b"x").digest()))
    with pytest.raises(BadDigest):
        await drain(verifier)


async def test_content_sha256_good_and_mismatch() -> None:
    good = PayloadVerifier(source(CHUNKS), sha256_hex=hashlib.sha256(DATA).hexdigest().upper())
    assert await drain(good) == DATA
    bad = PayloadVerifier(source(CHUNKS), sha256_hex=hashlib.sha256(b"x").hexdigest())
    received: list[bytes] = []
    with pytest.raises(XAmzContentSHA256Mismatch) as info:
        await drain(bad, received)
    assert info.value.extra["S3ComputedContentSHA256"] == hashlib.sha256(DATA).hexdigest()
    assert received == CHUNKS[:-1]


def test_content_sha256_must_be_hex() -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        PayloadVerifier(source(CHUNKS), sha256_hex="UNSIGNED-PAYLOAD")


async def test_checksum_header_good() -> None:
    expected = new_checksum("CRC32C")
    expected.update(DATA)
    verifier = PayloadVerifier(
        source(CHUNKS), checksum_algorithm="CRC32C", expected_checksum=expected.b64digest()
    )
    assert await drain(verifier) == DATA
    assert verifier.checksum_algorithm == "CRC32C"
    assert verifier.checksum_b64 == expected.b64digest()


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"])
async def test_checksum_header_mismatch(algorithm: str) -> None:
    wrong = new_checksum(algorithm)
    wrong.update(b"something else")
    verifier = PayloadVerifier(
        source(CHUNKS), checksum_algorithm=algorithm, expected_checksum=wrong.b64digest()
    )
    received: list[bytes] = []
    with pytest.raises(BadDigest) as info:
        await drain(verifier, received)
    assert info.value.message == (
        f"The {algorithm} you specified did not match the calculated checksum."
    )
    assert received == CHUNKS[:-1]


def test_checksum_header_malformed_raises_up_front() -> None:
    with pytest.raises(InvalidChecksum, match="x-amz-checksum-crc32 header"):
        PayloadVerifier(source(CHUNKS), checksum_algorithm="CRC32", expected_checksum="AAAA")


async def test_checksum_computed_without_an_expected_value() -> None:
    verifier = PayloadVerifier(source(CHUNKS), checksum_algorithm="SHA256")
    await drain(verifier)
    assert verifier.checksum_b64 == b64(hashlib.sha256(DATA).digest())


async def test_verifier_iterates_once() -> None:
    verifier = PayloadVerifier(source(CHUNKS))
    assert await drain(verifier) == DATA
    with pytest.raises(RuntimeError):
        aiter(verifier)


async def test_from_headers_checks_every_claim() -> None:
    headers = {
        "Content-MD5": b64(hashlib.md5(DATA).digest()),
        "X-Amz-Content-SHA256": hashlib.sha256(DATA).hexdigest(),
        "X-Amz-Checksum-SHA1": b64(hashlib.sha1(DATA).digest()),
    }
    verifier = PayloadVerifier.from_headers(source(CHUNKS), headers)
    assert await drain(verifier) == DATA
    assert verifier.checksum_algorithm == "SHA1"
    tampered = PayloadVerifier.from_headers(source([*CHUNKS, b"!"]), headers)
    with pytest.raises(BadDigest):
        await drain(tampered)


async def test_from_headers_uses_the_signed_payload_hash() -> None:
    headers = {"x-amz-content-sha256": hashlib.sha256(DATA).hexdigest()}
    presigned = PayloadVerifier.from_headers(
        source(CHUNKS), headers, payload_hash="UNSIGNED-PAYLOAD"
    )
    assert await drain(presigned) == DATA  # the unsigned header is not what was signed
    signed = PayloadVerifier.from_headers(
        source(CHUNKS), {}, payload_hash=hashlib.sha256(b"x").hexdigest()
    )
    with pytest.raises(XAmzContentSHA256Mismatch):
        await drain(signed)


async def test_from_headers_leaves_trailing_checksums_to_the_chunked_decoder() -> None:
    headers = {
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-sdk-checksum-algorithm": "CRC32",
    }
    verifier = PayloadVerifier.from_headers(source(CHUNKS), headers)
    assert await drain(verifier) == DATA
    assert verifier.checksum_algorithm is None
    assert verifier.size == len(DATA)
