"""What the reconstructor knows of one name: the local fragment archive it handles, and what a
peer answered to a HEAD for it, compared by timestamp (last writer wins; on a tie a tombstone
wins over data)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from nimbus_storage.cluster.ec_layout import EC_META, ECFacts
from nimbus_storage.protocol.client import NodeAnswer
from nimbus_storage.protocol.headers import META_HEADER

DOWN = "down"  # unreachable, or answered neither 200 nor 404 (507: device missing)
ABSENT = "absent"
TOMBSTONE = "tombstone"
DATA = "data"


@dataclass(frozen=True, slots=True)
class Seen:
    """A peer's state of a name."""

    kind: str  # DOWN, ABSENT, TOMBSTONE or DATA
    timestamp: str = ""
    facts: ECFacts | None = None  # DATA: None when it is not a fragment archive
    reason: str = ""  # DOWN: why

    @classmethod
    def of(cls, answer: NodeAnswer) -> Seen:
        """The state a HEAD's answer shows."""
        if answer.status == 404:
            return cls(TOMBSTONE if answer.timestamp else ABSENT, answer.timestamp or "")
        if answer.status == 200 and answer.timestamp:
            return cls(DATA, answer.timestamp, facts_of(answer.headers.get(META_HEADER)))
        return cls(DOWN, reason=f"answered {answer.status}")

    def newer_or_same(self, timestamp: str, *, tombstone: bool) -> bool:
        """Whether this state is at least as new as a local state at ``timestamp`` (a tombstone
        when ``tombstone``)."""
        if self.kind not in (DATA, TOMBSTONE):
            return False
        if self.timestamp != timestamp:
            return self.timestamp > timestamp
        return self.kind == TOMBSTONE or not tombstone

    def holds(self, archive: Archive) -> bool:
        """Whether the peer holds ``archive``'s own fragment or a newer state of its name."""
        if not self.newer_or_same(archive.timestamp, tombstone=False):
            return False
        if self.kind == DATA and self.timestamp == archive.timestamp:
            return self.facts is not None and self.facts.index == archive.facts.index
        return True

    def fragment_of(self, timestamp: str) -> int | None:
        """The fragment index held, when it is an archive written at ``timestamp``."""
        if self.kind == DATA and self.timestamp == timestamp and self.facts is not None:
            return self.facts.index
        return None


@dataclass(frozen=True, slots=True)
class Archive:
    """The local fragment archive being handled."""

    name: str
    timestamp: str
    size: int  # archive bytes
    facts: ECFacts
    meta: dict[str, str]  # the caller's meta, without EC_META

    def meta_for(self, index: int) -> dict[str, str]:
        """The meta of the same blob's archive of fragment ``index``."""
        facts = ECFacts(self.facts.policy, self.facts.object_size, index)
        return {**self.meta, EC_META: facts.to_json()}


def facts_of(meta_header: str | None) -> ECFacts | None:
    """The EC facts in an ``X-Nimbus-Meta`` header; None when it is not a fragment archive's."""
    try:
        meta = json.loads(meta_header or "{}")
        return ECFacts.from_json(str(meta[EC_META]))
    except (ValueError, KeyError, TypeError):
        return None
