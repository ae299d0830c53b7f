"""What a replicator pushes to a peer: pure decisions over suffix hashes and suffix listings.

Each primary pushes what it has and its peer lacks or holds older (Swift's push model); nobody
pulls, so every copy converges once every primary has run a pass. Last writer wins by timestamp,
and on a tie a tombstone outranks data (``store.layout``).

A tombstone older than the reclaim cutoff is pushed only to a peer that holds older *data* under
its name (that data would otherwise come back to life). To a peer without the name it is not
pushed: each side drops such tombstones on its own (``reclaim``), and pushing them would only
hand them back and forth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nimbus_storage.blobs.diskfile import SuffixEntry

DATA = "data"
TOMBSTONE = "tombstone"

# What a peer may answer to a pushed write or tombstone when it now holds that state or a newer
# one: 201 written, 409 as new or newer already there; 204 deleted, 404 nothing was visible
# (the tombstone is kept anyway when it is the newest).
DATA_ACCEPTED = frozenset({201, 409})
TOMBSTONE_ACCEPTED = frozenset({204, 404, 409})


def entry_order(entry: SuffixEntry) -> tuple[str, int]:
    """Sort key of a state: timestamps are fixed-width strings; a tombstone wins a tie."""
    return entry.timestamp, 1 if entry.kind == TOMBSTONE else 0


def is_reclaimable(entry: SuffixEntry, reclaim_before: str) -> bool:
    return entry.kind == TOMBSTONE and entry.timestamp < reclaim_before


def differing_suffixes(local: Mapping[str, str], remote: Mapping[str, str]) -> list[str]:
    """Suffixes holding something here whose hash the peer does not share.

    A suffix only the peer holds is left out: there is nothing to push, the peer pushes it.
    """
    return sorted(suffix for suffix, digest in local.items() if remote.get(suffix) != digest)


def plan_pushes(
    local: Iterable[SuffixEntry], remote: Iterable[SuffixEntry], *, reclaim_before: str
) -> list[SuffixEntry]:
    """The local states the peer lacks or holds an older state of, by name."""
    theirs = {entry.name: entry for entry in remote}
    pushes: list[SuffixEntry] = []
    for entry in local:
        peer_state = theirs.get(entry.name)
        if peer_state is not None and entry_order(peer_state) >= entry_order(entry):
            continue
        if is_reclaimable(entry, reclaim_before) and (
            peer_state is None or peer_state.kind != DATA
        ):
            continue
        pushes.append(entry)
    return sorted(pushes)


def push_accepted(entry: SuffixEntry, status: int) -> bool:
    """Whether the peer's answer means it now holds ``entry`` or something newer."""
    accepted = TOMBSTONE_ACCEPTED if entry.kind == TOMBSTONE else DATA_ACCEPTED
    return status in accepted
