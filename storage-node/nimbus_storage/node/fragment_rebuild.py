"""Rebuilding one lost fragment archive on its primary, for the reconstructor (see
reconstructor.py for who rebuilds what).

The other primaries and the first ``k+m`` handoffs are asked (HEAD) for archives of the blob's
timestamp. When a handoff holds the lost fragment itself nothing is rebuilt: that handoff's own
pass moves it home, a plain copy. Otherwise ``k`` archives of distinct fragment indexes (the
local one included, read back from this node like any other) are streamed side by side
(cluster/ec_fragments.py), pyeclib's ``reconstruct`` computes the lost fragment of each segment, and
the result is streamed as a PUT to the primary with the blob's name, timestamp and meta (its
``nimbus-ec`` naming the rebuilt index). Memory per rebuild: ``k`` fragments of one segment and
one rebuilt fragment, plus the streams' buffers, whatever the object's size.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING

from pyeclib.ec_iface import ECDriverError

from nimbus_storage.blobs.errors import SegmentUndecodable
from nimbus_storage.cluster.ec_blobs import driver, layout_of
from nimbus_storage.cluster.ec_fragments import FragmentHolders, FragmentStream, read_fragments
from nimbus_storage.cluster.ec_layout import ArchiveLayout
from nimbus_storage.node.fragment_states import Archive, Seen
from nimbus_storage.protocol.client import Placement

if TYPE_CHECKING:
    from nimbus_storage.node.reconstruction_pass import ReconstructionPass

__all__ = ["rebuild_fragment"]

log = logging.getLogger("nimbus.reconstructor")

READ_CHUNK = 256 * 1024  # bytes taken at a time from each archive being read


async def rebuild_fragment(
    run: ReconstructionPass,
    archive: Archive,
    *,
    primaries: list[Placement],
    here: int,
    target: int,
    seen: Mapping[int, Seen],
) -> None:
    """Fragment ``target`` of the local ``archive`` (fragment ``here``) rebuilt and stored on
    ``primaries[target]``; ``seen`` is what the walk already learnt of the other primaries.
    Failures are counted in the pass, never raised."""
    holders, on_handoff = await _holders(
        run, archive, primaries=primaries, here=here, target=target, seen=seen
    )
    if on_handoff:
        log.debug(
            "fragment %d of %r at %s is on a handoff: left for it to revert",
            target,
            archive.name,
            archive.timestamp,
        )
        return
    policy = archive.facts.policy
    what = f"rebuilding fragment {target} of {archive.name!r} at {archive.timestamp}"
    if len(holders) < policy.k:
        run.failed(what, f"only {len(holders)} of the {policy.k} fragments needed answered")
        return
    await run.items.spend(1)
    layout = layout_of(policy, archive.facts.object_size)
    if layout.archive_size != archive.size:
        run.failed(what, f"the local archive has {archive.size} bytes, not {layout.archive_size}")
        return
    where = primaries[target]
    sources = FragmentHolders(holders)
    streams = [
        FragmentStream(
            run.client, archive.name, sources, 0, layout.archive_size - 1, chunk_size=READ_CHUNK
        )
        for _ in range(policy.k)
    ]
    broken: list[BaseException] = []
    try:
        answer = await run.client.put(
            where,
            archive.name,
            _rebuilt(run, archive, layout, target=target, streams=streams, broken=broken),
            size=layout.archive_size,
            meta=archive.meta_for(target),
            timestamp=archive.timestamp,
        )
    except Exception as exc:
        # The body failed (too few sources left, a segment that does not decode): the peer got
        # a short body and keeps nothing. Or the peer broke off.
        run.failed(f"{what} for {where.node}", broken[0] if broken else exc)
        return
    finally:
        for stream in streams:
            await stream.close()
    if answer.status == 201:
        run.report.fragments_rebuilt += 1
        if run.metrics is not None:
            run.metrics.reconstructor_rebuilt.inc()
        log.debug("%s: stored on %s/%s", what, where.node, where.device)
    elif answer.status != 409:  # 409: rebuilt meanwhile, or a newer write there
        run.failed(f"{what} for {where.node}", f"answered {answer.status}")


async def _holders(
    run: ReconstructionPass,
    archive: Archive,
    *,
    primaries: list[Placement],
    here: int,
    target: int,
    seen: Mapping[int, Seen],
) -> tuple[dict[int, list[Placement]], bool]:
    """Who holds which fragment of ``archive`` (the target's excepted; this node's first), and
    whether a handoff holds the target fragment itself."""
    holders: dict[int, list[Placement]] = {here: [primaries[here]]}

    def note(where: Placement, state: Seen) -> None:
        index = state.fragment_of(archive.timestamp)
        if index is not None:
            holders.setdefault(index, []).append(where)

    asked = [i for i in range(len(primaries)) if i not in (here, target)]
    for i in asked:
        if i in seen:
            note(primaries[i], seen[i])
    unseen = [primaries[i] for i in asked if i not in seen]
    partition = primaries[0].partition
    handoffs = [
        Placement(d.node, d.device, partition)
        for d in itertools.islice(run.ring.handoffs(partition), len(primaries))
    ]
    targets = unseen + handoffs
    states = await asyncio.gather(*(run.look(where, archive.name) for where in targets))
    on_handoff = False
    for where, state in zip(targets, states, strict=True):
        note(where, state)
        if where in handoffs and state.fragment_of(archive.timestamp) == target:
            on_handoff = True
    holders.pop(target, None)
    return holders, on_handoff


async def _rebuilt(
    run: ReconstructionPass,
    archive: Archive,
    layout: ArchiveLayout,
    *,
    target: int,
    streams: Sequence[FragmentStream],
    broken: list[BaseException],
) -> AsyncIterator[bytes]:
    """Fragment ``target`` of every segment, rebuilt from ``streams``; paced and counted. What
    made it fail is noted in ``broken`` before it is raised (the PUT only sees a short body)."""
    policy = archive.facts.policy
    codec = driver(policy.k, policy.m, policy.ec_type)
    try:
        for segment in range(layout.segments):
            length = layout.fragment_length(segment)
            fragments = await read_fragments(streams, length)
            try:
                rebuilt = await asyncio.to_thread(codec.reconstruct, fragments, [target])
            except ECDriverError as exc:
                raise SegmentUndecodable(f"segment {segment} does not decode: {exc}") from exc
            fragment = bytes(rebuilt[0])
            if len(fragment) != length:
                raise SegmentUndecodable(
                    f"segment {segment}: rebuilt {len(fragment)} bytes, not {length}"
                )
            await run.bytes.spend(length)
            run.sent(length)
            yield fragment
    except BaseException as exc:
        broken.append(exc)
        raise
