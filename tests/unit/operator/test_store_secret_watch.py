"""Secrets ObjectStores name (the SSE key store, the TLS certificate): their creation, change or
deletion reconciles the stores naming them at once (an annotation marks each store, with a
SecretChanged Event), not at the next resync; Secrets no store names are not looked at."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, cast

import kopf
import pytest
from nimbus_operator.handlers import objectstore, store_secrets
from nimbus_operator.reconcilers.objectstore import reconcile_store
from nimbus_operator.reconcilers.objectstore.secret_watch import (
    SECRET_CHANGE_ANNOTATION,
    mark_stores,
    pending_change,
    referenced_secrets,
    secret_index_entries,
)
from nimbus_operator.settings import OperatorSettings

from tests.support.tls import TlsFiles, make_tls_files
from tests.unit.operator.bucket_fakes import FakeKube

Posted = list[tuple[str, str, str, str]]
"""(store name, type, reason, message)"""


def store(
    kube: FakeKube, name: str, *, keys: str | None = None, tls: str | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodes": {"count": 3}, "gateway": {}}
    if keys:
        spec["encryption"] = {"keySecretName": keys}
    if tls:
        spec["gateway"]["tls"] = {"secretName": tls}
    return kube.put(
        {
            "apiVersion": "storage.nimbus.dev/v1alpha1",
            "kind": "ObjectStore",
            "metadata": {"name": name, "namespace": "media", "generation": 1},
            "spec": spec,
        }
    )


def mark_of(kube: FakeKube, name: str) -> str | None:
    found = kube.get("storage.nimbus.dev/v1alpha1", "ObjectStore", name, "media")
    assert found is not None
    return (found["metadata"].get("annotations") or {}).get(SECRET_CHANGE_ANNOTATION)


# -- which Secrets a store references, as the index keeps them --------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, ()),
        (None, ()),
        ({"encryption": {"keySecretName": "k"}}, ("k",)),
        ({"gateway": {"tls": {"secretName": "t"}}}, ("t",)),
        (
            {"encryption": {"keySecretName": "k"}, "gateway": {"tls": {"secretName": "t"}}},
            ("k", "t"),
        ),
        ({"encryption": {"keySecretName": "s"}, "gateway": {"tls": {"secretName": "s"}}}, ("s",)),
        ({"encryption": "junk", "gateway": {"tls": {"secretName": ""}}}, ()),
        ({"gateway": {"tls": None, "trustForwardedProto": True}}, ()),
    ],
)
def test_the_referenced_secrets_come_from_the_raw_spec(
    spec: dict[str, Any] | None, expected: tuple[str, ...]
) -> None:
    assert referenced_secrets(spec) == expected


def test_the_index_keys_each_secret_by_the_stores_namespace() -> None:
    spec = {"encryption": {"keySecretName": "k"}, "gateway": {"tls": {"secretName": "t"}}}
    assert secret_index_entries("media", "photos", spec) == {
        ("media", "k"): "photos",
        ("media", "t"): "photos",
    }
    assert secret_index_entries("media", "plain", {}) == {}
    assert secret_index_entries(None, "odd", spec) == {}


# -- marking the stores (the reconciler layer) -------------------------------------------------


def test_every_store_naming_the_secret_is_marked_once_per_revision_with_an_event() -> None:
    kube = FakeKube()
    store(kube, "photos", tls="shared")
    store(kube, "videos", keys="shared", tls="videos-tls")
    store(kube, "stale")  # the index still lists it: its spec no longer names the Secret

    marked = mark_stores(
        kube,
        "media",
        "shared",
        revision="41",
        change="ADDED",
        stores=["videos", "photos", "stale", "gone"],
    )

    assert [found["metadata"]["name"] for found, _ in marked] == ["photos", "videos"]
    assert {event for _, event in marked} == {
        ("Normal", "SecretChanged", 'Secret "shared" was created: reconciling the store now.')
    }
    assert mark_of(kube, "photos") == mark_of(kube, "videos") == "shared@41"
    assert mark_of(kube, "stale") is None
    again = mark_stores(
        kube, "media", "shared", revision="41", change="ADDED", stores=["photos", "videos"]
    )
    assert again == []
    changed = mark_stores(
        kube, "media", "shared", revision="42", change="MODIFIED", stores=["photos"]
    )
    assert [event[2] for _, event in changed] == [
        'Secret "shared" changed: reconciling the store now.'
    ]
    assert mark_of(kube, "photos") == "shared@42"


def test_a_store_being_deleted_is_not_marked() -> None:
    kube = FakeKube()
    store(kube, "photos", tls="t")["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"

    assert mark_stores(kube, "media", "t", revision="1", change="DELETED", stores=["photos"]) == []
    assert kube.patched == []


def test_a_mark_is_pending_until_acted_on_and_never_for_a_store_being_deleted() -> None:
    body: dict[str, Any] = {"metadata": {"annotations": {SECRET_CHANGE_ANNOTATION: "t@1"}}}
    assert pending_change(body, None) == "t@1"
    assert pending_change(body, "t@1") is None
    assert pending_change(body, "t@0") == "t@1"
    assert pending_change({"metadata": {}}, None) is None
    body["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    assert pending_change(body, None) is None


def call(handler: Any, **kwargs: Any) -> None:
    """Call a kopf handler with the arguments it reads."""
    handler(**kwargs)


# -- the handlers ------------------------------------------------------------------------------


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> Posted:
    events: Posted = []

    def record(body: Any, *, type: str, reason: str, message: str = "") -> None:
        events.append((body["metadata"]["name"], type, reason, message))

    monkeypatch.setattr(kopf, "event", record)
    return events


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch) -> FakeKube:
    fake = FakeKube()
    monkeypatch.setattr(store_secrets, "kube", lambda: fake)
    return fake


def secret_event(kind: str | None, name: str, revision: str = "7") -> dict[str, Any]:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "media", "resourceVersion": revision},
    }
    return {
        "event": {"type": kind, "object": body},
        "body": kopf.Body(cast(kopf.RawBody, body)),
        "namespace": "media",
        "name": name,
    }


def test_only_secrets_a_store_references_pass_the_filter() -> None:
    index = {("media", "photos-tls"): ["photos"]}

    assert store_secrets._referenced(
        namespace="media", name="photos-tls", object_store_secrets=index
    )
    assert not store_secrets._referenced(
        namespace="media", name="unrelated", object_store_secrets=index
    )
    assert not store_secrets._referenced(
        namespace="other", name="photos-tls", object_store_secrets=index
    )


def test_a_created_secret_marks_its_stores_and_posts_secret_changed_on_each(
    kube: FakeKube, posted: Posted
) -> None:
    store(kube, "photos", tls="photos-tls")
    index = {("media", "photos-tls"): ["photos"]}

    call(
        store_secrets.referenced_secret_changed,
        **secret_event("ADDED", "photos-tls"),
        object_store_secrets=index,
    )

    assert mark_of(kube, "photos") == "photos-tls@7"
    assert posted == [
        (
            "photos",
            "Normal",
            "SecretChanged",
            'Secret "photos-tls" was created: reconciling the store now.',
        )
    ]


def test_the_listing_a_watch_starts_with_is_no_change(kube: FakeKube, posted: Posted) -> None:
    store(kube, "photos", tls="photos-tls")

    call(
        store_secrets.referenced_secret_changed,
        **secret_event(None, "photos-tls"),
        object_store_secrets={("media", "photos-tls"): ["photos"]},
    )

    assert mark_of(kube, "photos") is None
    assert posted == []


@pytest.fixture
def reconciled(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    calls: list[str] = []
    monkeypatch.setattr(
        objectstore, "_reconcile", lambda body, patch: calls.append(body["metadata"]["name"])
    )
    objectstore._handled_changes.clear()
    yield calls
    objectstore._handled_changes.clear()


def store_body(mark: str | None) -> kopf.Body:
    annotations = {SECRET_CHANGE_ANNOTATION: mark} if mark else {}
    raw: Any = {
        "apiVersion": "storage.nimbus.dev/v1alpha1",
        "kind": "ObjectStore",
        "metadata": {
            "name": "photos",
            "namespace": "media",
            "uid": "u-1",
            "annotations": annotations,
        },
        "spec": {},
    }
    return kopf.Body(raw)


def test_the_store_reconciles_once_for_each_new_mark(reconciled: list[str]) -> None:
    def event(mark: str | None) -> None:
        body = store_body(mark)
        if objectstore._secret_change_pending(body=body):
            call(objectstore.object_store_secret_changed, body=body, patch=kopf.Patch())

    event(None)
    event("t@1")
    event("t@1")  # its own status update, or any other event of the store
    event("t@2")

    assert reconciled == ["photos", "photos"]


# -- end to end through the reconciler: the Secret made later rolls the gateways out now -------


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"), hosts=("photos.media.svc",))


def test_a_tls_secret_created_later_marks_the_store_whose_reconcile_rolls_the_gateways_out(
    files: TlsFiles,
) -> None:
    kube = FakeKube()
    body = store(kube, "photos", tls="photos-tls")
    body["metadata"]["uid"] = "uid-photos"
    _design, missing = reconcile_store(kube, body, OperatorSettings())
    assert [event[1] for event in missing.events] == ["TlsSecretMissing"]
    conditions = [
        {"type": t, "status": "True" if holds else "False", "reason": r, "message": m}
        for t, holds, r, m in missing.conditions
    ]
    kube.objects[("ObjectStore", "media", "photos")]["status"] = {"conditions": conditions}
    data = {"tls.crt": files.cert.read_text(), "tls.key": files.key.read_text()}
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": "photos-tls", "namespace": "media", "resourceVersion": "9"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )
    index = secret_index_entries("media", "photos", body["spec"])

    [(marked, event)] = mark_stores(
        kube,
        "media",
        "photos-tls",
        revision="9",
        change="ADDED",
        stores=[index[("media", "photos-tls")]],
    )

    assert event[1] == "SecretChanged"
    assert pending_change(marked, None) == "photos-tls@9"
    _design, found = reconcile_store(kube, marked, OperatorSettings())
    assert [event[1] for event in found.events] == ["TlsSecretFound"]
    assert kube.get("apps/v1", "Deployment", "photos-gateway", "media") is not None


def test_secrets_are_watched_and_the_stores_indexed_by_kopf() -> None:
    registry = kopf.get_default_registry()
    watching = {h.selector.any_name for h in registry._watching.get_all_handlers()}  # type: ignore[union-attr]
    indexing = {str(h.id): h.selector.any_name for h in registry._indexing.get_all_handlers()}  # type: ignore[union-attr]

    assert "secrets" in watching
    assert indexing["object_store_secrets"] == "objectstores"
