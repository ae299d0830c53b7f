"""``BlobStore`` over a ring of storage nodes with erasure coding: ``k + m`` fragment archives
per object, any ``k`` of which rebuild it, instead of whole copies.

Codec: pyeclib's ``ECDriver`` with ``liberasurecode_rs_vand`` (Reed-Solomon, Vandermonde), the
library and default scheme OpenStack Swift uses for its EC policies. Its wheel bundles
liberasurecode, it is systematic (the k data fragments are slices of the segment, so a read
with every data fragment at hand decodes at memory speed), and every fragment carries a header
with its index and the segment's size, so fragments are self-describing. Measured here for 4+2
on 1 MiB segments: ~580-800 MB/s encode, ~500 MB/s decode with two fragments missing, on one
core.

Write: the body is cut into segments (``ECPolicy.segment_size``, 1 MiB by default), each segment
is encoded into ``k + m`` fragments, and fragment ``i`` of every segment is streamed to the
``i``-th primary as one blob, the fragment archive, with its exact size announced up front
(ec_layout). The fan-out, handoffs and quorum verdict are the replicated store's (quorum.py),
with at most ``EC_QUEUE_DEPTH`` fragments queued per node, so a write holds a few segments
whatever the object size. It succeeds when ``min(k + 1, k + m)`` archives are stored (Swift's
EC write quorum). Every archive's meta carries the EC facts (ECFacts: k, m, segment size,
codec, object size, fragment index) beside the caller's meta.

Read: HEAD the primaries (then handoffs) for at least ``k`` distinct fragment indexes, stream
``k`` archives at once with Range requests covering only the segments the byte range overlaps,
decode segment by segment, and yield just the requested bytes. A holder that breaks mid-read is
replaced by another holder (of the same fragment index, else of an unused one) from the start of
the current segment; any ``m`` lost fragments are survivable.

``open()``'s BlobInfo has the object's size, but no md5: the archives' meta is sent before the
body, when the object's md5 is not known yet (Swift sends it in a MIME footer, which the node
protocol does not have). ``put()`` returns the object's md5, which the catalog keeps as the ETag.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from pyeclib.ec_iface import ECDriver, ECDriverError

from nimbus_storage.blobs.api import BlobInfo, BlobReader
from nimbus_storage.blobs.errors import BodySizeUnknown, SegmentUndecodable
from nimbus_storage.blobs.trailer import BodyTrailer, with_trailer
from nimbus_storage.cluster.ec_fragments import FragmentHolders, FragmentStream, read_fragments
from nimbus_storage.cluster.ec_layout import (
    EC_META,
    ArchiveLayout,
    ECFacts,
    ECPolicy,
    cut_segments,
)
from nimbus_storage.cluster.quorum import (
    BodyDigest,
    Fanout,
    PlacementRing,
    RingSource,
    SlotWrite,
    forget,
    placements,
    raise_no_quorum,
    tombstone_slots,
    write_slots,
)
from nimbus_storage.protocol.client import NodeClient, NodeUnavailable, Placement
from nimbus_storage.protocol.headers import META_HEADER
from nimbus_storage.storage_errors import StorageUnavailable

EC_QUEUE_DEPTH = 2  # fragments queued per node: about 2 * (k + m) / k segments in all


@cache
def driver(k: int, m: int, ec_type: str) -> ECDriver:
    return ECDriver(k=k, m=m, ec_type=ec_type)


def layout_of(policy: ECPolicy, object_size: int) -> ArchiveLayout:
    codec = driver(policy.k, policy.m, policy.ec_type)

    def fragment_size(segment: int) -> int:
        return int(codec.get_segment_info(segment, segment)["fragment_size"])

    return ArchiveLayout.plan(object_size, policy.segment_size, fragment_size)


class ECBlobStore:
    def __init__(self, rings: RingSource, client: NodeClient, policy: ECPolicy) -> None:
        self.rings = rings
        self.client = client
        self.policy = policy
        driver(policy.k, policy.m, policy.ec_type)  # refuse an unknown codec now, not per write
        self._ring()

    def _ring(self) -> PlacementRing:
        ring = self.rings.current()
        if ring.replicas != self.policy.fragments:
            raise ValueError(
                f"erasure coding {self.policy} needs a ring of {self.policy.fragments}"
                f" replicas; this one has {ring.replicas}"
            )
        return ring

    # --- writes -------------------------------------------------------------------------------

    async def put(
        self,
        name: str,
        chunks: AsyncIterator[bytes],
        meta: Mapping[str, str],
        timestamp: str,
        *,
        expected_size: int | None = None,
        trailer: BodyTrailer | None = None,
    ) -> BlobInfo:
        if expected_size is None:
            raise BodySizeUnknown("A cluster write needs the body's size up front")
        policy = self.policy
        primaries, handoffs = placements(self._ring(), name)
        metas = [
            {**meta, EC_META: ECFacts(policy, expected_size, index).to_json()}
            for index in range(policy.fragments)
        ]
        write = SlotWrite(
            self.client,
            Fanout(policy.fragments, EC_QUEUE_DEPTH),
            handoffs,
            name,
            layout_of(policy, expected_size).archive_size,
            metas,
            timestamp,
            # Every write sends a footer: an empty one when nothing follows the body.
            trailer if trailer is not None else BodyTrailer.of({}),
        )
        digest = BodyDigest()
        fragments = self._fragments(chunks, digest, expected_size)
        outcomes = await write_slots(write, primaries, fragments)
        if sum(o.stored for o in outcomes) < policy.write_quorum:
            await forget(self.client, name, outcomes)
            raise_no_quorum(outcomes, policy.write_quorum, "fragment archives")
        return BlobInfo(name, timestamp, digest.size, digest.md5_hex, with_trailer(meta, trailer))

    async def _fragments(
        self, chunks: AsyncIterator[bytes], digest: BodyDigest, expected_size: int
    ) -> AsyncIterator[Sequence[bytes]]:
        codec = driver(self.policy.k, self.policy.m, self.policy.ec_type)
        async for segment in cut_segments(chunks, self.policy.segment_size, expected_size):
            digest.update(segment)
            yield codec.encode(segment)

    async def delete(self, name: str, timestamp: str) -> None:
        primaries, handoffs = placements(self._ring(), name)
        done = await tombstone_slots(self.client, primaries, handoffs, name, timestamp)
        if done < self.policy.write_quorum:
            raise StorageUnavailable(
                f"Not enough storage nodes answered: {done} of {self.policy.fragments} fragment"
                f" archives deleted, {self.policy.write_quorum} needed."
            )

    # --- reads --------------------------------------------------------------------------------

    async def open(self, name: str, *, read_from: int | None = None) -> BlobReader | None:
        """At least k holders of distinct fragments: primaries first, then handoffs.

        A tombstone on any of them means the blob is gone; some fragments but fewer than k is
        StorageUnavailable (the object exists but cannot be decoded now).
        """
        ring = self._ring()
        primaries, handoffs = placements(ring, name)
        found = _Found()
        await found.ask(self.client, name, primaries)
        if not found.gone and found.indexes() < self.policy.k:
            await found.ask(self.client, name, itertools.islice(handoffs, ring.replicas))
        if found.gone or not found.holders:
            return None
        facts, info = found.newest(name)
        holders = found.by_index(info.timestamp)
        if len(holders) < facts.policy.k:
            raise StorageUnavailable(
                f"Only {len(holders)} of the {facts.policy.k} fragments needed to read the"
                " object answered."
            )
        return ECBlobReader(info, facts.policy, holders, self.client)


@dataclass
class _Holder:
    where: Placement
    timestamp: str
    facts: ECFacts
    meta: dict[str, str]


@dataclass
class _Found:
    holders: list[_Holder] = field(default_factory=list)
    gone: bool = False

    async def ask(self, client: NodeClient, name: str, targets: Iterable[Placement]) -> None:
        async def head(where: Placement) -> None:
            try:
                answer = await client.head(where, name)
            except NodeUnavailable:
                return
            if answer.status == 404 and answer.timestamp:
                self.gone = True  # a tombstone: deleted (or being deleted)
            elif answer.status == 200 and answer.timestamp:
                meta = json.loads(answer.headers.get(META_HEADER, "{}"))
                try:
                    facts = ECFacts.from_json(str(meta.pop(EC_META, "")))
                except ValueError:
                    return  # not a fragment archive: nothing this store can read
                user_meta = {str(k): str(v) for k, v in meta.items()}
                self.holders.append(_Holder(where, answer.timestamp, facts, user_meta))

        await asyncio.gather(*(head(where) for where in targets))

    def indexes(self) -> int:
        return len({h.facts.index for h in self.holders})

    def newest(self, name: str) -> tuple[ECFacts, BlobInfo]:
        holder = max(self.holders, key=lambda h: h.timestamp)
        info = BlobInfo(name, holder.timestamp, holder.facts.object_size, "", holder.meta)
        return holder.facts, info

    def by_index(self, timestamp: str) -> dict[int, list[Placement]]:
        holders: dict[int, list[Placement]] = {}
        for holder in self.holders:
            if holder.timestamp == timestamp:
                holders.setdefault(holder.facts.index, []).append(holder.where)
        return holders


class ECBlobReader:
    """An erasure-coded blob: k fragment archives streamed at once, decoded a segment at a time."""

    def __init__(
        self,
        info: BlobInfo,
        policy: ECPolicy,
        holders: Mapping[int, Sequence[Placement]],
        client: NodeClient,
    ) -> None:
        self.info = info
        self._policy = policy
        self._layout = layout_of(policy, info.size)
        self._holders = holders
        self._client = client

    async def iter_range(
        self, start: int, end: int, chunk_size: int = 1024 * 1024
    ) -> AsyncIterator[bytes]:
        layout = self._layout
        segments = layout.segments_between(start, end)
        if not segments:
            return
        end = min(end, layout.object_size - 1)
        first, last = segments[0], segments[-1]
        archive_end = layout.fragment_offset(last) + layout.fragment_length(last) - 1
        holders = FragmentHolders(self._holders)
        streams = [
            FragmentStream(
                self._client, self.info.name, holders, layout.fragment_offset(first), archive_end
            )
            for _ in range(self._policy.k)
        ]
        codec = driver(self._policy.k, self._policy.m, self._policy.ec_type)
        try:
            for segment in segments:
                fragments = await read_fragments(streams, layout.fragment_length(segment))
                try:
                    data = codec.decode(fragments)
                except ECDriverError as exc:
                    raise SegmentUndecodable(f"A segment could not be decoded: {exc}") from exc
                base = layout.segment_start(segment)
                low, high = max(start, base) - base, min(end, base + len(data) - 1) - base + 1
                for offset in range(low, high, chunk_size):
                    yield data[offset : min(high, offset + chunk_size)]
        finally:
            for stream in streams:
                await stream.close()

    def close(self) -> None:
        """Nothing to release: each read holds its connections only while it streams."""
