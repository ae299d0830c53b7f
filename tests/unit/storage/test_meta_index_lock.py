"""A version's Object Lock in the bucket index: stored with the row, changed in one transaction
by a caller's decision, checked before the row is removed; schema 3 indexes gain it (and the
parts' checksum column) when opened."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from nimbus_storage.meta import rows
from nimbus_storage.meta.api import NO_LOCK, ObjectLock, ObjectVersion
from nimbus_storage.meta.index import BucketIndex

HELD = ObjectLock("GOVERNANCE", 2_000_000_000.0, legal_hold=True)


class Refused(Exception):
    pass


@pytest.fixture
def index(tmp_path: Path) -> Iterator[BucketIndex]:
    idx = BucketIndex(tmp_path / "bucket.sqlite")
    yield idx
    idx.close()


def version(version_id: str, lock: ObjectLock = NO_LOCK) -> ObjectVersion:
    return ObjectVersion(
        key="k",
        version_id=version_id,
        last_modified=1700000000.0,
        etag="e",
        size=1,
        blob=f"b-{version_id}",
        lock_mode=lock.mode,
        lock_until=lock.retain_until,
        legal_hold=lock.legal_hold,
    )


def test_a_lock_is_stored_with_its_version(index: BucketIndex) -> None:
    index.put_version(version("v1", HELD), "Enabled")
    index.put_version(version("v2"), "Enabled")
    first, second = index.get("k", "v1"), index.get("k", "v2")
    assert first is not None
    assert second is not None
    assert (first.lock, second.lock) == (HELD, NO_LOCK)
    listed = {v.version_id: v.lock for v in index.list_versions().entries}
    assert listed == {"v1": HELD, "v2": NO_LOCK}


def test_set_lock_applies_the_decision_to_the_current_state(index: BucketIndex) -> None:
    index.put_version(version("v1"), "Enabled")
    seen: list[ObjectLock] = []

    def decide(current: ObjectVersion) -> ObjectLock:
        seen.append(current.lock)
        return ObjectLock("COMPLIANCE", 2_100_000_000.0)

    changed = index.set_lock("k", "v1", decide)
    assert changed is not None
    assert changed.lock == ObjectLock("COMPLIANCE", 2_100_000_000.0)
    assert seen == [NO_LOCK]
    stored = index.get("k", "v1")
    assert stored is not None
    assert stored.lock == changed.lock
    assert stored.updated > stored.created  # a newer state of the row: it wins a merge
    assert index.set_lock("k", "absent", decide) is None


def test_a_refused_decision_changes_nothing(index: BucketIndex) -> None:
    index.put_version(version("v1", HELD), "Enabled")

    def refuse(current: ObjectVersion) -> ObjectLock:
        raise Refused

    with pytest.raises(Refused):
        index.set_lock("k", None, refuse)
    stored = index.get("k")
    assert stored is not None
    assert stored.lock == HELD


def test_a_refused_check_keeps_the_version(index: BucketIndex) -> None:
    index.put_version(version("v1", HELD), "Enabled")

    def keep_held(current: ObjectVersion) -> None:
        if current.lock.legal_hold:
            raise Refused

    with pytest.raises(Refused):
        index.delete_version("k", "v1", check=keep_held)
    assert index.get("k", "v1") is not None
    assert index.usage() == (1, 1)
    index.set_lock("k", "v1", lambda current: NO_LOCK)
    removed = index.delete_version("k", "v1", check=keep_held)
    assert removed is not None
    assert index.get("k", "v1") is None


def test_lock_documents_round_trip() -> None:
    row = rows.version_row(version("v1", HELD), 5)
    assert row.lock is not None
    assert rows.lock_of(row) == HELD
    assert rows.version_row(version("v2"), 5).lock is None
    with pytest.raises(ValueError, match="mode and a date"):
        ObjectLock("GOVERNANCE", 0.0)
    with pytest.raises(ValueError, match="unknown retention mode"):
        ObjectLock("FOREVER", 1.0)


def test_an_index_of_schema_3_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite"
    index = BucketIndex(path)
    index.put_version(version("v1"), "Enabled")
    index.create_upload("u1", "big", 1.0, {})
    index.put_part("u1", 1, "e1", 5, "b1", 2.0)
    index.close()
    old = sqlite3.connect(path)
    old.execute("ALTER TABLE versions DROP COLUMN lock")
    old.execute("ALTER TABLE parts DROP COLUMN checksum")
    old.execute("PRAGMA user_version = 3")
    old.commit()
    old.close()
    index = BucketIndex(path)
    try:
        kept = index.get("k", "v1")
        assert kept is not None
        assert kept.lock == NO_LOCK
        index.set_lock("k", "v1", lambda current: HELD)
        locked = index.get("k", "v1")
        assert locked is not None
        assert locked.lock == HELD
        assert index.get_parts("u1")[1].checksum == ""
        index.put_part("u1", 2, "e2", 5, "b2", 3.0, "AAAAAA==")
        assert index.get_parts("u1")[2].checksum == "AAAAAA=="
    finally:
        index.close()
    (schema,) = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()
    assert schema == 4
