"""Block digests written at PUT time, and reads that check every block before yielding it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import crc32c
import pytest
from nimbus_storage.blobs.blocks import BLOCK_SIZE, BlockDigests, BlockHasher, CorruptBlob
from nimbus_storage.blobs.diskfile import DiskBlobStore, normalize_timestamp

T1 = normalize_timestamp(1700000001.0)
BODY = bytes(range(251)) * (2 * BLOCK_SIZE // 251 + 1) + b"the tail"  # 3 blocks, the last short
BLOCK = BLOCK_SIZE


async def chunks_of(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


@pytest.fixture
async def store(tmp_path: Path) -> DiskBlobStore:
    disk = DiskBlobStore(tmp_path, part_power=8, fsync=False)
    await disk.put("blob", chunks_of(BODY), {"k": "v"}, T1)
    return disk


def sidecar_path(store: DiskBlobStore) -> Path:
    return store.hash_dir_for("blob") / f"{T1}.meta"


def data_path(store: DiskBlobStore) -> Path:
    return store.hash_dir_for("blob") / f"{T1}.data"


def flip(store: DiskBlobStore, offset: int) -> None:
    raw = bytearray(data_path(store).read_bytes())
    raw[offset] ^= 0x01
    data_path(store).write_bytes(bytes(raw))


async def read(store: DiskBlobStore, start: int, end: int, chunk: int = BLOCK) -> bytes:
    reader = await store.open("blob")
    assert reader is not None
    with reader:
        return b"".join([c async for c in reader.iter_range(start, end, chunk)])


async def drain(chunks: AsyncIterator[bytes], into: bytearray) -> None:
    async for chunk in chunks:
        into += chunk


def crc32c_blocks(data: bytes) -> list[str]:
    return [f"{crc32c.crc32c(data[i : i + BLOCK]):08x}" for i in range(0, len(data), BLOCK)]


def test_hasher_cuts_blocks_whatever_the_chunking() -> None:
    expected = crc32c_blocks(BODY)
    for step in (7919, BLOCK - 1, BLOCK, BLOCK + 3, len(BODY)):
        hasher = BlockHasher()
        for offset in range(0, len(BODY), step):
            hasher.update(BODY[offset : offset + step])
        assert list(hasher.result().digests) == expected
    assert BlockHasher().result().digests == ()


async def test_sidecar_records_the_block_digests(store: DiskBlobStore) -> None:
    doc = json.loads(sidecar_path(store).read_bytes())
    assert doc["block_size"] == BLOCK
    assert doc["block_hash"] == "crc32c"
    assert doc["blocks"] == crc32c_blocks(BODY)
    assert doc["md5"] == hashlib.md5(BODY).hexdigest()


def md5_blocks_sidecar(store: DiskBlobStore) -> None:
    """Rewrite the sidecar as one written before CRC-32C: md5 block digests, no block_hash."""
    doc = json.loads(sidecar_path(store).read_bytes())
    del doc["block_hash"]
    doc["blocks"] = [
        hashlib.md5(BODY[i : i + BLOCK]).hexdigest() for i in range(0, len(BODY), BLOCK)
    ]
    sidecar_path(store).write_text(json.dumps(doc))


async def test_md5_block_digests_of_older_sidecars_are_still_checked(store: DiskBlobStore) -> None:
    md5_blocks_sidecar(store)
    reader = await store.open("blob")
    assert reader is not None
    assert reader.blocks is not None
    assert reader.blocks.algorithm == "md5"
    reader.close()
    assert await read(store, 0, len(BODY) - 1, 300_000) == BODY
    flip(store, BLOCK + 5)
    with pytest.raises(CorruptBlob, match="block 1 md5"):
        await read(store, 0, len(BODY) - 1)


def test_unknown_block_digest_is_a_malformed_sidecar() -> None:
    with pytest.raises(ValueError, match="unknown block digest 'sha3'"):
        BlockDigests.from_sidecar({"blocks": ["00"], "block_size": BLOCK, "block_hash": "sha3"})


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, len(BODY) - 1),
        (5, 9),  # inside block 0
        (BLOCK - 3, BLOCK + 2),  # across blocks 0 and 1
        (BLOCK, 2 * BLOCK - 1),  # exactly block 1
        (BLOCK + 1, len(BODY) - 1),  # mid-block to the end
        (len(BODY) - 1, len(BODY) - 1),  # the last byte
    ],
)
@pytest.mark.parametrize("chunk", [BLOCK, 300_000])
async def test_ranges_across_blocks(store: DiskBlobStore, start: int, end: int, chunk: int) -> None:
    assert await read(store, start, end, chunk) == BODY[start : end + 1]


@pytest.mark.parametrize("offset", [0, BLOCK // 2, len(BODY) - 1])
async def test_flipped_byte_raises_before_any_byte_of_its_block(
    store: DiskBlobStore, offset: int
) -> None:
    flip(store, offset)
    reader = await store.open("blob")
    assert reader is not None
    received = bytearray()
    with reader, pytest.raises(CorruptBlob, match=f"block {offset // BLOCK}"):
        await drain(reader.iter_range(0, len(BODY) - 1, 64 * 1024), received)
    assert len(received) == offset - offset % BLOCK  # only the good blocks before it
    assert bytes(received) == BODY[: len(received)]


async def test_range_clear_of_the_bad_block_reads_fine(store: DiskBlobStore) -> None:
    flip(store, len(BODY) - 1)
    assert await read(store, 0, 2 * BLOCK - 1) == BODY[: 2 * BLOCK]
    with pytest.raises(CorruptBlob):
        await read(store, 2 * BLOCK, 2 * BLOCK)


async def test_truncated_data_is_corrupt(store: DiskBlobStore) -> None:
    with data_path(store).open("r+b") as data:
        data.truncate(len(BODY) - 10)
    assert await read(store, 0, BLOCK - 1) == BODY[:BLOCK]
    with pytest.raises(CorruptBlob, match="block 2 has"):
        await read(store, 0, len(BODY) - 1)


def drop_blocks(store: DiskBlobStore) -> None:
    doc = json.loads(sidecar_path(store).read_bytes())
    del doc["blocks"], doc["block_size"]
    sidecar_path(store).write_text(json.dumps(doc))


async def test_old_sidecar_without_blocks_still_reads(store: DiskBlobStore) -> None:
    drop_blocks(store)
    reader = await store.open("blob")
    assert reader is not None
    assert reader.blocks is None
    reader.close()
    assert await read(store, 0, len(BODY) - 1, 300_000) == BODY
    assert await read(store, BLOCK - 3, BLOCK + 2) == BODY[BLOCK - 3 : BLOCK + 3]


async def test_old_sidecar_whole_read_checks_the_md5_before_the_last_chunk(
    store: DiskBlobStore,
) -> None:
    drop_blocks(store)
    flip(store, 10)
    reader = await store.open("blob")
    assert reader is not None
    received = bytearray()
    with reader, pytest.raises(CorruptBlob, match="md5"):
        await drain(reader.iter_range(0, len(BODY) - 1, 300_000), received)
    assert 0 < len(received) < len(BODY)  # the stream breaks, it never ends cleanly
    # A partial range of an old blob cannot be checked: served as stored.
    assert await read(store, 0, 20) != BODY[:21]


async def test_old_sidecar_truncation_is_corrupt(store: DiskBlobStore) -> None:
    drop_blocks(store)
    with data_path(store).open("r+b") as data:
        data.truncate(BLOCK)
    with pytest.raises(CorruptBlob, match="shorter"):
        await read(store, 0, len(BODY) - 1)


async def test_quarantine_reader_moves_the_blob_unless_replaced(store: DiskBlobStore) -> None:
    reader = await store.open("blob")
    assert reader is not None
    with reader:
        await store.put("blob", chunks_of(b"newer"), {}, normalize_timestamp(1700000002.0))
        assert await asyncio.to_thread(store.quarantine_reader, reader) is None
    newer = await store.open("blob")
    assert newer is not None
    with newer:
        moved = await asyncio.to_thread(store.quarantine_reader, newer)
    assert moved is not None
    assert moved.parent == store.quarantine_dir
    assert await store.open("blob") is None
