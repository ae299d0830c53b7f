"""What a replicator pushes to a peer, decided from two suffix listings."""

from __future__ import annotations

from nimbus_storage.blobs.diskfile import SuffixEntry
from nimbus_storage.node.replication_plan import (
    differing_suffixes,
    plan_pushes,
    push_accepted,
)

OLD, MID, NEW = "1700000001.00000", "1700000002.00000", "1700000003.00000"
CUTOFF = "1600000000.00000"  # nothing here is old enough to reclaim unless said so
ANCIENT, BEFORE_ANCIENT = "1500000001.00000", "1500000000.00000"


def data(name: str, timestamp: str) -> SuffixEntry:
    return SuffixEntry(name, timestamp, "data")


def tombstone(name: str, timestamp: str) -> SuffixEntry:
    return SuffixEntry(name, timestamp, "tombstone")


def test_what_the_peer_lacks_is_pushed() -> None:
    local = [data("a", OLD), tombstone("b", OLD), data("c", OLD)]
    remote = [data("c", OLD)]
    assert plan_pushes(local, remote, reclaim_before=CUTOFF) == [
        data("a", OLD),
        tombstone("b", OLD),
    ]


def test_newer_states_replace_older_ones_and_never_the_reverse() -> None:
    local = [data("newer-here", NEW), data("older-here", OLD), tombstone("deleted-here", NEW)]
    remote = [data("newer-here", OLD), data("older-here", NEW), data("deleted-here", MID)]
    assert plan_pushes(local, remote, reclaim_before=CUTOFF) == [
        tombstone("deleted-here", NEW),
        data("newer-here", NEW),
    ]


def test_a_newer_remote_tombstone_is_not_overwritten() -> None:
    assert plan_pushes([data("k", OLD)], [tombstone("k", MID)], reclaim_before=CUTOFF) == []


def test_on_a_tie_the_tombstone_wins() -> None:
    assert plan_pushes([tombstone("k", MID)], [data("k", MID)], reclaim_before=CUTOFF) == [
        tombstone("k", MID)
    ]
    assert plan_pushes([data("k", MID)], [tombstone("k", MID)], reclaim_before=CUTOFF) == []
    assert plan_pushes([data("k", MID)], [data("k", MID)], reclaim_before=CUTOFF) == []


def test_a_reclaimable_tombstone_goes_only_where_it_deletes_older_data() -> None:
    gone = tombstone("k", ANCIENT)
    assert plan_pushes([gone], [], reclaim_before=CUTOFF) == []
    assert plan_pushes([gone], [tombstone("k", BEFORE_ANCIENT)], reclaim_before=CUTOFF) == []
    assert plan_pushes([gone], [data("k", BEFORE_ANCIENT)], reclaim_before=CUTOFF) == [gone]
    # ...and the same tombstone, recent enough, goes everywhere.
    assert plan_pushes([gone], [], reclaim_before=BEFORE_ANCIENT) == [gone]


def test_differing_suffixes_are_the_ones_we_hold_that_the_peer_does_not_match() -> None:
    local = {"abc": "1", "def": "2", "012": "3"}
    remote = {"abc": "1", "def": "changed", "fff": "only there"}
    assert differing_suffixes(local, remote) == ["012", "def"]
    assert differing_suffixes({}, remote) == []


def test_answers_that_mean_the_peer_holds_the_state() -> None:
    assert push_accepted(data("k", OLD), 201)
    assert push_accepted(data("k", OLD), 409)
    assert not push_accepted(data("k", OLD), 404)
    assert not push_accepted(data("k", OLD), 507)
    for status in (204, 404, 409):
        assert push_accepted(tombstone("k", OLD), status)
    assert not push_accepted(tombstone("k", OLD), 201)
    assert not push_accepted(tombstone("k", OLD), 500)
