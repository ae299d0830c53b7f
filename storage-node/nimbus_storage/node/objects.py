"""``/objects/{device}/{partition}/{name}``: PUT, GET, HEAD and DELETE of one blob.

A GET checks every block against its recorded md5 before sending it (``store.reader``). When a
block fails, the blob is quarantined (replication restores a good copy) and the connection is
closed without sending the rest: the reader sees a body shorter than its ``Content-Length``,
never a clean end, and the gateway continues at the same offset on another replica.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from nimbus_storage.errors import IncompleteBody
from nimbus_storage.node.config import NodeContext
from nimbus_storage.node.protocol import (
    META_HEADER,
    SIZE_HEADER,
    TIMESTAMP_HEADER,
    BadRequest,
    RangeNotSatisfiable,
    encode_meta,
    parse_meta,
    parse_range,
    parse_timestamp,
)
from nimbus_storage.store.blocks import CorruptBlob
from nimbus_storage.store.diskfile import DiskBlobReader, DiskBlobStore
from nimbus_storage.store.layout import TOMBSTONE_EXT

log = logging.getLogger("nimbus.node")

# A full disk or an exhausted quota: the gateway should try another device.
_FULL = (errno.ENOSPC, errno.EDQUOT)


def insufficient_storage(reason: str) -> web.Response:
    return web.Response(status=507, text=f"Insufficient Storage: {reason}\n")


async def put_object(
    request: web.Request, node: NodeContext, store: DiskBlobStore, name: str
) -> web.StreamResponse:
    timestamp = parse_timestamp(request.headers.get(TIMESTAMP_HEADER))
    meta = parse_meta(request.headers.get(META_HEADER))
    if request.content_length is None:
        raise BadRequest("Content-Length is required")
    body = _request_chunks(request, node)
    try:
        info, commit = await store.put_commit(
            name, body, meta, timestamp, expected_size=request.content_length
        )
    except IncompleteBody as exc:
        raise BadRequest(str(exc)) from None
    except (ConnectionError, HttpProcessingError) as exc:
        # The sender went away (or garbled the body) mid-way; nothing was kept.
        raise BadRequest(f"body not received in full: {exc}") from None
    except OSError as exc:
        if exc.errno in _FULL:
            return insufficient_storage(f"device {store.device}: {exc.strerror}")
        raise
    if not commit.applied:
        newer = commit.previous.timestamp if commit.previous is not None else timestamp
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


async def _request_chunks(request: web.Request, node: NodeContext) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(node.config.chunk_size):
        node.metrics.bytes_in.inc(len(chunk))
        yield chunk
