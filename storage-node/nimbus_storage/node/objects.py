"""``/objects/{device}/{partition}/{name}``: PUT, GET, HEAD and DELETE of one blob.

A GET checks every block against its recorded CRC-32C before sending it (``store.reader``). When a
block fails, the blob is quarantined (replication restores a good copy) and the connection is
closed without sending the rest: the reader sees a body shorter than its ``Content-Length``,
never a clean end, and the gateway continues at the same offset on another replica.

A PUT that asks ``Expect: 100-continue`` gets ``100 Continue`` only once everything that needs
no body checked out, free space included: the device's free bytes (``statvfs``), less what
PUTs in progress were promised (``NodeContext.claims``), must hold ``Content-Length`` plus the
node's ``fallocate_reserve``, or the answer is 507 before the client sends a byte (so the
gateway can still hand the write to another device). The check is best effort: a disk that
fills up mid-body still answers 507 (ENOSPC), and keeps nothing.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from aiohttp import HttpVersion11, hdrs, web
from aiohttp.http_exceptions import HttpProcessingError

from nimbus_storage.blobs.blocks import CorruptBlob
from nimbus_storage.blobs.diskfile import DiskBlobReader, DiskBlobStore
from nimbus_storage.blobs.errors import BodySizeMismatch
from nimbus_storage.blobs.layout import TOMBSTONE_EXT
from nimbus_storage.blobs.trailer import BodyTrailer
from nimbus_storage.node.config import NodeContext
from nimbus_storage.node.requests import (
    BadRequest,
    RangeNotSatisfiable,
    encode_meta,
    parse_meta,
    parse_range,
    parse_timestamp,
)
from nimbus_storage.protocol.footer import FOOTER_HEADER, decode_footer, footer_size
from nimbus_storage.protocol.headers import META_HEADER, SIZE_HEADER, TIMESTAMP_HEADER

log = logging.getLogger("nimbus.node")

# A full disk or an exhausted quota: the gateway should try another device.
_FULL = (errno.ENOSPC, errno.EDQUOT)


def insufficient_storage(reason: str) -> web.Response:
    return web.Response(status=507, text=f"Insufficient Storage: {reason}\n")


async def expect_continue_later(request: web.Request) -> None:
    """The ``expect_handler`` of ``/objects/``. aiohttp's default answers ``100 Continue`` at
    once; this one leaves that to ``put_object``, which sends it when it is about to read the
    body, so every answer that needs no body (401, 400, a missing or full device: 507) is final
    and goes out before the client sends a byte."""
    expect = request.headers.get(hdrs.EXPECT, "")
    if request.version == HttpVersion11 and expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {expect}")


async def put_object(
    request: web.Request, node: NodeContext, store: DiskBlobStore, name: str
) -> web.StreamResponse:
    timestamp = parse_timestamp(request.headers.get(TIMESTAMP_HEADER))
    meta = parse_meta(request.headers.get(META_HEADER))
    size = request.content_length
    if size is None:
        raise BadRequest("Content-Length is required")
    try:
        footer = footer_size(request.headers.get(FOOTER_HEADER))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if footer > size:
        raise BadRequest(f"Content-Length is shorter than the {footer}-byte meta footer")
    body = _Body(meta=meta, timestamp=timestamp, size=size - footer, footer=footer)
    if not _expects_continue(request):
        return await _receive(request, node, store, name, body)
    refusal, footprint = await _room_for(node, store, size)
    if refusal is not None:
        node.metrics.put_no_space.labels(store.device, "before_body").inc()
        response = insufficient_storage(refusal)
        response.force_close()  # the body was never sent: nothing more to read on this one
        return response
    with node.claims.claim(store.device, footprint):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # as aiohttp's default: the response has not begun
        return await _receive(request, node, store, name, body)


def _expects_continue(request: web.Request) -> bool:
    expect = request.headers.get(hdrs.EXPECT, "")
    return request.version == HttpVersion11 and expect.lower() == "100-continue"


async def _room_for(node: NodeContext, store: DiskBlobStore, size: int) -> tuple[str | None, int]:
    """Why a ``size``-byte body does not fit on ``store``'s device now (None: it does), and the
    bytes it will take there (to claim while it is written).

    Free is what an unprivileged writer may use (``f_bavail``) less the claims of PUTs in
    progress; the body takes whole blocks, plus one for its ``.meta`` sidecar.
    """
    try:
        stat = await asyncio.to_thread(os.statvfs, store.device_dir)
    except OSError as exc:  # unmounted or vanished under us
        return f"device {store.device}: {exc.strerror}", 0
    block = stat.f_frsize or 4096
    footprint = -(-size // block) * block + block
    claimed = node.claims.claimed(store.device)
    free = stat.f_bavail * block - claimed
    reserve = node.config.fallocate_reserve.bytes_of(stat.f_blocks * block)
    if footprint + reserve > free:
        return (
            f"device {store.device}: {max(free, 0)} bytes free ({claimed} more promised to"
            f" writes in progress), {size} needed plus a reserve of {reserve}"
        ), footprint
    return None, footprint


@dataclass(frozen=True, slots=True)
class _Body:
    """What a PUT's headers say of its body."""

    meta: Mapping[str, str]
    timestamp: str
    size: int  # the blob's bytes
    footer: int  # the meta footer's bytes after them (0: none)


async def _receive(
    request: web.Request, node: NodeContext, store: DiskBlobStore, name: str, expected: _Body
) -> web.StreamResponse:
    body = _request_chunks(request, node)
    trailer: BodyTrailer | None = None  # the footer's keys, set once the body is in
    if expected.footer:
        trailer = BodyTrailer()
        body = _blob_then_footer(body, expected.size, trailer)
    try:
        info, commit = await store.put_commit(
            name,
            body,
            expected.meta,
            expected.timestamp,
            expected_size=expected.size,
            trailer=trailer,
        )
    except BodySizeMismatch as exc:
        raise BadRequest(str(exc)) from None
    except (ConnectionError, HttpProcessingError) as exc:
        # The sender went away (or garbled the body) mid-way; nothing was kept.
        raise BadRequest(f"body not received in full: {exc}") from None
    except OSError as exc:
        if exc.errno in _FULL:
            node.metrics.put_no_space.labels(store.device, "mid_body").inc()
            return insufficient_storage(f"device {store.device}: {exc.strerror}")
        raise
    if not commit.applied:
        newer = commit.previous.timestamp if commit.previous is not None else expected.timestamp
        return web.Response(
            status=409,
            headers={TIMESTAMP_HEADER: newer},
            text=f"a write at {newer} is already there (last writer wins)\n",
        )
    return web.Response(
        status=201, headers={"ETag": info.md5_hex, TIMESTAMP_HEADER: info.timestamp}
    )


async def get_object(
    request: web.Request, node: NodeContext, store: DiskBlobStore, name: str
) -> web.StreamResponse:
    reader = await store.open(name)
    if reader is None:
        state = await store.state(name)
        headers = {}
        if state is not None and state.ext == TOMBSTONE_EXT:
            headers[TIMESTAMP_HEADER] = state.timestamp
        return web.Response(status=404, headers=headers)
    with reader:
        return await _send_blob(request, node, store, reader)


async def delete_object(
    request: web.Request, store: DiskBlobStore, name: str
) -> web.StreamResponse:
    timestamp = parse_timestamp(request.headers.get(TIMESTAMP_HEADER))
    commit = await store.delete_commit(name, timestamp)
    previous = commit.previous
    if previous is None or previous.ext == TOMBSTONE_EXT:
        headers = {TIMESTAMP_HEADER: previous.timestamp} if previous is not None else {}
        return web.Response(status=404, headers=headers)
    if not commit.applied:
        return web.Response(
            status=409,
            headers={TIMESTAMP_HEADER: previous.timestamp},
            text=f"data at {previous.timestamp} is newer than this delete\n",
        )
    return web.Response(status=204)


async def _send_blob(
    request: web.Request, node: NodeContext, store: DiskBlobStore, reader: DiskBlobReader
) -> web.StreamResponse:
    info = reader.info
    headers = {
        "ETag": info.md5_hex,
        "Accept-Ranges": "bytes",
        TIMESTAMP_HEADER: info.timestamp,
        META_HEADER: encode_meta(dict(info.meta)),
        SIZE_HEADER: str(info.size),
    }
    try:
        byte_range = parse_range(request.headers.get("Range"), info.size)
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{info.size}"
        return web.Response(status=416, headers=headers)
    start, end = byte_range if byte_range is not None else (0, info.size - 1)
    response = web.StreamResponse(status=200 if byte_range is None else 206, headers=headers)
    if byte_range is not None:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    response.content_length = end - start + 1
    await response.prepare(request)
    if request.method == "GET":
        try:
            async for chunk in reader.iter_range(start, end):
                await response.write(chunk)
                node.metrics.bytes_out.inc(len(chunk))
        except CorruptBlob as exc:
            await _quarantine(node, store, reader, exc)
            _abort(request)
            return response
    await response.write_eof()
    return response


async def _quarantine(
    node: NodeContext, store: DiskBlobStore, reader: DiskBlobReader, problem: CorruptBlob
) -> None:
    node.metrics.corrupt_reads.inc()
    moved = await asyncio.to_thread(store.quarantine_reader, reader)
    if moved is not None:
        node.metrics.read_quarantined.inc()
    log.warning("GET met a corrupt blob (%s); quarantined to %s", problem, moved)


def _abort(request: web.Request) -> None:
    """End the response short of its Content-Length: what was sent stays (it was checked)."""
    transport = request.transport
    if transport is not None:
        transport.close()


async def _blob_then_footer(
    chunks: AsyncIterator[bytes], blob_size: int, trailer: BodyTrailer
) -> AsyncIterator[bytes]:
    """The first ``blob_size`` bytes of ``chunks``; what follows is the meta footer, which sets
    ``trailer`` once the body is in (so the store commits the blob with it)."""
    taken = 0
    footer = bytearray()
    async for chunk in chunks:
        room = blob_size - taken
        if room > 0:
            piece = chunk[:room]
            taken += len(piece)
            yield piece
        footer += chunk[max(room, 0) :]
    if taken == blob_size:  # a short body sets nothing: the store refuses it
        try:
            trailer.set(decode_footer(bytes(footer)) if footer else {})
        except ValueError as exc:
            raise BadRequest(str(exc)) from None


async def _request_chunks(request: web.Request, node: NodeContext) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(node.config.chunk_size):
        node.metrics.bytes_in.inc(len(chunk))
        yield chunk
