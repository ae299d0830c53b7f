"""Bucket index: versions, S3 listing semantics, usage counters, tags, multipart uploads."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from nimbus_storage.meta.api import NULL_VERSION, ListPage, ObjectVersion
from nimbus_storage.meta.errors import NoUpload
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.meta.listing import prefix_successor


@pytest.fixture
def index(tmp_path: Path) -> Iterator[BucketIndex]:
    idx = BucketIndex(tmp_path / "bucket.sqlite")
    yield idx
    idx.close()


def version(
    key: str, version_id: str = NULL_VERSION, size: int = 10, *, marker: bool = False
) -> ObjectVersion:
    return ObjectVersion(
        key=key,
        version_id=version_id,
        last_modified=1700000000.0,
        etag="" if marker else f"etag-{key}-{version_id}",
        size=0 if marker else size,
        blob="" if marker else f"blob-{key}-{version_id}",
        delete_marker=marker,
    )


def put_keys(index: BucketIndex, *keys: str) -> None:
    for key in keys:
        index.put_version(version(key), "")


def keys_of(page: ListPage) -> list[str]:
    return [v.key for v in page.entries]


def list_everything(index: BucketIndex, max_keys: int, **kwargs: str) -> list[str]:
    """Page through a listing, following next_marker, returning keys and prefixes in order."""
    seen: list[str] = []
    marker = ""
    for _ in range(100):
        page = index.list_objects(start_after=marker, max_keys=max_keys, **kwargs)
        items = sorted(keys_of(page) + page.common_prefixes)
        assert len(items) <= max_keys
        seen += items
        if not page.is_truncated:
            assert page.next_marker is None
            return seen
        assert page.next_marker == items[-1]
        marker = page.next_marker
    raise AssertionError("listing never ended")


# --- versions ----------------------------------------------------------------------------------


def test_unversioned_put_replaces_the_null_version(index: BucketIndex) -> None:
    assert index.put_version(version("k", size=5), "") == []
    replaced = index.put_version(version("k", size=7), "")
    assert [(v.version_id, v.size) for v in replaced] == [("null", 5)]
    latest = index.get("k")
    assert latest is not None
    assert latest.size == 7
    assert latest.is_latest
    assert index.usage() == (7, 1)


def test_enabled_versioning_keeps_every_version(index: BucketIndex) -> None:
    index.put_version(version("k", "v1"), "Enabled")
    assert index.put_version(version("k", "v2"), "Enabled") == []
    page = index.list_versions()
    assert [(v.version_id, v.is_latest) for v in page.entries] == [("v2", True), ("v1", False)]
    v1 = index.get("k", "v1")
    assert v1 is not None
    assert not v1.is_latest
    assert index.usage() == (20, 2)


def test_suspended_versioning_replaces_only_the_null_version(index: BucketIndex) -> None:
    index.put_version(version("k", NULL_VERSION, 1), "")
    index.put_version(version("k", "v1", 2), "Enabled")
    replaced = index.put_version(version("k", NULL_VERSION, 3), "Suspended")
    assert [v.size for v in replaced] == [1]
    entries = index.list_versions().entries
    assert [(v.version_id, v.size, v.is_latest) for v in entries] == [
        ("null", 3, True),
        ("v1", 2, False),
    ]
    assert index.usage() == (5, 2)


def test_delete_marker_hides_key_from_listing_but_not_from_versions(index: BucketIndex) -> None:
    index.put_version(version("k", "v1"), "Enabled")
    index.put_version(version("k", "dm1", marker=True), "Enabled")
    latest = index.get("k")
    assert latest is not None
    assert latest.delete_marker
    assert keys_of(index.list_objects()) == []
    assert [v.delete_marker for v in index.list_versions().entries] == [True, False]
    assert index.usage() == (10, 1)  # markers are not objects


def test_delete_version_promotes_the_next_newest(index: BucketIndex) -> None:
    index.put_version(version("k", "v1"), "Enabled")
    index.put_version(version("k", "v2"), "Enabled")
    removed = index.delete_version("k", "v2")
    assert removed is not None
    assert removed.version_id == "v2"
    latest = index.get("k")
    assert latest is not None
    assert (latest.version_id, latest.is_latest) == ("v1", True)
    assert index.delete_version("k", "nope") is None
    assert index.usage() == (10, 1)


def test_removing_the_delete_marker_restores_the_key(index: BucketIndex) -> None:
    index.put_version(version("k", "v1"), "Enabled")
    index.put_version(version("k", "dm", marker=True), "Enabled")
    index.delete_version("k", "dm")
    assert keys_of(index.list_objects()) == ["k"]


def test_get_missing(index: BucketIndex) -> None:
    assert index.get("nope") is None
    index.put_version(version("k"), "")
    assert index.get("k", "v-unknown") is None


def test_is_empty_counts_versions_markers_and_uploads(index: BucketIndex) -> None:
    assert index.is_empty()
    index.put_version(version("k", "dm", marker=True), "Enabled")
    assert not index.is_empty()
    index.delete_version("k", "dm")
    assert index.is_empty()
    index.create_upload("u1", "k", 1.0, {})
    assert not index.is_empty()
    index.delete_upload("u1")
    assert index.is_empty()
    assert index.usage() == (0, 0)


def test_has_versions_counts_versions_and_markers_but_not_uploads(index: BucketIndex) -> None:
    index.create_upload("u1", "k", 1.0, {})
    assert not index.has_versions()
    index.put_version(version("k", "dm", marker=True), "Enabled")
    assert index.has_versions()
    index.delete_version("k", "dm")
    index.put_version(version("k", "v1"), "Enabled")
    assert index.has_versions()
    index.delete_version("k", "v1")
    assert not index.has_versions()


def test_state_survives_reopening(tmp_path: Path) -> None:
    first = BucketIndex(tmp_path / "b.sqlite")
    first.put_version(version("k", size=42), "")
    first.close()
    again = BucketIndex(tmp_path / "b.sqlite")
    assert keys_of(again.list_objects()) == ["k"]
    assert again.usage() == (42, 1)
    again.close()


# --- ListObjects ------------------------------------------------------------------------------


def test_listing_is_sorted_and_prefix_filtered(index: BucketIndex) -> None:
    put_keys(index, "b", "a/2", "a/1", "c", "ab")
    assert keys_of(index.list_objects()) == ["a/1", "a/2", "ab", "b", "c"]
    assert keys_of(index.list_objects(prefix="a")) == ["a/1", "a/2", "ab"]
    assert keys_of(index.list_objects(prefix="a/")) == ["a/1", "a/2"]
    assert keys_of(index.list_objects(prefix="zzz")) == []


def test_listing_orders_unicode_as_utf8_bytes(index: BucketIndex) -> None:
    # Code points: 'z' < 'é' (U+00E9) < '中' (U+4E2D) < '\uff5e' < '😀' (U+1F600).
    # UTF-16 order would put '😀' (a surrogate pair) before '\uff5e'; UTF-8 order does not.
    keys = ["😀", "\uff5e", "中", "é", "z", "Z"]
    put_keys(index, *keys)
    listed = keys_of(index.list_objects())
    assert listed == sorted(keys, key=lambda k: k.encode())
    assert listed == ["Z", "z", "é", "中", "\uff5e", "😀"]
    assert keys_of(index.list_objects(start_after="中")) == ["\uff5e", "😀"]


def test_delimiter_rolls_up_common_prefixes(index: BucketIndex) -> None:
    put_keys(index, "photos/2024/a.jpg", "photos/2024/b.jpg", "photos/2025/c.jpg", "photos/x.jpg")
    put_keys(index, "readme", "docs/one")
    top = index.list_objects(delimiter="/")
    assert keys_of(top) == ["readme"]
    assert top.common_prefixes == ["docs/", "photos/"]
    inner = index.list_objects(prefix="photos/", delimiter="/")
    assert keys_of(inner) == ["photos/x.jpg"]
    assert inner.common_prefixes == ["photos/2024/", "photos/2025/"]


def test_multi_character_delimiter(index: BucketIndex) -> None:
    put_keys(index, "a--b--c", "a--d", "a-e")
    page = index.list_objects(delimiter="--")
    assert keys_of(page) == ["a-e"]
    assert page.common_prefixes == ["a--"]


def test_max_keys_truncates_and_counts_prefixes(index: BucketIndex) -> None:
    put_keys(index, "a/1", "a/2", "b", "c/1", "d")
    page = index.list_objects(delimiter="/", max_keys=3)
    assert page.common_prefixes == ["a/", "c/"]
    assert keys_of(page) == ["b"]
    assert page.is_truncated
    assert page.next_marker == "c/"
    rest = index.list_objects(delimiter="/", start_after="c/", max_keys=3)
    assert keys_of(rest) == ["d"]
    assert rest.common_prefixes == []
    assert not rest.is_truncated


def test_exact_fit_is_not_truncated(index: BucketIndex) -> None:
    put_keys(index, "a", "b")
    page = index.list_objects(max_keys=2)
    assert keys_of(page) == ["a", "b"]
    assert not page.is_truncated
    assert page.next_marker is None


def test_zero_max_keys(index: BucketIndex) -> None:
    put_keys(index, "a")
    page = index.list_objects(max_keys=0)
    assert (page.entries, page.common_prefixes, page.is_truncated) == ([], [], False)


def test_start_after_skips_keys_and_covered_prefixes(index: BucketIndex) -> None:
    put_keys(index, "a/1", "a/2", "b/1", "c")
    assert keys_of(index.list_objects(start_after="a/1")) == ["a/2", "b/1", "c"]
    # "a/2" rolls up into "a/", which is not after "a/1": skipped with its members.
    page = index.list_objects(delimiter="/", start_after="a/1")
    assert page.common_prefixes == ["b/"]
    assert keys_of(page) == ["c"]
    # start_after below the prefix is ignored; above it ends the listing.
    assert keys_of(index.list_objects(prefix="b", start_after="a")) == ["b/1"]
    assert keys_of(index.list_objects(prefix="a", start_after="b")) == []


@pytest.mark.parametrize("max_keys", [1, 2, 3, 7])
def test_paging_visits_everything_once(index: BucketIndex, max_keys: int) -> None:
    keys = [f"d{d}/f{f}" for d in range(3) for f in range(3)] + ["top1", "top2", "d1x"]
    put_keys(index, *keys)
    assert list_everything(index, max_keys) == sorted(keys)
    rolled = list_everything(index, max_keys, delimiter="/")
    assert rolled == ["d0/", "d1/", "d1x", "d2/", "top1", "top2"]
    assert list_everything(index, max_keys, prefix="d1/") == ["d1/f0", "d1/f1", "d1/f2"]


def test_prefix_successor() -> None:
    assert prefix_successor("abc") == "abd"
    assert prefix_successor("a/") == "a0"
    assert prefix_successor("") is None
    assert prefix_successor("a\U0010ffff") == "b"
    assert prefix_successor("\ud7ff") == "\ue000"  # skips the surrogates


def test_prefix_with_the_highest_code_point(index: BucketIndex) -> None:
    put_keys(index, "\U0010ffff/x", "\U0010ffff/y", "\U0010ffffz")
    assert keys_of(index.list_objects(prefix="\U0010ffff/")) == ["\U0010ffff/x", "\U0010ffff/y"]
    assert index.list_objects(delimiter="/").common_prefixes == ["\U0010ffff/"]


# --- ListObjectVersions -------------------------------------------------------------------------


def test_version_listing_pages_within_a_key(index: BucketIndex) -> None:
    for vid in ("v1", "v2", "v3"):
        index.put_version(version("a", vid), "Enabled")
    index.put_version(version("b", "v1"), "Enabled")
    first = index.list_versions(max_keys=2)
    assert [(v.key, v.version_id) for v in first.entries] == [("a", "v3"), ("a", "v2")]
    assert first.is_truncated
    assert (first.next_marker, first.next_version_marker) == ("a", "v2")
    second = index.list_versions(key_marker="a", version_id_marker="v2", max_keys=2)
    assert [(v.key, v.version_id) for v in second.entries] == [("a", "v1"), ("b", "v1")]
    assert not second.is_truncated
    assert second.next_marker is None
    after_a = index.list_versions(key_marker="a")
    assert [(v.key, v.version_id) for v in after_a.entries] == [("b", "v1")]


def test_version_listing_with_delimiter(index: BucketIndex) -> None:
    index.put_version(version("dir/a", "v1"), "Enabled")
    index.put_version(version("dir/a", "v2"), "Enabled")
    index.put_version(version("top", "v1"), "Enabled")
    page = index.list_versions(delimiter="/", max_keys=1)
    assert page.common_prefixes == ["dir/"]
    assert page.is_truncated
    assert (page.next_marker, page.next_version_marker) == ("dir/", None)
    rest = index.list_versions(delimiter="/", key_marker="dir/")
    assert [v.key for v in rest.entries] == ["top"]


# --- usage and tags -----------------------------------------------------------------------------


def test_bulk_load_counts_usage(index: BucketIndex) -> None:
    assert index.bulk_load(version(f"k{i}", size=3) for i in range(5)) == 5
    assert index.usage() == (15, 5)
    assert keys_of(index.list_objects(max_keys=2)) == ["k0", "k1"]


def test_tags_per_version(index: BucketIndex) -> None:
    index.put_version(version("k", "v1"), "Enabled", tags={"team": "a"})
    index.put_version(version("k", "v2"), "Enabled")
    assert index.get_tags("k", "v1") == {"team": "a"}
    assert index.get_tags("k") == {}
    assert index.set_tags("k", None, {"env": "prod"})
    assert index.get_tags("k", "v2") == {"env": "prod"}
    assert index.delete_tags("k", "v1")
    assert index.get_tags("k", "v1") == {}
    assert index.get_tags("missing") is None
    assert not index.set_tags("k", "v9", {"a": "b"})


# --- multipart uploads --------------------------------------------------------------------------


def test_upload_lifecycle(index: BucketIndex) -> None:
    created = index.create_upload("u1", "big", 100.0, {"content-type": "a/b"})
    assert index.get_upload("u1") == created
    assert index.put_part("u1", 2, "e2", 5, "blob2", 101.0) is None
    assert index.put_part("u1", 1, "e1", 5, "blob1", 102.0) is None
    previous = index.put_part("u1", 1, "e1b", 6, "blob1b", 103.0)
    assert previous is not None
    assert previous.blob == "blob1"
    assert [(p.part_number, p.etag) for p in index.get_parts("u1").values()] == [
        (1, "e1b"),
        (2, "e2"),
    ]
    parts = index.delete_upload("u1")
    assert [p.blob for p in parts] == ["blob1b", "blob2"]
    assert index.get_upload("u1") is None
    assert index.get_parts("u1") == {}
    assert index.delete_upload("u1") == []  # already gone: nothing to reclaim


def test_part_of_an_unknown_upload_is_refused(index: BucketIndex) -> None:
    with pytest.raises(NoUpload):
        index.put_part("nope", 1, "e", 1, "b", 1.0)


def test_list_parts_pages(index: BucketIndex) -> None:
    index.create_upload("u", "k", 1.0, {})
    for n in range(1, 6):
        index.put_part("u", n, f"e{n}", n, f"b{n}", 1.0)
    parts, truncated, marker = index.list_parts("u", max_parts=2)
    assert ([p.part_number for p in parts], truncated, marker) == ([1, 2], True, 2)
    parts, truncated, marker = index.list_parts("u", part_number_marker=2, max_parts=3)
    assert ([p.part_number for p in parts], truncated, marker) == ([3, 4, 5], False, None)


def test_list_uploads_order_markers_and_prefixes(index: BucketIndex) -> None:
    index.create_upload("u-b1", "b", 1.0, {})
    index.create_upload("u-a1", "a", 2.0, {})
    index.create_upload("u-a2", "a", 3.0, {})
    index.create_upload("u-d", "dir/x", 4.0, {})
    page = index.list_uploads(max_uploads=2)
    assert [(u.key, u.upload_id) for u in page.uploads] == [("a", "u-a1"), ("a", "u-a2")]
    assert (page.is_truncated, page.next_key_marker, page.next_upload_id_marker) == (
        True,
        "a",
        "u-a2",
    )
    rest = index.list_uploads(key_marker="a", upload_id_marker="u-a1")
    assert [u.upload_id for u in rest.uploads] == ["u-a2", "u-b1", "u-d"]
    rolled = index.list_uploads(delimiter="/")
    assert [u.upload_id for u in rolled.uploads] == ["u-a1", "u-a2", "u-b1"]
    assert rolled.common_prefixes == ["dir/"]
    assert [u.upload_id for u in index.uploads_initiated_before(2.5)] == ["u-b1", "u-a1"]


def test_an_index_from_before_per_version_acls_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE versions (
            key TEXT NOT NULL, seq INTEGER NOT NULL, version_id TEXT NOT NULL,
            is_latest INTEGER NOT NULL, delete_marker INTEGER NOT NULL,
            last_modified REAL NOT NULL, etag TEXT NOT NULL, size INTEGER NOT NULL,
            blob TEXT NOT NULL, content_type TEXT NOT NULL, storage_class TEXT NOT NULL,
            owner TEXT NOT NULL, tags TEXT, PRIMARY KEY (key, seq)
        ) WITHOUT ROWID;
        INSERT INTO versions VALUES
            ('old-key', -1, 'null', 1, 0, 1.0, 'e', 3, 'b', 'text/plain', 'STANDARD', 'o', NULL);
        """
    )
    old.close()
    index = BucketIndex(path)
    try:
        kept = index.get("old-key")
        assert kept is not None
        assert (kept.size, kept.acl) == (3, "private")
        index.put_version(ObjectVersion("new", "null", 2.0, "e", 1, "b2", acl="public-read"), "")
        fresh = index.get("new")
        assert fresh is not None
        assert fresh.acl == "public-read"
        assert index.list_objects().entries[0].key == "new"
    finally:
        index.close()
    (version,) = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()
    assert version == 4


def test_an_index_from_a_newer_nimbus_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    future = sqlite3.connect(path)
    future.execute("PRAGMA user_version = 99")
    future.close()
    with pytest.raises(RuntimeError, match="newer Nimbus"):
        BucketIndex(path)
