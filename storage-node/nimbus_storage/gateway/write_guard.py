"""Conditional writes and deletes: the condition checked again, and the index changed, as one
step on this gateway.

A conditional PutObject, CopyObject or CompleteMultipartUpload checks its condition early (to
fail before storing any data), then again under ``key_guard`` just before the index makes the
new version current, with nothing else of that key committed in between by a conditional
request of this gateway: of two ``If-None-Match: *`` writes racing to one key, one succeeds and
the other is answered 412. Conditional deletes take the same guard.

The guard is this gateway's (its event loop's): the index has no compare-and-set of a key's
current version, so conditional requests for one key racing through *different* gateways of
a cluster are each checked against what their gateway saw last (docs/s3-compatibility.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from weakref import WeakKeyDictionary

__all__ = ["key_guard"]


@dataclass
class _Guard:
    lock: asyncio.Lock
    users: int = 0


_GUARDS: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], _Guard]] = (
    WeakKeyDictionary()
)


@asynccontextmanager
async def key_guard(bucket: str, key: str, *, needed: bool = True) -> AsyncIterator[None]:
    """Hold the key's guard (every conditional request of ``bucket``/``key`` on this event
    loop waits for it); nothing when not ``needed`` (an unconditional request)."""
    if not needed:
        yield
        return
    guards = _GUARDS.setdefault(asyncio.get_running_loop(), {})
    name = (bucket, key)
    guard = guards.get(name)
    if guard is None:
        guard = guards[name] = _Guard(asyncio.Lock())
    guard.users += 1
    try:
        async with guard.lock:
            yield
    finally:
        guard.users -= 1
        if guard.users == 0:
            del guards[name]
