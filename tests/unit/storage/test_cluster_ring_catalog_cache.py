"""The replicated catalog's lookup cache: an entry is fresh from when its read finished, so a
read that waited on an unreachable node (up to a node timeout, longer than the cache's TTL)
still serves the rest of the request; a read that raced a change this gateway made is not
cached. Concurrent lookups of an entry share one read (no burst of quorum reads each time an
entry expires under load), but not one that started before a change this gateway made."""

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


async def test_concurrent_lookups_share_one_read() -> None:
    service, loads = catalog(), []

    async def load() -> str:
        loads.append(1)
        await asyncio.sleep(0.05)
        return "value"

    found = await asyncio.gather(*(service._cached(("bucket", "b"), load) for _ in range(8)))
    assert found == ["value"] * 8
    assert len(loads) == 1  # not one quorum read per waiting request when the entry expires
    assert await service._cached(("bucket", "b"), load) == "value"
    assert len(loads) == 1


async def test_a_lookup_after_a_change_does_not_share_a_read_from_before_it() -> None:
    service, answers = catalog(), iter(["old", "new"])
    started = asyncio.Event()

    async def load() -> str:
        started.set()
        await asyncio.sleep(0.05)
        return next(answers)

    racing = asyncio.create_task(service._cached(("bucket", "b"), load))
    await started.wait()
    service._forget("bucket", "b")  # this gateway changed the bucket meanwhile
    assert await service._cached(("bucket", "b"), load) == "new"  # its own read
    assert await racing == "old"
    assert await service._cached(("bucket", "b"), load) == "new"  # the older read not cached


async def test_a_lookup_that_goes_away_leaves_the_shared_read_to_the_others() -> None:
    service, loads = catalog(), []
    started = asyncio.Event()

    async def load() -> str:
        loads.append(1)
        started.set()
        await asyncio.sleep(0.05)
        return "value"

    first = asyncio.create_task(service._cached(("bucket", "b"), load))
    await started.wait()
    second = asyncio.create_task(service._cached(("bucket", "b"), load))
    await asyncio.sleep(0)
    first.cancel()  # its client disconnected
    assert await second == "value"
    assert len(loads) == 1
    assert first.cancelled()


async def test_a_failed_read_fails_every_waiter_and_is_not_cached() -> None:
    service, loads = catalog(), []

    async def load() -> str:
        loads.append(1)
        await asyncio.sleep(0.05)
        if len(loads) == 1:
            raise RuntimeError("too few replicas answered")
        return "value"

    found = await asyncio.gather(
        *(service._cached(("bucket", "b"), load) for _ in range(3)), return_exceptions=True
    )
    assert [type(f) for f in found] == [RuntimeError] * 3
    assert await service._cached(("bucket", "b"), load) == "value"
    assert len(loads) == 2
