"""Stream helpers shared by the body decoders."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator


async def one_step_behind(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Re-yield ``source``'s chunks one step late; empty chunks are dropped.

    Verifiers check a body when it ends, by raising from their own iteration. Holding back
    the last chunk until the source is exhausted means that error reaches the consumer
    *before* it has seen every byte: a store that commits (renames its temp file) only once it
    has the whole body can never commit one that fails verification.
    """
    pending: bytes | None = None
    async for chunk in source:
        if not chunk:
            continue
        if pending is not None:
            yield pending
        pending = chunk
    if pending is not None:
        yield pending
