"""The Bucket reconciler against fakes of the operator's own wrappers (Kube, AdminClient,
S3Client): what it makes, what it refuses and why, what a resync writes (nothing), deletion."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from nimbus_operator.errors import InvalidSpec, RetryLater
from nimbus_operator.models.bucket import BucketStatus
from nimbus_operator.reconcilers.bucket import delete_bucket, reconcile_bucket
from nimbus_operator.reconcilers.bucket.report import Report
from nimbus_operator.render.bucket_names import owner_access_key

from tests.support.tls import TlsFiles, make_tls_files
from tests.unit.operator.bucket_fakes import (
    FakeKube,
    FakeStores,
    bucket_body,
    object_store,
    serve_https,
    with_status,
)


@pytest.fixture
def kube() -> FakeKube:
    kube = FakeKube()
    object_store(kube, "team")
    return kube


@pytest.fixture
def stores() -> FakeStores:
    return FakeStores()


def reconcile(kube: FakeKube, stores: FakeStores, body: dict[str, Any]) -> Report:
    return reconcile_bucket(kube, body, stores.connect)


def published(kube: FakeKube, stores: FakeStores, body: dict[str, Any]) -> dict[str, Any]:
    """Reconcile, then keep the status as the handler would publish it."""
    report = reconcile(kube, stores, body)
    BucketStatus.from_body({"status": {k: v for k, v in report.fields.items() if v is not None}})
    return with_status(kube, body, report.fields)


def test_a_bucket_is_created_owned_by_its_namespace_with_a_configmap(
    kube: FakeKube, stores: FakeStores
) -> None:
    body = bucket_body(kube, "photos", quota={"maxSize": "1Mi", "maxObjects": 10})
    report = reconcile(kube, stores, body)
    store = stores["team/store"]
    view = store.buckets["team-photos"]
    assert view["owner"] == owner_access_key("team", "team-photos")
    assert view["quota"] == {"maxBytes": 1 << 20, "maxObjects": 10}
    assert report.phase == "Ready"
    assert report.fields["bucketName"] == "team-photos"
    assert report.fields["endpoint"] == "http://store.team.svc"
    assert report.fields["configMapName"] == "photos"
    assert report.fields["ownerSecretName"] is None
    assert report.conditions[0][:2] == ("Ready", True)
    assert [reason for _, reason, _ in report.events] == ["BucketCreated"]
    configmap = kube.get("v1", "ConfigMap", "photos", "team")
    assert configmap is not None
    assert configmap["data"]["BUCKET_NAME"] == "team-photos"
    assert configmap["data"]["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_a_resync_of_a_bucket_as_wanted_writes_nothing_to_the_store(
    kube: FakeKube, stores: FakeStores
) -> None:
    lifecycle = {"rules": [{"id": "tmp", "prefix": "tmp/", "expirationDays": 3}]}
    body = bucket_body(kube, "photos", versioning="Enabled", lifecycle=lifecycle)
    body = published(kube, stores, body)
    store = stores["team/store"]
    writes, applied = list(store.writes), len(kube.applied)
    report = reconcile(kube, stores, body)
    assert store.writes == writes
    assert len(kube.applied) == applied, "nor to the API server"
    assert report.events == []


def test_an_edited_quota_is_sent_to_the_store(kube: FakeKube, stores: FakeStores) -> None:
    body = published(kube, stores, bucket_body(kube, "photos", quota={"maxObjects": 10}))
    body["spec"]["quota"] = {"maxObjects": 2}
    report = reconcile(kube, stores, body)
    assert stores["team/store"].buckets["team-photos"]["quota"]["maxObjects"] == 2
    assert [reason for _, reason, _ in report.events] == ["BucketUpdated"]


def test_a_generated_name_is_stable_and_recorded(kube: FakeKube, stores: FakeStores) -> None:
    body = bucket_body(kube, "logs", generateBucketName="logs")
    first = reconcile(kube, stores, body).fields["bucketName"]
    assert first.startswith("logs-")
    assert reconcile(kube, stores, body).fields["bucketName"] == first
    assert list(stores["team/store"].buckets) == [first]


def test_a_bucket_another_namespace_holds_is_refused_naming_it(
    kube: FakeKube, stores: FakeStores
) -> None:
    object_store(kube, "guest")
    kube.objects[("ObjectStore", "team", "store")]["metadata"]["annotations"] = {
        "storage.nimbus.dev/bucket-namespaces": "guest"
    }
    published(kube, stores, bucket_body(kube, "first", bucketName="shared"))
    guest = bucket_body(
        kube,
        "second",
        "guest",
        storeRef={"name": "store", "namespace": "team"},
        bucketName="shared",
    )
    with pytest.raises(InvalidSpec) as refused:
        reconcile(kube, stores, guest)
    assert refused.value.reason == "BucketAlreadyExists"
    assert "Bucket team/first of namespace team" in str(refused.value)
    assert stores["team/store"].buckets["shared"]["owner"] == owner_access_key("team", "shared")


def test_a_store_of_another_namespace_must_admit_the_bucket(
    kube: FakeKube, stores: FakeStores
) -> None:
    body = bucket_body(kube, "b", "guest", storeRef={"name": "store", "namespace": "team"})
    with pytest.raises(InvalidSpec) as refused:
        reconcile(kube, stores, body)
    assert refused.value.reason == "StoreNotShared"
    assert "storage.nimbus.dev/bucket-namespaces" in str(refused.value)


def test_two_buckets_of_a_namespace_cannot_share_one_s3_bucket(
    kube: FakeKube, stores: FakeStores
) -> None:
    published(kube, stores, bucket_body(kube, "older", bucketName="same"))
    with pytest.raises(InvalidSpec) as refused:
        reconcile(kube, stores, bucket_body(kube, "newer", bucketName="same"))
    assert refused.value.reason == "BucketNameInUse"
    assert "Bucket team/older already holds S3 bucket same" in str(refused.value)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", (InvalidSpec, "StoreNotFound", "ObjectStore team/store does not exist")),
        ("starting", (RetryLater, "StoreNotReady", "1 of 3 storage nodes are ready")),
        ("down", (RetryLater, "GatewayUnavailable", "unreachable")),
    ],
)
def test_a_store_that_cannot_serve_says_why(
    kube: FakeKube, stores: FakeStores, setup: str, expected: tuple[type[Exception], str, str]
) -> None:
    error, reason, words = expected
    if setup == "missing":
        del kube.objects[("ObjectStore", "team", "store")]
    elif setup == "starting":
        object_store(kube, "team", ready=False)
    else:
        stores["team/store"].down = True
    with pytest.raises(error) as raised:
        reconcile(kube, stores, bucket_body(kube, "photos"))
    assert getattr(raised.value, "reason", None) == reason
    assert words in str(raised.value)


def test_an_unknown_storage_policy_names_the_field(kube: FakeKube, stores: FakeStores) -> None:
    with pytest.raises(InvalidSpec) as refused:
        reconcile(kube, stores, bucket_body(kube, "photos", storagePolicy="gold"))
    message = str(refused.value)
    assert message.startswith("spec.storagePolicy gold: no StoragePolicy gold exists")
    assert "Unknown storage policy 'gold'" in message


def test_a_configmap_of_someone_else_is_not_taken_over(kube: FakeKube, stores: FakeStores) -> None:
    kube.put({"kind": "ConfigMap", "metadata": {"name": "photos", "namespace": "team"}})
    with pytest.raises(InvalidSpec) as refused:
        reconcile(kube, stores, bucket_body(kube, "photos"))
    assert refused.value.reason == "ConfigMapNameInUse"


def test_the_owner_secret_is_written_kept_and_revoked_when_no_longer_asked_for(
    kube: FakeKube, stores: FakeStores
) -> None:
    store = stores["team/store"]
    body = published(kube, stores, bucket_body(kube, "photos", ownerSecret={}))
    owner = owner_access_key("team", "team-photos")
    secret = kube.get("v1", "Secret", "photos-owner", "team")
    assert secret is not None
    assert body["status"]["ownerSecretName"] == "photos-owner"
    assert store.credentials[owner]["grants"] == {}
    writes = list(store.writes)
    body = published(kube, stores, body)
    assert store.writes == writes, "a resync keeps the key as it is"
    again = kube.get("v1", "Secret", "photos-owner", "team")
    assert again is not None
    assert again["data"] == secret["data"]

    del body["spec"]["ownerSecret"]
    report = reconcile(kube, stores, body)
    assert report.fields["ownerSecretName"] is None
    assert owner not in store.credentials
    assert kube.get("v1", "Secret", "photos-owner", "team") is None


@pytest.mark.parametrize(
    ("policy", "kept"), [("Delete", False), ("Retain", True)], ids=["delete", "retain"]
)
def test_deletion_follows_the_deletion_policy(
    kube: FakeKube, stores: FakeStores, policy: str, kept: bool
) -> None:
    body = published(kube, stores, bucket_body(kube, "photos", deletionPolicy=policy))
    events = delete_bucket(kube, body, stores.connect)
    assert ("team-photos" in stores["team/store"].buckets) is kept
    assert [reason for _, reason, _ in events] == ["BucketRetained" if kept else "BucketDeleted"]
    if not kept:
        assert ("DELETE bucket purge", "team-photos") in stores["team/store"].writes


def test_deletion_never_touches_a_bucket_it_did_not_hold(
    kube: FakeKube, stores: FakeStores
) -> None:
    published(kube, stores, bucket_body(kube, "older", bucketName="same"))
    newer = bucket_body(kube, "newer", bucketName="same", deletionPolicy="Delete")
    assert delete_bucket(kube, newer, stores.connect) == []
    assert "same" in stores["team/store"].buckets


def test_deletion_waits_for_an_unreachable_store_unless_the_namespace_goes(
    kube: FakeKube, stores: FakeStores
) -> None:
    body = published(kube, stores, bucket_body(kube, "photos", deletionPolicy="Delete"))
    stores["team/store"].down = True
    with pytest.raises(RetryLater):
        delete_bucket(kube, body, stores.connect)
    kube.put(
        {"kind": "Namespace", "metadata": {"name": "team"}, "status": {"phase": "Terminating"}}
    )
    events = delete_bucket(kube, body, stores.connect)
    assert [(kind, reason) for kind, reason, _ in events] == [("Warning", "BucketLeftInStore")]


def test_deletion_after_the_store_is_gone_has_nothing_to_do(
    kube: FakeKube, stores: FakeStores
) -> None:
    body = published(kube, stores, bucket_body(kube, "photos", deletionPolicy="Delete"))
    del kube.objects[("ObjectStore", "team", "store")]
    assert [reason for _, reason, _ in delete_bucket(kube, body, stores.connect)] == ["StoreGone"]


def test_a_store_on_another_port_is_found_there(kube: FakeKube, stores: FakeStores) -> None:
    store = kube.objects[("ObjectStore", "team", "store")]
    store["status"]["endpoint"] = "http://store.team.svc:8080"
    reconcile(kube, stores, bucket_body(kube, "photos"))
    configmap = kube.get("v1", "ConfigMap", "photos", "team")
    assert configmap is not None
    data = configmap["data"]
    assert (data["BUCKET_HOST"], data["BUCKET_PORT"]) == ("store.team.svc", "8080")
    assert data["AWS_ENDPOINT_URL"] == "http://store.team.svc:8080"


# -- a store serving HTTPS: apps get the authority the operator trusts ------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"), hosts=("store.team.svc",))


def tls_data(files: TlsFiles, *, ca: bool = True) -> dict[str, str]:
    data = {"tls.crt": files.cert.read_text(), "tls.key": files.key.read_text()}
    if ca:
        data["ca.crt"] = files.ca.read_text()
    return data


@pytest.mark.parametrize("with_ca", [True, False])
def test_an_https_store_puts_its_authority_in_the_configmap_and_the_owner_secret(
    kube: FakeKube, stores: FakeStores, tls_files: TlsFiles, with_ca: bool
) -> None:
    serve_https(kube, "team", tls=tls_data(tls_files, ca=with_ca))
    body = bucket_body(kube, "photos", ownerSecret={"name": "photos-owner"})

    report = reconcile(kube, stores, body)

    assert report.fields["endpoint"] == "https://store.team.svc"
    # ca.crt when the TLS Secret has one, else tls.crt itself (a self-signed certificate).
    authority = (tls_files.ca if with_ca else tls_files.cert).read_text()
    configmap = kube.get("v1", "ConfigMap", "photos", "team")
    assert configmap is not None
    data = configmap["data"]
    assert (data["AWS_ENDPOINT_URL"], data["BUCKET_PORT"]) == ("https://store.team.svc", "443")
    assert data["ca.crt"] == data["COSI_CERTIFICATE_AUTHORITY"] == authority
    assert data["AWS_CA_BUNDLE"] == "/etc/nimbus/bucket-ca/ca.crt"
    owner = kube.get("v1", "Secret", "photos-owner", "team")
    assert owner is not None
    assert base64.b64decode(owner["data"]["ca.crt"]).decode() == authority


def test_a_new_authority_reaches_the_configmap_and_a_resync_as_wanted_writes_nothing(
    kube: FakeKube, stores: FakeStores, tls_files: TlsFiles, tmp_path: Path
) -> None:
    serve_https(kube, "team", tls=tls_data(tls_files))
    body = published(kube, stores, bucket_body(kube, "photos"))
    kube.applied.clear()
    reconcile(kube, stores, body)
    assert kube.applied == []

    renewed = make_tls_files(tmp_path / "renewed", hosts=("store.team.svc",))
    serve_https(kube, "team", tls=tls_data(renewed))
    reconcile(kube, stores, body)

    configmap = kube.get("v1", "ConfigMap", "photos", "team")
    assert configmap is not None
    assert configmap["data"]["ca.crt"] == renewed.ca.read_text()


def test_a_store_back_on_plain_http_takes_the_authority_away(
    kube: FakeKube, stores: FakeStores, tls_files: TlsFiles
) -> None:
    store = serve_https(kube, "team", tls=tls_data(tls_files))
    body = published(kube, stores, bucket_body(kube, "photos"))
    del store["spec"]["gateway"]
    store["status"]["endpoint"] = "http://store.team.svc"

    reconcile(kube, stores, body)

    configmap = kube.get("v1", "ConfigMap", "photos", "team")
    assert configmap is not None
    assert not {"ca.crt", "AWS_CA_BUNDLE", "COSI_CERTIFICATE_AUTHORITY"} & set(configmap["data"])
