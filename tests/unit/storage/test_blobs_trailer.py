"""The body trailer: facts known only at the end of a body (a trailing checksum) reach the blob
stores explicitly, are read only once the body is exhausted, and never before."""

from __future__ import annotations

import asyncio
import base64
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiohttp import StreamReader
from multidict import CIMultiDict
from nimbus_storage.blobs.diskfile import DiskBlobStore
from nimbus_storage.blobs.errors import BodySizeMismatch
from nimbus_storage.blobs.layout import StoreIdentity
from nimbus_storage.blobs.memory import MemoryBlobStore
from nimbus_storage.blobs.trailer import BodyTrailer, TrailerNotReady, with_trailer
from nimbus_storage.cluster.ring_blobs import RingBlobStore
from nimbus_storage.gateway.body import RequestBody
from nimbus_storage.s3errors import BadDigest

from tests.unit.storage.fake_nodes import FakeNodes, fixed_rings
from tests.unit.storage.test_auth_client import unsigned_chunked_body

T1 = "0000001000.00000"
CHECKSUM = {"x-amz-checksum-crc32": "AAAAAA=="}
DATA = b"a body whose checksum trails it"


def test_reading_before_the_body_ended_is_refused() -> None:
    trailer = BodyTrailer()
    assert not trailer.complete
    with pytest.raises(TrailerNotReady):
        trailer.facts()
    with pytest.raises(TrailerNotReady):
        with_trailer({"content-type": "t/p"}, trailer)


def test_set_once_then_read_only() -> None:
    facts = dict(CHECKSUM)
    trailer = BodyTrailer()
    trailer.set(facts)
    facts["x-amz-checksum-crc32"] = "changed"  # the trailer keeps what it was given
    assert trailer.complete
    assert trailer.facts() == CHECKSUM
    with pytest.raises(TypeError):
        trailer.facts()["other"] = "x"  # type: ignore[index]
    with pytest.raises(RuntimeError):
        trailer.set({})


def test_trailer_facts_join_meta_and_win() -> None:
    meta = {"content-type": "t/p", "x-amz-checksum-crc32": "from-a-header"}
    assert with_trailer(meta, BodyTrailer.of(CHECKSUM)) == {"content-type": "t/p", **CHECKSUM}
    assert with_trailer(meta, None) == meta
    assert BodyTrailer.of({}).facts() == {}


def body_then_trailer(trailer: BodyTrailer, data: bytes = DATA) -> AsyncIterator[bytes]:
    """As the gateway's body reader: the trailer is set when the last chunk was taken."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 7):
            assert not trailer.complete
            yield data[start : start + 7]
        trailer.set(CHECKSUM)

    return chunks()


def disk_store(tmp_path: Path) -> DiskBlobStore:
    return DiskBlobStore(tmp_path, identity=StoreIdentity("p", "s", 4), fsync=False)


async def test_disk_store_reads_the_trailer_once_the_body_is_in(tmp_path: Path) -> None:
    store = disk_store(tmp_path)
    trailer = BodyTrailer()
    info = await store.put(
        "k", body_then_trailer(trailer), {"content-type": "t/p"}, T1, trailer=trailer
    )
    assert info.meta == {"content-type": "t/p", **CHECKSUM}
    reader = await store.open("k")
    assert reader is not None
    try:
        assert reader.info.meta == {"content-type": "t/p", **CHECKSUM}
    finally:
        reader.close()


async def test_disk_store_keeps_nothing_when_the_trailer_never_came(tmp_path: Path) -> None:
    """A body that ended without its trailer being set is a bug upstream: refused, not
    stored without its checksum."""
    store = disk_store(tmp_path)

    async def chunks() -> AsyncIterator[bytes]:
        yield DATA

    with pytest.raises(TrailerNotReady):
        await store.put("k", chunks(), {}, T1, trailer=BodyTrailer())
    assert await store.open("k") is None
    assert not any(store.tmp_dir.iterdir())


async def test_a_short_body_fails_as_short_not_for_its_trailer(tmp_path: Path) -> None:
    store = disk_store(tmp_path)

    async def chunks() -> AsyncIterator[bytes]:
        yield DATA[:5]

    with pytest.raises(BodySizeMismatch):
        await store.put("k", chunks(), {}, T1, expected_size=len(DATA), trailer=BodyTrailer())


async def test_memory_store_reads_the_trailer_once_the_body_is_in() -> None:
    store = MemoryBlobStore()
    trailer = BodyTrailer()
    info = await store.put("k", body_then_trailer(trailer), {}, T1, trailer=trailer)
    assert info.meta == CHECKSUM
    with pytest.raises(TrailerNotReady):
        await store.put("k2", body_then_trailer(BodyTrailer()), {}, T1, trailer=BodyTrailer())


async def test_ring_store_sends_the_trailer_after_the_body_to_every_node() -> None:
    nodes = FakeNodes()
    blobs = RingBlobStore(fixed_rings(3, 2), nodes)
    trailer = BodyTrailer()
    info = await blobs.put(
        "k", body_then_trailer(trailer), {"content-type": "t/p"}, T1,
        expected_size=len(DATA), trailer=trailer,
    )  # fmt: skip
    assert info.meta == {"content-type": "t/p", **CHECKSUM}
    stored = [s for (_node, name), s in nodes.blobs.items() if name == "k"]
    assert len(stored) == 3
    assert all(s.meta == {"content-type": "t/p", **CHECKSUM} for s in stored)


async def test_ring_store_without_a_trailer_stores_the_meta_alone() -> None:
    nodes = FakeNodes()
    blobs = RingBlobStore(fixed_rings(3, 2), nodes)

    async def chunks() -> AsyncIterator[bytes]:
        yield DATA

    info = await blobs.put("k", chunks(), {"a": "b"}, T1, expected_size=len(DATA))
    assert info.meta == {"a": "b"}
    assert all(s.meta == {"a": "b"} for s in nodes.blobs.values())


# --- the gateway's body reader fills the trailer ---------------------------------------------


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def client_request(body: bytes, headers: dict[str, str]) -> Any:
    """What ``RequestBody`` reads of an ``S3Request``: its headers and the client's stream."""
    stream = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    stream.feed_data(body)
    stream.feed_eof()
    request = mock.Mock()
    request.auth = None
    request.headers = CIMultiDict(headers)
    request.http.content = stream
    request.services.config.client_body_timeout = 5.0
    return request


def trailing_checksum_request(checksum: str) -> Any:
    body = unsigned_chunked_body([DATA[:10], DATA[10:]], {"x-amz-checksum-crc32": checksum})
    return client_request(
        body,
        {
            "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-decoded-content-length": str(len(DATA)),
            "content-length": str(len(body)),
        },
    )


async def test_the_body_reader_sets_the_trailer_when_the_body_ends() -> None:
    body = RequestBody(trailing_checksum_request(crc32_b64(DATA)))
    received = b""
    async for chunk in body:
        assert not body.trailer.complete  # the checksum is not in yet
        received += chunk
    assert received == DATA
    assert body.trailer.facts() == {"x-amz-checksum-crc32": crc32_b64(DATA)}
    assert body.trailer.facts() == body.checksum_headers()


async def test_a_body_whose_checksum_fails_never_sets_its_trailer() -> None:
    body = RequestBody(trailing_checksum_request(crc32_b64(b"other data")))
    with pytest.raises(BadDigest):
        async for _chunk in body:
            pass
    with pytest.raises(TrailerNotReady):
        body.trailer.facts()


async def test_a_checksum_header_and_no_checksum_reach_the_trailer_too() -> None:
    with_header = RequestBody(
        client_request(
            DATA, {"x-amz-checksum-crc32": crc32_b64(DATA), "content-length": str(len(DATA))}
        )
    )
    assert b"".join([c async for c in with_header]) == DATA
    assert with_header.trailer.facts() == {"x-amz-checksum-crc32": crc32_b64(DATA)}
    plain = RequestBody(client_request(DATA, {"content-length": str(len(DATA))}))
    assert b"".join([c async for c in plain]) == DATA
    assert plain.trailer.facts() == {}
