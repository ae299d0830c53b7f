"""Erasure-coding arithmetic, pure: the policy, the facts stored beside every fragment archive,
and where each segment of an object sits inside every archive.

An object is cut into segments of ``segment_size`` bytes (the last one shorter). Each segment is
encoded into ``k + m`` fragments of equal length; fragment ``i`` of every segment, concatenated,
is the *fragment archive* stored on the ``i``-th node. Every segment but the last has the same
fragment length, so segment ``n`` starts at ``n * fragment_size`` in every archive.
The fragment length of a segment depends on the codec (a header plus the padded payload):
the caller passes it in as a function.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from nimbus_storage.blobs.errors import BodySizeMismatch

EC_META = "nimbus-ec"  # blob meta key holding ECFacts as JSON
DEFAULT_SEGMENT = 1024 * 1024
DEFAULT_EC_TYPE = "liberasurecode_rs_vand"
_POLICY = re.compile(r"^\s*(\d+)\s*\+\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class ECPolicy:
    k: int  # data fragments per segment
    m: int  # parity fragments: any m may be lost
    segment_size: int = DEFAULT_SEGMENT
    ec_type: str = DEFAULT_EC_TYPE

    def __post_init__(self) -> None:
        if self.k < 1 or self.m < 1 or self.segment_size < 1:
            raise ValueError(f"bad erasure-coding policy {self.k}+{self.m}/{self.segment_size}")

    @classmethod
    def parse(cls, text: str, segment_size: int = DEFAULT_SEGMENT) -> ECPolicy:
        """``"4+2"``: 4 data and 2 parity fragments."""
        match = _POLICY.match(text)
        if match is None:
            raise ValueError(f"an erasure-coding policy is K+M, like 4+2, not {text!r}")
        return cls(int(match[1]), int(match[2]), segment_size)

    @property
    def fragments(self) -> int:
        return self.k + self.m

    @property
    def write_quorum(self) -> int:
        """Swift's: one archive more than decoding needs (all of them when m == 0)."""
        return min(self.k + 1, self.k + self.m)

    def __str__(self) -> str:
        return f"{self.k}+{self.m}"


@dataclass(frozen=True, slots=True)
class ECFacts:
    """What a reader needs to decode: stored, as JSON, in the meta of every archive."""

    policy: ECPolicy
    object_size: int
    index: int  # which fragment of each segment this archive holds

    def to_json(self) -> str:
        p = self.policy
        return json.dumps(
            {
                "k": p.k,
                "m": p.m,
                "segment": p.segment_size,
                "type": p.ec_type,
                "size": self.object_size,
                "index": self.index,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ECFacts:
        """ValueError when ``text`` is not the JSON written by ``to_json``."""
        try:
            doc = json.loads(text)
            policy = ECPolicy(doc["k"], doc["m"], doc["segment"], str(doc["type"]))
            facts = cls(policy, doc["size"], doc["index"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad erasure-coding facts {text!r}") from exc
        numbers = (policy.k, policy.m, policy.segment_size, facts.object_size, facts.index)
        if not all(isinstance(n, int) for n in numbers) or facts.object_size < 0:
            raise ValueError(f"bad erasure-coding facts {text!r}")
        if not 0 <= facts.index < policy.fragments:
            raise ValueError(f"bad erasure-coding facts {text!r}")
        return facts


@dataclass(frozen=True, slots=True)
class ArchiveLayout:
    object_size: int
    segment_size: int
    fragment_size: int  # archive bytes of every segment but the last
    last_fragment_size: int  # archive bytes of the last segment

    @classmethod
    def plan(
        cls, object_size: int, segment_size: int, fragment_size: Callable[[int], int]
    ) -> ArchiveLayout:
        """``fragment_size(n)``: the length of each fragment of an ``n``-byte segment."""
        if object_size == 0:
            return cls(0, segment_size, 0, 0)
        last = object_size - (object_size - 1) // segment_size * segment_size
        full = fragment_size(segment_size) if object_size > segment_size else 0
        return cls(object_size, segment_size, full, fragment_size(last))

    @property
    def segments(self) -> int:
        return -(-self.object_size // self.segment_size)

    @property
    def archive_size(self) -> int:
        """Bytes of every fragment archive: the exact Content-Length of its PUT."""
        if self.segments == 0:
            return 0
        return (self.segments - 1) * self.fragment_size + self.last_fragment_size

    def segment_start(self, segment: int) -> int:
        return segment * self.segment_size

    def fragment_offset(self, segment: int) -> int:
        return segment * self.fragment_size

    def fragment_length(self, segment: int) -> int:
        return self.last_fragment_size if segment == self.segments - 1 else self.fragment_size

    def segments_between(self, start: int, end: int) -> range:
        """Segments holding object bytes ``start..end`` (inclusive; clamped to the object)."""
        end = min(end, self.object_size - 1)
        if start > end:
            return range(0)
        return range(start // self.segment_size, end // self.segment_size + 1)


async def cut_segments(
    chunks: AsyncIterator[bytes], segment_size: int, expected_size: int
) -> AsyncIterator[bytes]:
    """The body as segments of ``segment_size`` bytes (the last shorter), holding at most one
    segment plus one chunk. BodySizeMismatch when the body is not ``expected_size`` bytes."""
    pending = bytearray()
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > expected_size:
            raise BodySizeMismatch(f"Received more than the {expected_size} bytes announced")
        pending += chunk
        while len(pending) >= segment_size:
            segment = bytes(pending[:segment_size])
            del pending[:segment_size]
            yield segment
    if received != expected_size:
        raise BodySizeMismatch(f"Received {received} bytes of the {expected_size} announced")
    if pending:
        yield bytes(pending)
