"""The replicas a node keeps open: bounded, least recently used closed first, pinned kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from nimbus_storage.meta.api import ObjectVersion
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.node.databases import Databases


def test_least_recently_used_replicas_are_closed_beyond_the_limit(tmp_path: Path) -> None:
    databases = Databases(tmp_path, max_open=2)
    first = databases.get("d0", 1, "bucket:a", create=True)
    databases.get("d0", 1, "bucket:b", create=True)
    databases.get("d0", 1, "bucket:c", create=True)
    assert isinstance(first, BucketIndex)
    with pytest.raises(Exception, match="closed"):
        first.usage()
    again = databases.get("d0", 1, "bucket:a", create=False)
    assert isinstance(again, BucketIndex)
    assert again.usage() == (0, 0)  # reopened from its file
    databases.close()


def test_a_pinned_replica_stays_open_until_unpinned(tmp_path: Path) -> None:
    databases = Databases(tmp_path, max_open=1)
    pinned = databases.get("d0", 3, "bucket:kept", create=True, pin=True)
    assert isinstance(pinned, BucketIndex)
    for name in ("bucket:x", "bucket:y"):
        databases.get("d0", 3, name, create=True)
    pinned.put_version(ObjectVersion("k", "null", 1.0, "e", 1, "b"), "")  # still open
    databases.unpin("d0", 3, "bucket:kept")
    databases.get("d0", 3, "bucket:z", create=True)
    with pytest.raises(Exception, match="closed"):
        pinned.usage()
    databases.close()


def test_names_are_checked_and_missing_replicas_are_not_created(tmp_path: Path) -> None:
    databases = Databases(tmp_path)
    assert databases.get("d0", 0, "catalog", create=False) is None
    assert not (tmp_path / "d0").exists()
    for bad in ("../x", "bucket:", "bucket:a/b", "other"):
        with pytest.raises(ValueError, match="bad database name"):
            databases.get("d0", 0, bad, create=True)
    databases.get("d0", 0, "catalog", create=True)
    assert [(f.partition, f.name) for f in databases.local(["d0", "d1"])] == [(0, "catalog")]
    databases.close()
