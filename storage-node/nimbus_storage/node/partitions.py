"""Partition-level requests, for replicators: suffix hashes and suffix listings."""

from __future__ import annotations

import asyncio

from aiohttp import web

from nimbus_storage.blobs.diskfile import DiskBlobStore
from nimbus_storage.blobs.suffixes import is_suffix
from nimbus_storage.node.requests import BadRequest, parse_suffixes


async def replicate(store: DiskBlobStore, partition: int, suffixes: str | None) -> web.Response:
    """``{suffix: hash}`` of the partition, recomputing ``suffixes`` (``abc-def``) first."""
    recalculate = parse_suffixes(suffixes) if suffixes else None
    hashes = await asyncio.to_thread(store.suffix_hashes, partition, recalculate)
    return web.json_response(hashes)


async def list_suffix(request: web.Request, store: DiskBlobStore, partition: int) -> web.Response:
    suffix = request.query.get("suffix")
    if suffix is None or not is_suffix(suffix):
        raise BadRequest("GET on a partition needs ?suffix= with 3 hex digits")
    entries = await asyncio.to_thread(store.list_suffix, partition, suffix)
    return web.json_response([e._asdict() for e in entries])
