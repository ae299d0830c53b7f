"""The replicated catalog's lookup cache: an entry is fresh from when its read finished, so a
read that waited on an unreachable node (up to a node timeout, longer than the cache's TTL)
still serves the rest of the request; a read that raced a change this gateway made is not
cached."""

from __future__ import annotations

import asyncio
from typing import cast

from nimbus_storage.cluster.db_replicas import DatabaseReplicas
from nimbus_storage.cluster.ring_catalog import RingCatalogService

TTL = 0.5


def catalog() -> RingCatalogService:
    return RingCatalogService(cast(DatabaseReplicas, object()), cache_ttl=TTL)


async def test_a_read_slower_than_the_ttl_is_still_cached() -> None:
    service, loads = catalog(), []

    async def slow() -> str:
        loads.append(1)
        await asyncio.sleep(TTL * 2)  # a node timeout, longer than the TTL
        return "value"

    assert await service._cached(("bucket", "b"), slow) == "value"
    assert await service._cached(("bucket", "b"), slow) == "value"
    assert len(loads) == 1
    await asyncio.sleep(TTL * 1.5)
    await service._cached(("bucket", "b"), slow)
    assert len(loads) == 2  # expired TTL after the read finished


async def test_a_read_racing_a_change_is_not_cached() -> None:
    service, answers = catalog(), iter(["old", "new"])
    started = asyncio.Event()

    async def load() -> str:
        started.set()
        await asyncio.sleep(0.05)
        return next(answers)

    racing = asyncio.create_task(service._cached(("bucket", "b"), load))
    await started.wait()
    service._forget("bucket", "b")  # this gateway changed the bucket meanwhile
    assert await racing == "old"
    assert await service._cached(("bucket", "b"), load) == "new"
