"""The segmented AES-256-GCM format: round trips at every size around segment boundaries, every
range of those objects, and tampering of every kind detected."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import AsyncIterable, AsyncIterator, Iterable

import pytest
from nimbus_storage.sse import segments
from nimbus_storage.sse.errors import CiphertextCorrupt, CiphertextSizeInvalid
from nimbus_storage.sse.segments import (
    DEFAULT_SEGMENT_SIZE,
    TAG_SIZE,
    CipherRange,
    SegmentEncryptor,
    ciphertext_size,
    decrypt_range,
    encrypt_stream,
    full_range,
    map_range,
    plain_size,
)

KEY = bytes(range(32))
PREFIX = b"\x01\x02\x03\x04\x05\x06\x07\x08"
SEG = 16  # small segments: every boundary is cheap to reach
SMALL_SIZES = [0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 3 * SEG - 1, 3 * SEG, 3 * SEG + 1, 5 * SEG + 7]
DEFAULT_SIZES = [
    0,
    1,
    DEFAULT_SEGMENT_SIZE - 1,
    DEFAULT_SEGMENT_SIZE,
    DEFAULT_SEGMENT_SIZE + 1,
    3 * DEFAULT_SEGMENT_SIZE + 12345,
]


async def chunked(data: bytes, size: int, *, empties: bool = False) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        if empties:
            yield b""
        yield data[start : start + size]
    if empties:
        yield b""


async def from_list(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def collect(chunks: AsyncIterable[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def seal(data: bytes, seg: int = SEG, chunk: int = 7, prefix: bytes = PREFIX) -> bytes:
    return await collect(encrypt_stream(chunked(data, chunk), KEY, prefix, seg))


async def sealed_segments(data: bytes, seg: int = SEG) -> list[bytes]:
    return [s async for s in encrypt_stream(chunked(data, 1000), KEY, PREFIX, seg)]


async def read(cipher: bytes, plan: CipherRange, chunk: int = 5, prefix: bytes = PREFIX) -> bytes:
    window = cipher[plan.cipher_start : plan.cipher_end + 1]
    return await collect(decrypt_range(chunked(window, chunk), KEY, prefix, plan))


async def read_all(cipher: bytes, plain: int, seg: int = SEG, chunk: int = 5) -> bytes:
    return await read(cipher, full_range(plain, seg), chunk)


def data_of(size: int) -> bytes:
    return random.Random(size).randbytes(size)


# --- sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seg", [SEG, 100, DEFAULT_SEGMENT_SIZE])
def test_size_arithmetic_is_an_exact_inverse(seg: int) -> None:
    sizes = [*range(0, 4 * seg + 3), 10**12] if seg < 1000 else [*DEFAULT_SIZES, 10**12]
    for size in sizes:
        cipher = ciphertext_size(size, seg)
        assert cipher == size + TAG_SIZE * max(1, -(-size // seg))
        assert plain_size(cipher, seg) == size


def test_sizes_no_blob_can_have_are_refused() -> None:
    valid = {ciphertext_size(size, SEG) for size in range(0, 10 * SEG)}
    for cipher in range(0, ciphertext_size(9 * SEG, SEG)):
        if cipher in valid:
            continue
        with pytest.raises(CiphertextSizeInvalid):
            plain_size(cipher, SEG)


def test_the_segment_size_is_bounded() -> None:
    for bad in [0, segments.MIN_SEGMENT_SIZE - 1, segments.MAX_SEGMENT_SIZE + 1]:
        with pytest.raises(ValueError, match="segment size"):
            ciphertext_size(10, bad)
        with pytest.raises(ValueError, match="segment size"):
            SegmentEncryptor(KEY, bad)


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SMALL_SIZES)
@pytest.mark.parametrize("chunk", [1, 7, SEG, SEG + 1, 1000])
async def test_round_trip_around_segment_boundaries(size: int, chunk: int) -> None:
    data = data_of(size)
    encryptor = SegmentEncryptor(KEY, SEG, md5_plain=True, md5_cipher=True)
    sealed = [s async for s in encryptor.encrypt(chunked(data, chunk, empties=True))]
    cipher = b"".join(sealed)
    assert len(cipher) == ciphertext_size(size, SEG) == encryptor.cipher_size
    assert encryptor.plain_size == size
    assert [len(s) for s in sealed[:-1]] == [SEG + TAG_SIZE] * (len(sealed) - 1)
    assert len(sealed) == segments.segment_count(size, SEG)
    assert encryptor.plain_md5 == hashlib.md5(data).hexdigest()
    assert encryptor.cipher_md5 == hashlib.md5(cipher).hexdigest()
    for read_chunk in [1, 3, SEG + TAG_SIZE, len(cipher)]:
        out = await collect(
            decrypt_range(
                chunked(cipher, read_chunk), KEY, encryptor.nonce_prefix, full_range(size, SEG)
            )
        )
        assert out == data


@pytest.mark.parametrize("size", DEFAULT_SIZES)
async def test_round_trip_with_the_default_segment(size: int) -> None:
    data = data_of(size)
    for chunk in [4096, 65536 + 3, max(size, 1)]:
        cipher = await seal(data, DEFAULT_SEGMENT_SIZE, chunk)
        assert len(cipher) == ciphertext_size(size)
        assert await read_all(cipher, size, DEFAULT_SEGMENT_SIZE, 8192) == data


async def test_the_same_plaintext_seals_differently_in_each_stream() -> None:
    data = data_of(100)
    first, second = SegmentEncryptor(KEY, SEG), SegmentEncryptor(KEY, SEG)
    assert first.nonce_prefix != second.nonce_prefix
    one = await collect(first.encrypt(chunked(data, 10)))
    two = await collect(second.encrypt(chunked(data, 10)))
    assert one != two
    assert data[:SEG] not in one


async def test_encryption_streams_segment_by_segment() -> None:
    """The first sealed segment is out before the plaintext has ended: nothing buffers the
    object."""
    pulled = 0

    async def source() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(100):
            pulled += 1
            yield b"x" * SEG

    stream = SegmentEncryptor(KEY, SEG).encrypt(source())
    first = await anext(stream)
    assert len(first) == SEG + TAG_SIZE
    assert pulled == 2  # a full segment waits for one more byte to know it is not the last
    await stream.aclose()


async def test_decryption_streams_segment_by_segment() -> None:
    data = data_of(50 * SEG)
    cipher = await seal(data)
    out = decrypt_range(chunked(cipher, SEG + TAG_SIZE), KEY, PREFIX, full_range(len(data), SEG))
    assert await anext(out) == data[:SEG]
    await out.aclose()


async def test_an_encryptor_seals_one_stream_and_knows_its_digests_only_at_the_end() -> None:
    encryptor = SegmentEncryptor(KEY, SEG, md5_plain=True)
    with pytest.raises(RuntimeError, match="not ended"):
        _ = encryptor.plain_md5
    with pytest.raises(RuntimeError, match="md5_cipher"):
        _ = encryptor.cipher_md5
    await collect(encryptor.encrypt(chunked(b"abc", 1)))
    with pytest.raises(RuntimeError, match="one stream"):
        await collect(encryptor.encrypt(chunked(b"abc", 1)))


def test_keys_and_prefixes_have_their_sizes() -> None:
    with pytest.raises(ValueError, match="data key"):
        SegmentEncryptor(KEY[:16])
    with pytest.raises(ValueError, match="nonce prefix"):
        SegmentEncryptor(KEY, nonce_prefix=b"short")


# --- ranges -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [s for s in SMALL_SIZES if s])
async def test_every_range_reads_its_plaintext_slice(size: int) -> None:
    data = data_of(size)
    cipher = await seal(data)
    for start in range(size):
        for end in range(start, size):
            plan = map_range(start, end, size, SEG)
            assert plan.length == end - start + 1
            assert plan.first_segment == start // SEG
            assert plan.last_segment == end // SEG
            assert 0 <= plan.cipher_start <= plan.cipher_end < len(cipher)
            assert await read(cipher, plan, chunk=1 + (start + end) % 23) == data[start : end + 1]


@pytest.mark.parametrize("size", DEFAULT_SIZES[1:])
async def test_ranges_around_default_segment_boundaries(size: int) -> None:
    data = data_of(size)
    cipher = await seal(data, DEFAULT_SEGMENT_SIZE, 50_000)
    seg = DEFAULT_SEGMENT_SIZE
    points = sorted(
        {p for b in range(0, size + seg, seg) for p in (b - 1, b, b + 1) if 0 <= p < size}
    )
    for start in points:
        for end in points:
            if start <= end:
                plan = map_range(start, end, size)
                got = await read(cipher, plan, chunk=9000)
                assert got == data[start : end + 1], (start, end)


def test_a_range_touches_only_its_segments() -> None:
    size = 64 * 1024 * 1024
    plan = map_range(10 * 1024 * 1024, 10 * 1024 * 1024 + 1023, size)
    assert plan.segments == 1
    assert plan.cipher_length == DEFAULT_SEGMENT_SIZE + TAG_SIZE
    straddling = map_range(DEFAULT_SEGMENT_SIZE - 512, DEFAULT_SEGMENT_SIZE + 511, size)
    assert straddling.segments == 2
    assert straddling.skip == DEFAULT_SEGMENT_SIZE - 512
    last = map_range(size - 1, size - 1, size)
    assert last.cipher_end == ciphertext_size(size) - 1
    assert last.last_segment == last.final_segment


@pytest.mark.parametrize(
    ("start", "end", "size"), [(-1, 3, 10), (4, 3, 10), (0, 10, 10), (0, 0, 0)]
)
def test_ranges_outside_the_object_are_refused(start: int, end: int, size: int) -> None:
    with pytest.raises(ValueError, match="range"):
        map_range(start, end, size, SEG)


async def test_an_empty_object_is_one_empty_sealed_segment() -> None:
    cipher = await seal(b"")
    assert len(cipher) == TAG_SIZE
    plan = full_range(0, SEG)
    assert (plan.cipher_start, plan.cipher_end, plan.length) == (0, TAG_SIZE - 1, 0)
    assert await read(cipher, plan) == b""
    with pytest.raises(CiphertextCorrupt, match="ends inside segment 0"):
        await read(b"", plan)


# --- tampering --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, SEG, 2 * SEG + 3])
async def test_flipping_any_byte_is_detected(size: int) -> None:
    data = data_of(size)
    cipher = await seal(data)
    for position in range(len(cipher)):
        for bit in (0x01, 0x80):
            tampered = bytearray(cipher)
            tampered[position] ^= bit
            with pytest.raises(CiphertextCorrupt, match=f"segment {position // (SEG + TAG_SIZE)}"):
                await read_all(bytes(tampered), size)


async def test_a_flipped_byte_inside_a_range_is_detected_by_that_range() -> None:
    data = data_of(4 * SEG)
    cipher = bytearray(await seal(data))
    cipher[2 * (SEG + TAG_SIZE) + 3] ^= 1
    plan = map_range(2 * SEG + 5, 2 * SEG + 6, len(data), SEG)
    with pytest.raises(CiphertextCorrupt):
        await read(bytes(cipher), plan)
    # a range over untouched segments reads fine: authentication is per segment
    assert await read(bytes(cipher), map_range(0, SEG - 1, len(data), SEG)) == data[:SEG]


async def tampered_reads(parts: list[bytes], plain: int) -> None:
    with pytest.raises(CiphertextCorrupt):
        await read_all(b"".join(parts), plain)


async def test_dropping_a_segment_is_detected() -> None:
    data = data_of(4 * SEG + 5)
    parts = await sealed_segments(data)
    for index in range(len(parts)):
        dropped = parts[:index] + parts[index + 1 :]
        await tampered_reads(dropped, len(data))  # as stored: too short for the metadata
        shorter = len(data) - (SEG if index < len(parts) - 1 else 5)
        if plain_size(len(b"".join(dropped)), SEG) == shorter:
            await tampered_reads(dropped, shorter)  # metadata edited to match


async def test_duplicating_a_segment_is_detected() -> None:
    data = data_of(4 * SEG)
    parts = await sealed_segments(data)
    for index in range(len(parts) - 1):
        doubled = [*parts[: index + 1], parts[index], *parts[index + 1 :]]
        await tampered_reads(doubled, len(data))
        await tampered_reads(doubled, len(data) + SEG)
        await tampered_reads(doubled[:-1], len(data))  # same length as the original


async def test_reordering_segments_is_detected() -> None:
    data = data_of(3 * SEG)
    parts = await sealed_segments(data)
    await tampered_reads([parts[1], parts[0], parts[2]], len(data))
    await tampered_reads([parts[0], parts[2], parts[1]], len(data))
    # a range asking for segment 1 but served segment 0's bytes
    plan = map_range(SEG, 2 * SEG - 1, len(data), SEG)
    with pytest.raises(CiphertextCorrupt, match="segment 1"):
        await collect(decrypt_range(from_list([parts[0]]), KEY, PREFIX, plan))


async def test_truncation_is_detected() -> None:
    data = data_of(3 * SEG + 5)
    cipher = await seal(data)
    for cut in [1, TAG_SIZE, 5 + TAG_SIZE, SEG + TAG_SIZE]:
        with pytest.raises(CiphertextCorrupt):
            await read_all(cipher[:-cut], len(data))
    # cut exactly at a segment boundary, metadata edited to match: the last segment left
    # standing was not sealed as the final one
    boundary = cipher[: 3 * (SEG + TAG_SIZE)]
    with pytest.raises(CiphertextCorrupt, match="segment 2"):
        await read_all(boundary, 3 * SEG)


async def test_bytes_beyond_the_range_are_detected() -> None:
    data = data_of(2 * SEG)
    cipher = await seal(data)
    whole = full_range(len(data), SEG)
    for extra in [b"x", b"extra", cipher]:
        with pytest.raises(CiphertextCorrupt, match="longer"):
            await collect(decrypt_range(chunked(cipher + extra, 7), KEY, PREFIX, whole))
    plan = map_range(0, 3, len(data), SEG)
    with pytest.raises(CiphertextCorrupt, match="longer"):
        await collect(decrypt_range(from_list([cipher]), KEY, PREFIX, plan))


async def test_segments_of_another_stream_or_key_do_not_open() -> None:
    data = data_of(3 * SEG)
    mine = await sealed_segments(data)
    other_prefix = [s async for s in encrypt_stream(chunked(data, 100), KEY, b"\xff" * 8, SEG)]
    other_key = [s async for s in encrypt_stream(chunked(data, 100), os.urandom(32), PREFIX, SEG)]
    for foreign in (other_prefix, other_key):
        for index in range(3):
            spliced = [*mine[:index], foreign[index], *mine[index + 1 :]]
            await tampered_reads(spliced, len(data))
    with pytest.raises(CiphertextCorrupt):
        await collect(decrypt_range(from_list(mine), KEY, b"\xff" * 8, full_range(len(data), SEG)))


async def test_a_different_segment_size_does_not_open() -> None:
    data = data_of(64)
    cipher = await seal(data, seg=32)
    with pytest.raises(CiphertextCorrupt):
        await read_all(cipher, 64, seg=16)
