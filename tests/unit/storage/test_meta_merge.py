"""Replicas of an index or a catalog converge: the same rows in any order, any batches."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from nimbus_storage.meta import rows
from nimbus_storage.meta.api import ObjectVersion
from nimbus_storage.meta.catalog import CatalogDB
from nimbus_storage.meta.index import BucketIndex
from nimbus_storage.meta.replicated_db import ReplicatedDB
from nimbus_storage.meta.rows import Row


def all_rows(db: ReplicatedDB) -> dict[str, list[Row]]:
    batch, _upto = db.rows_since(0, limit=1_000_000)
    return batch


def shipped(source: ReplicatedDB, target: ReplicatedDB, rng: random.Random) -> None:
    """Every row of ``source`` merged into ``target`` in a shuffled order, in random batches."""
    flat = [(table, row) for table, found in all_rows(source).items() for row in found]
    rng.shuffle(flat)
    while flat:
        size = rng.randint(1, 7)
        chunk, flat = flat[:size], flat[size:]
        batch: dict[str, list[Row]] = {}
        for table, row in chunk:
            batch.setdefault(table, []).append(row)
        target.merge(batch)


def index_state(index: BucketIndex) -> tuple[object, ...]:
    versions = index.list_versions(max_keys=10_000)
    return (
        [(v.key, v.version_id, v.is_latest, v.etag, v.acl) for v in versions.entries],
        [v.key for v in index.list_objects(max_keys=10_000).entries],
        index.usage(),
        [(u.upload_id, u.key) for u in index.list_uploads().uploads],
        {u.upload_id: index.get_parts(u.upload_id) for u in index.list_uploads().uploads},
        {v.key: index.get_tags(v.key) for v in index.list_objects(max_keys=10_000).entries},
    )


def random_history(index: BucketIndex, rng: random.Random, steps: int) -> None:
    keys = [f"k{i}" for i in range(6)]
    for step in range(steps):
        key = rng.choice(keys)
        action = rng.random()
        versioning = rng.choice(["", "Enabled", "Suspended"])
        if action < 0.45:
            vid = f"v{step}" if versioning == "Enabled" else "null"
            marker = rng.random() < 0.15
            index.put_version(
                ObjectVersion(key, vid, 1.0 + step, "" if marker else f"e{step}",
                              0 if marker else step, "" if marker else f"b{step}",
                              delete_marker=marker),
                versioning,
            )  # fmt: skip
        elif action < 0.6:
            found = index.list_versions(prefix=key, max_keys=100).entries
            if found:
                index.delete_version(key, rng.choice(found).version_id)
        elif action < 0.7:
            index.set_tags(key, None, {"step": str(step)})
        elif action < 0.8:
            index.set_acl(key, None, rng.choice(["private", "public-read"]))
        elif action < 0.9:
            upload = f"u{step}"
            index.create_upload(upload, key, float(step), {})
            for number in range(1, rng.randint(1, 3) + 1):
                index.put_part(upload, number, f"p{number}", 5, f"pb{step}-{number}", 1.0)
        else:
            uploads = index.list_uploads().uploads
            if uploads:
                index.delete_upload(rng.choice(uploads).upload_id)


@pytest.mark.parametrize("seed", range(8))
def test_index_replicas_converge_whatever_the_order(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    a, b, c = (BucketIndex(tmp_path / f"{n}.sqlite") for n in "abc")
    try:
        random_history(a, rng, 80)
        random_history(b, rng, 40)  # b also took writes of its own
        shipped(a, b, rng)
        shipped(b, c, rng)
        shipped(b, a, rng)
        shipped(a, c, rng)  # c sees a's rows twice: merging is idempotent
        assert index_state(a) == index_state(b) == index_state(c)
        assert all_rows(a).keys() == all_rows(c).keys()
    finally:
        for index in (a, b, c):
            index.close()


def test_a_deleted_version_is_not_brought_back_by_an_old_copy(tmp_path: Path) -> None:
    a, b = BucketIndex(tmp_path / "a.sqlite"), BucketIndex(tmp_path / "b.sqlite")
    try:
        a.put_version(ObjectVersion("k", "null", 1.0, "e", 3, "blob-1"), "")
        b.merge(all_rows(a))  # b has the live row
        removed = a.delete_version("k", "null")
        assert removed is not None
        a.merge(all_rows(b))  # the old live copy arrives after the deletion
        assert a.get("k") is None
        b.merge(all_rows(a))
        assert b.get("k") is None
        assert a.usage() == b.usage() == (0, 0)
        assert a.is_empty()
    finally:
        a.close()
        b.close()


def test_an_overwritten_null_version_comes_back_as_garbage(tmp_path: Path) -> None:
    index = BucketIndex(tmp_path / "i.sqlite")
    try:
        old = rows.version_row(ObjectVersion("k", "null", 1.0, "e1", 3, "blob-old"), 100)
        new = rows.version_row(ObjectVersion("k", "null", 2.0, "e2", 4, "blob-new"), 200)
        assert index.merge({"versions": [new]}) == {}
        garbage = index.merge({"versions": [old]})  # a late, older write loses
        assert [r[9] for r in garbage["versions"]] == ["blob-old"]
        found = index.get("k")
        assert found is not None
        assert found.blob == "blob-new"
        again = index.merge({"versions": [new]})  # a retry changes nothing
        assert again == {}
    finally:
        index.close()


def test_rows_since_pages_by_change_number(tmp_path: Path) -> None:
    index = BucketIndex(tmp_path / "i.sqlite")
    try:
        for n in range(25):
            index.put_version(ObjectVersion(f"k{n:02}", "null", 1.0, "e", 1, f"b{n}"), "")
        seen: list[str] = []
        point = 0
        while point < index.last_change():
            batch, point = index.rows_since(point, limit=10)
            seen += [r[0] for r in batch.get("versions", [])]
        assert sorted(seen) == [f"k{n:02}" for n in range(25)]
        index.put_version(ObjectVersion("k00", "null", 2.0, "e", 1, "b-new"), "")
        batch, _ = index.rows_since(point)
        assert [r[0] for r in batch["versions"]] == ["k00"]
    finally:
        index.close()


def catalog_state(db: CatalogDB) -> tuple[object, ...]:
    return (
        db.list_buckets(),
        [(c.access_key, dict(c.grants)) for c in db.list_credentials()],
        {b.name: db.get_config(b.name, "policy") for b in db.list_buckets()},
    )


def test_catalog_replicas_converge_and_a_recreated_bucket_is_new(tmp_path: Path) -> None:
    rng = random.Random(7)
    a, b = CatalogDB(tmp_path / "a.sqlite"), CatalogDB(tmp_path / "b.sqlite")
    try:
        a.create_bucket("photos", "alice")
        a.set_config("photos", "policy", "{}")
        a.create_credential("APP", "secret", grants={"photos": "RW"})
        shipped(a, b, rng)
        a.drop_bucket("photos")
        a.create_bucket("photos", "bob")
        a.set_versioning("photos", "Enabled")
        b.set_acl("photos", "public-read")  # b changes the old incarnation meanwhile
        shipped(b, a, rng)
        shipped(a, b, rng)
        assert catalog_state(a) == catalog_state(b)
        bucket = a.get_bucket("photos")
        assert bucket is not None
        assert (bucket.owner, bucket.versioning, bucket.acl) == ("bob", "Enabled", "private")
        assert a.get_config("photos", "policy") is None
        app = a.get_credential("APP")
        assert app is not None
        assert dict(app.grants) == {}
    finally:
        a.close()
        b.close()


def test_the_first_creator_of_a_bucket_wins_on_every_replica(tmp_path: Path) -> None:
    a, b = CatalogDB(tmp_path / "a.sqlite"), CatalogDB(tmp_path / "b.sqlite")
    try:
        a.create_bucket("shared", "alice")
        b.create_bucket("shared", "bob")  # two gateways, one name, at once
        a.merge(all_rows(b))
        b.merge(all_rows(a))
        owners = {db.get_bucket("shared").owner for db in (a, b)}  # type: ignore[union-attr]
        assert owners == {"alice"}
    finally:
        a.close()
        b.close()
