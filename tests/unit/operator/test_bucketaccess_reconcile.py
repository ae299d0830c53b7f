"""The BucketAccess reconciler against fakes of the operator's own wrappers: one key granted
per claim, Secrets for envFrom, keys stable across resyncs, rotation with a grace period,
revocation, and the waits and refusals a person can act on."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nimbus_operator.errors import InvalidSpec, RetryLater
from nimbus_operator.models.bucketaccess import BucketAccessStatus
from nimbus_operator.reconcilers.bucket.report import Report
from nimbus_operator.reconcilers.bucketaccess import (
    readiness,
    reconcile_access,
    revoke_access,
    rotation_pending,
)

from tests.support.tls import make_tls_files
from tests.unit.operator.bucket_fakes import (
    STORAGE_API,
    FakeKube,
    FakeStores,
    object_store,
    serve_https,
    with_status,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ROTATE = "storage.nimbus.dev/rotate"


def ready_bucket(kube: FakeKube, name: str, s3_name: str, store: str = "store") -> None:
    kube.put(
        {
            "kind": "Bucket",
            "metadata": {"name": name, "namespace": "team"},
            "spec": {"storeRef": {"name": store}},
            "status": {
                "bucketName": s3_name,
                "conditions": [{"type": "Ready", "status": "True", "message": "ok"}],
            },
        }
    )


@pytest.fixture
def kube() -> FakeKube:
    kube = FakeKube()
    object_store(kube, "team")
    ready_bucket(kube, "logs", "team-logs")
    ready_bucket(kube, "dumps", "team-dumps")
    return kube


@pytest.fixture
def stores() -> FakeStores:
    return FakeStores()


def access_body(kube: FakeKube, claims: list[tuple[str, str, str]], **spec: Any) -> dict[str, Any]:
    return kube.put(
        {
            "apiVersion": STORAGE_API,
            "kind": "BucketAccess",
            "metadata": {"name": "app", "namespace": "team", "generation": 1},
            "spec": {
                "bucketClaims": [
                    {"bucketClaimName": b, "accessMode": m, "accessSecretName": s}
                    for b, m, s in claims
                ],
                **spec,
            },
        }
    )


CLAIMS = [("logs", "ReadOnly", "logs-ro"), ("dumps", "WriteOnly", "dumps-wo")]


def run(
    kube: FakeKube, stores: FakeStores, body: dict[str, Any], now: datetime = NOW
) -> tuple[Report, dict[str, Any]]:
    report = reconcile_access(kube, body, stores.connect, now)
    BucketAccessStatus.from_body(
        {"status": {k: v for k, v in report.fields.items() if v is not None}}
    )
    return report, with_status(kube, body, report.fields)


def secret(kube: FakeKube, name: str) -> dict[str, str]:
    found = kube.get("v1", "Secret", name, "team")
    assert found is not None
    return {k: base64.b64decode(v).decode() for k, v in found["data"].items()}


def test_one_key_reaches_every_claim_with_its_mode_through_a_secret_each(
    kube: FakeKube, stores: FakeStores
) -> None:
    report, body = run(kube, stores, access_body(kube, CLAIMS))
    key = report.fields["accessKeyId"]
    credential = stores["team/store"].credentials[key]
    assert credential["grants"] == {"team-logs": "RO", "team-dumps": "WO"}
    logs, dumps = secret(kube, "logs-ro"), secret(kube, "dumps-wo")
    assert logs["AWS_ACCESS_KEY_ID"] == dumps["AWS_ACCESS_KEY_ID"] == key
    assert logs["AWS_SECRET_ACCESS_KEY"] == credential["secretKey"]
    assert (logs["BUCKET_NAME"], dumps["BUCKET_NAME"]) == ("team-logs", "team-dumps")
    assert logs["AWS_ENDPOINT_URL"] == "http://store.team.svc"
    assert report.fields["readyToUse"] is True
    assert report.fields["lastRotationTime"] == "2024-05-01T12:00:00Z"
    assert [item["store"] for item in report.fields["accessedBuckets"]] == ["team/store"] * 2
    assert [reason for _, reason, _ in report.events] == ["AccessKeyIssued"]
    assert not rotation_pending(body)


def test_a_resync_keeps_the_key_and_writes_nothing_to_the_store(
    kube: FakeKube, stores: FakeStores
) -> None:
    report, body = run(kube, stores, access_body(kube, CLAIMS))
    before = secret(kube, "logs-ro")
    writes, applied = list(stores["team/store"].writes), len(kube.applied)
    again, _ = run(kube, stores, body, NOW + timedelta(hours=1))
    assert len(kube.applied) == applied
    assert again.fields["accessKeyId"] == report.fields["accessKeyId"]
    assert again.fields["lastRotationTime"] == report.fields["lastRotationTime"]
    assert secret(kube, "logs-ro") == before
    assert stores["team/store"].writes == writes
    assert again.events == []


@pytest.mark.parametrize("trigger", ["annotation", "requestedAt"])
def test_rotation_keeps_the_old_key_for_the_grace_period_then_revokes_it(
    kube: FakeKube, stores: FakeStores, trigger: str
) -> None:
    report, body = run(kube, stores, access_body(kube, CLAIMS, rotation={"gracePeriod": "5m"}))
    first = report.fields["accessKeyId"]
    if trigger == "annotation":
        body["metadata"]["annotations"] = {ROTATE: "now"}
    else:
        body["spec"]["rotation"]["requestedAt"] = "2024-05-01T12:30:00Z"
    assert rotation_pending(body)
    later = NOW + timedelta(minutes=30)
    rotated, body = run(kube, stores, body, later)
    second = rotated.fields["accessKeyId"]
    credentials = stores["team/store"].credentials
    assert second != first
    assert {first, second} <= set(credentials)
    assert rotated.fields["previousAccessKeyId"] == first
    assert rotated.fields["previousKeyExpiresAt"] == "2024-05-01T12:35:00Z"
    assert rotated.fields["lastRotationTime"] == "2024-05-01T12:30:00Z"
    assert secret(kube, "logs-ro")["AWS_ACCESS_KEY_ID"] == second
    assert [reason for _, reason, _ in rotated.events] == ["AccessKeyRotated"]

    within, body = run(kube, stores, body, later + timedelta(minutes=4))
    assert first in credentials
    assert within.fields["previousAccessKeyId"] == first
    after, _ = run(kube, stores, body, later + timedelta(minutes=5))
    assert first not in credentials
    assert after.fields["previousAccessKeyId"] is None
    assert after.fields["accessKeyId"] == second
    assert [reason for _, reason, _ in after.events] == ["PreviousKeyRevoked"]


def test_a_zero_grace_period_revokes_the_old_key_at_once(
    kube: FakeKube, stores: FakeStores
) -> None:
    report, body = run(kube, stores, access_body(kube, CLAIMS, rotation={"gracePeriod": "0s"}))
    body["metadata"]["annotations"] = {ROTATE: "1"}
    rotated, _ = run(kube, stores, body)
    assert report.fields["accessKeyId"] not in stores["team/store"].credentials
    assert rotated.fields["previousAccessKeyId"] is None


def test_a_claim_taken_away_loses_its_secret_and_its_grant(
    kube: FakeKube, stores: FakeStores
) -> None:
    _, body = run(kube, stores, access_body(kube, CLAIMS))
    body["spec"]["bucketClaims"] = body["spec"]["bucketClaims"][:1]
    report, _ = run(kube, stores, body)
    assert kube.get("v1", "Secret", "dumps-wo", "team") is None
    grants = stores["team/store"].credentials[report.fields["accessKeyId"]]["grants"]
    assert grants == {"team-logs": "RO"}


def test_keys_leave_a_store_no_claim_reaches_any_more(kube: FakeKube, stores: FakeStores) -> None:
    object_store(kube, "team", "archive")
    ready_bucket(kube, "cold", "team-cold", store="archive")
    _, body = run(kube, stores, access_body(kube, [("cold", "ReadWrite", "cold")]))
    key = body["status"]["accessKeyId"]
    assert key in stores["team/archive"].credentials
    body["spec"]["bucketClaims"] = [
        {"bucketClaimName": "logs", "accessMode": "ReadWrite", "accessSecretName": "logs"}
    ]
    run(kube, stores, body)
    assert key not in stores["team/archive"].credentials
    assert key in stores["team/store"].credentials


@pytest.mark.parametrize(
    ("change", "reason", "words"),
    [
        ("missing", "BucketNotFound", "Bucket team/logs does not exist"),
        ("not-ready", "BucketNotReady", "Bucket logs is not ready yet: quota refused"),
    ],
)
def test_a_bucket_not_there_or_not_ready_is_waited_for(
    kube: FakeKube, stores: FakeStores, change: str, reason: str, words: str
) -> None:
    if change == "missing":
        del kube.objects[("Bucket", "team", "logs")]
    else:
        bucket = kube.objects[("Bucket", "team", "logs")]
        bucket["status"]["conditions"] = [
            {"type": "Ready", "status": "False", "message": "quota refused"}
        ]
    with pytest.raises(RetryLater) as waiting:
        run(kube, stores, access_body(kube, CLAIMS))
    assert waiting.value.reason == reason
    assert words in str(waiting.value)
    assert str(waiting.value).startswith("spec.bucketClaims[0]:")


def test_a_secret_of_someone_else_is_not_taken_over(kube: FakeKube, stores: FakeStores) -> None:
    kube.put({"kind": "Secret", "metadata": {"name": "logs-ro", "namespace": "team"}})
    with pytest.raises(InvalidSpec) as refused:
        run(kube, stores, access_body(kube, CLAIMS))
    assert refused.value.reason == "SecretNameInUse"
    assert "spec.bucketClaims[0].accessSecretName" in str(refused.value)


def test_deletion_revokes_every_key_even_when_the_buckets_are_gone(
    kube: FakeKube, stores: FakeStores
) -> None:
    report, body = run(kube, stores, access_body(kube, CLAIMS, rotation={"gracePeriod": "1h"}))
    body["metadata"]["annotations"] = {ROTATE: "1"}
    _, body = run(kube, stores, body)
    del kube.objects[("Bucket", "team", "logs")]
    del kube.objects[("Bucket", "team", "dumps")]
    assert stores["team/store"].credentials
    events = revoke_access(kube, body, stores.connect)
    assert [reason for _, reason, _ in events] == ["CredentialsRevoked"]
    assert stores["team/store"].credentials == {}
    assert report.fields["accessKeyId"] in events[0][2]


def test_readiness_follows_the_ready_condition() -> None:
    ok = {"conditions": [{"type": "Ready", "status": "True", "message": "fine"}]}
    assert readiness(ok) == {"readyToUse": True, "error": None}
    bad = {"conditions": [{"type": "Ready", "status": "False", "message": "no bucket"}]}
    assert readiness(bad) == {"readyToUse": False, "error": "no bucket"}
    assert readiness({}) == {}


def test_a_bucket_gone_does_not_prolong_a_previous_key(kube: FakeKube, stores: FakeStores) -> None:
    report, body = run(kube, stores, access_body(kube, CLAIMS, rotation={"gracePeriod": "1m"}))
    body["metadata"]["annotations"] = {ROTATE: "1"}
    rotated, body = run(kube, stores, body)
    del kube.objects[("Bucket", "team", "logs")]
    with pytest.raises(RetryLater):
        run(kube, stores, body, NOW + timedelta(minutes=2))
    credentials = stores["team/store"].credentials
    assert report.fields["accessKeyId"] not in credentials
    assert rotated.fields["accessKeyId"] in credentials


def test_secrets_of_buckets_in_an_https_store_carry_its_authority(
    kube: FakeKube, stores: FakeStores, tmp_path: Path
) -> None:
    files = make_tls_files(tmp_path, hosts=("store.team.svc",))
    tls = {"tls.crt": files.cert.read_text(), "tls.key": files.key.read_text()}
    serve_https(kube, "team", tls={**tls, "ca.crt": files.ca.read_text()})

    run(kube, stores, access_body(kube, CLAIMS))

    for name in ("logs-ro", "dumps-wo"):
        data = secret(kube, name)
        assert data["AWS_ENDPOINT_URL"] == data["COSI_S3_ENDPOINT"] == "https://store.team.svc"
        assert data["ca.crt"] == data["COSI_CERTIFICATE_AUTHORITY"] == files.ca.read_text()
        assert data["AWS_CA_BUNDLE"] == "/etc/nimbus/bucket-ca/ca.crt"
