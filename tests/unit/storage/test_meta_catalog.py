"""Catalog: buckets, their settings and configuration documents, credentials."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from nimbus_storage.meta.api import Bucket, ObjectVersion
from nimbus_storage.meta.catalog import Catalog
from nimbus_storage.meta.errors import (
    BadBucketName,
    BadGrant,
    BadVersioningState,
    BucketExists,
    BucketNotEmpty,
    CredentialExists,
    NoBucket,
)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    cat = Catalog(tmp_path)
    yield cat
    cat.close()


def an_object(key: str) -> ObjectVersion:
    return ObjectVersion(key, "null", 1.0, "etag", 3, "blob")


def test_create_and_get_bucket(catalog: Catalog) -> None:
    created = catalog.create_bucket("photos", "alice", region="eu-1")
    assert catalog.get_bucket("photos") == created
    assert (created.owner, created.versioning, created.acl, created.region) == (
        "alice",
        "",
        "private",
        "eu-1",
    )
    assert catalog.get_bucket("nope") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        created.owner = "bob"  # type: ignore[misc]


def test_create_twice(catalog: Catalog) -> None:
    catalog.create_bucket("b1", "alice")
    with pytest.raises(BucketExists) as yours:
        catalog.create_bucket("b1", "alice")
    assert yours.value.owned_by_caller
    with pytest.raises(BucketExists) as theirs:
        catalog.create_bucket("b1", "bob")
    assert not theirs.value.owned_by_caller


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden"])
def test_unsafe_bucket_names_are_refused(catalog: Catalog, name: str) -> None:
    with pytest.raises(BadBucketName):
        catalog.create_bucket(name, "alice")


def test_list_buckets_by_owner(catalog: Catalog) -> None:
    catalog.create_bucket("zeta", "alice")
    catalog.create_bucket("alpha", "alice")
    catalog.create_bucket("mid", "bob")
    assert [b.name for b in catalog.list_buckets()] == ["alpha", "mid", "zeta"]
    assert [b.name for b in catalog.list_buckets("alice")] == ["alpha", "zeta"]
    assert catalog.list_buckets("carol") == []


def test_settings(catalog: Catalog) -> None:
    catalog.create_bucket("b", "alice")
    catalog.set_versioning("b", "Enabled")
    catalog.set_quota("b", 1000, 10)
    catalog.set_acl("b", "public-read")
    bucket = catalog.get_bucket("b")
    assert bucket is not None
    assert (bucket.versioning, bucket.quota_bytes, bucket.quota_objects, bucket.acl) == (
        "Enabled",
        1000,
        10,
        "public-read",
    )
    catalog.set_quota("b", None, None)
    lifted = catalog.get_bucket("b")
    assert lifted is not None
    assert (lifted.quota_bytes, lifted.quota_objects) == (None, None)
    with pytest.raises(BadVersioningState):
        catalog.set_versioning("b", "Off")
    with pytest.raises(NoBucket):
        catalog.set_acl("missing", "private")


def test_config_documents(catalog: Catalog) -> None:
    catalog.create_bucket("b", "alice")
    assert catalog.get_config("b", "policy") is None
    catalog.set_config("b", "policy", '{"Version": "2012-10-17"}')
    catalog.set_config("b", "cors", "<CORSConfiguration/>")
    assert catalog.get_config("b", "policy") == '{"Version": "2012-10-17"}'
    catalog.set_config("b", "policy", None)
    assert catalog.get_config("b", "policy") is None
    assert catalog.get_config("b", "cors") == "<CORSConfiguration/>"
    with pytest.raises(NoBucket):
        catalog.set_config("missing", "cors", "x")


def test_index_is_cached_and_needs_a_bucket(catalog: Catalog) -> None:
    catalog.create_bucket("b", "alice")
    assert catalog.index("b") is catalog.index("b")
    with pytest.raises(NoBucket):
        catalog.index("missing")


def test_delete_bucket_requires_empty(catalog: Catalog) -> None:
    catalog.create_bucket("b", "alice")
    catalog.index("b").put_version(an_object("k"), "")
    with pytest.raises(BucketNotEmpty):
        catalog.delete_bucket("b")
    catalog.index("b").delete_version("k", "null")
    catalog.index("b").create_upload("u", "k", 1.0, {})
    with pytest.raises(BucketNotEmpty):
        catalog.delete_bucket("b")
    catalog.index("b").delete_upload("u")
    catalog.delete_bucket("b")
    assert catalog.get_bucket("b") is None
    assert list(catalog.indexes_dir.iterdir()) == []
    with pytest.raises(NoBucket):
        catalog.delete_bucket("b")


def test_recreated_bucket_starts_clean(catalog: Catalog) -> None:
    catalog.create_bucket("b", "alice")
    catalog.set_config("b", "policy", "{}")
    catalog.create_credential("app", "s", grants={"b": "RW"})
    catalog.delete_bucket("b")
    catalog.create_bucket("b", "bob")
    assert catalog.get_config("b", "policy") is None
    assert catalog.index("b").is_empty()
    app = catalog.get_credential("app")
    assert app is not None
    assert dict(app.grants) == {}  # the old bucket's grant did not carry over


def test_catalog_survives_reopening(tmp_path: Path) -> None:
    first = Catalog(tmp_path)
    first.create_bucket("b", "alice")
    first.index("b").put_version(an_object("k"), "")
    first.create_credential("AK", "SK")
    first.close()
    again = Catalog(tmp_path)
    assert again.get_bucket("b") is not None
    assert again.index("b").usage() == (3, 1)
    assert again.get_credential("AK") is not None
    again.close()


def test_credentials(catalog: Catalog) -> None:
    user = catalog.create_credential("AKUSER", "secret", description="alice")
    admin = catalog.create_credential("AKADMIN", "s2", is_admin=True)
    app = catalog.create_credential("AKAPP", "s3", grants={"logs": "WO", "web": "RO"})
    assert catalog.get_credential("AKUSER") == user
    assert catalog.get_credential("AKADMIN") == admin
    fetched = catalog.get_credential("AKAPP")
    assert fetched == app
    assert fetched is not None
    assert dict(fetched.grants) == {"logs": "WO", "web": "RO"}
    assert not user.grants
    assert admin.is_admin
    assert [c.access_key for c in catalog.list_credentials()] == ["AKADMIN", "AKAPP", "AKUSER"]
    assert catalog.delete_credential("AKAPP")
    assert not catalog.delete_credential("AKAPP")
    assert catalog.get_credential("AKAPP") is None


def test_credential_errors(catalog: Catalog) -> None:
    catalog.create_credential("AK", "s")
    with pytest.raises(CredentialExists):
        catalog.create_credential("AK", "other")
    with pytest.raises(BadGrant):
        catalog.create_credential("AK2", "s", grants={"b": "ADMIN"})
    assert catalog.get_credential("AK2") is None


def test_a_bucket_keeps_the_storage_policy_it_was_created_with(catalog: Catalog) -> None:
    created = catalog.create_bucket("cold-data", "alice", storage_policy="cold")
    assert created.storage_policy == "cold"
    catalog.set_versioning("cold-data", "Enabled")
    fetched = catalog.get_bucket("cold-data")
    assert fetched is not None
    assert (fetched.storage_policy, fetched.versioning) == ("cold", "Enabled")
    assert catalog.create_bucket("plain", "alice").storage_policy == ""


def test_a_catalog_from_before_storage_policies_is_upgraded(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "catalog.sqlite")
    old.executescript(
        """
        CREATE TABLE buckets (
            name TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL,
            versioning TEXT NOT NULL, quota_bytes INTEGER, quota_objects INTEGER,
            acl TEXT NOT NULL, region TEXT NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO buckets VALUES ('legacy', 'alice', 1.0, 'Enabled', 10, NULL, 'private', '');
        PRAGMA user_version = 1;
        """
    )
    old.close()
    catalog = Catalog(tmp_path)
    try:
        legacy = catalog.get_bucket("legacy")
        assert legacy is not None
        assert (legacy.owner, legacy.versioning, legacy.quota_bytes) == ("alice", "Enabled", 10)
        assert legacy.storage_policy == ""
        catalog.create_bucket("new", "bob", storage_policy="ec")
        assert [b.storage_policy for b in catalog.list_buckets()] == ["", "ec"]
    finally:
        catalog.close()
    (version,) = (
        sqlite3.connect(tmp_path / "catalog.sqlite").execute("PRAGMA user_version").fetchone()
    )
    assert version == 3
    Catalog(tmp_path).close()  # opening an upgraded catalog again changes nothing


def test_a_catalog_from_a_newer_nimbus_is_refused(tmp_path: Path) -> None:
    future = sqlite3.connect(tmp_path / "catalog.sqlite")
    future.execute("PRAGMA user_version = 99")
    future.close()
    with pytest.raises(RuntimeError, match="newer Nimbus"):
        Catalog(tmp_path)


def test_a_catalog_with_credentials_grants_and_documents_is_upgraded(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "catalog.sqlite")
    old.executescript(
        """
        CREATE TABLE buckets (
            name TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL,
            versioning TEXT NOT NULL, quota_bytes INTEGER, quota_objects INTEGER,
            acl TEXT NOT NULL, region TEXT NOT NULL, storage_policy TEXT NOT NULL DEFAULT ''
        ) WITHOUT ROWID;
        CREATE TABLE bucket_configs (
            bucket TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (bucket, kind)
        ) WITHOUT ROWID;
        CREATE TABLE credentials (
            access_key TEXT PRIMARY KEY, secret_key TEXT NOT NULL, is_admin INTEGER NOT NULL,
            description TEXT NOT NULL, created REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE grants (
            access_key TEXT NOT NULL, bucket TEXT NOT NULL, permission TEXT NOT NULL,
            PRIMARY KEY (access_key, bucket)
        ) WITHOUT ROWID;
        INSERT INTO buckets VALUES ('logs', 'alice', 5.0, '', NULL, 7, 'private', 'r', 'cold');
        INSERT INTO bucket_configs VALUES ('logs', 'policy', '{"Version": "2012-10-17"}');
        INSERT INTO credentials VALUES ('ROOT', 'root-secret', 1, 'root', 1.0);
        INSERT INTO credentials VALUES ('APP', 'app-secret', 0, 'app', 2.0);
        INSERT INTO grants VALUES ('APP', 'logs', 'WO');
        PRAGMA user_version = 2;
        """
    )
    old.close()
    catalog = Catalog(tmp_path)
    try:
        logs = catalog.get_bucket("logs")
        assert logs == Bucket("logs", "alice", 5.0, "", None, 7, "private", "r", "cold")
        assert catalog.get_config("logs", "policy") == '{"Version": "2012-10-17"}'
        app = catalog.get_credential("APP")
        assert app is not None
        assert (app.secret_key, app.is_admin, dict(app.grants)) == (
            "app-secret",
            False,
            {"logs": "WO"},
        )
        assert [c.access_key for c in catalog.list_credentials()] == ["APP", "ROOT"]
        catalog.delete_bucket("logs")
        app = catalog.get_credential("APP")
        assert app is not None
        assert dict(app.grants) == {}
    finally:
        catalog.close()
