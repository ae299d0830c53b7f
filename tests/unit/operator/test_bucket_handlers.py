"""The Bucket and BucketAccess handlers: errors become statuses a person can act on (never a
crash loop), transient ones a kopf retry, and COSI's readyToUse/error follow Ready."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest
from nimbus_operator.errors import InvalidSpec, RetryLater
from nimbus_operator.handlers import bucket, bucketaccess
from nimbus_operator.reconcilers.bucket.report import Report
from nimbus_operator.reconcilers.bucketaccess.rotation import plan_keys

Posted = list[tuple[str, str, str]]


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> Posted:
    events: Posted = []

    def record(_body: Any, *, type: str, reason: str, message: str = "") -> None:
        events.append((type, reason, message))

    monkeypatch.setattr(kopf, "event", record)
    monkeypatch.setattr(
        kopf,
        "info",
        lambda body, *, reason, message="": record(
            body, type="Normal", reason=reason, message=message
        ),
    )
    monkeypatch.setattr(bucket, "kube", lambda: None)
    monkeypatch.setattr(bucketaccess, "kube", lambda: None)
    return events


def body(kind: str, status: dict[str, Any] | None = None) -> kopf.Body:
    raw: Any = {
        "apiVersion": "storage.nimbus.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": "x", "namespace": "team", "uid": "u-1", "generation": 2},
        "spec": {},
        "status": status or {},
    }
    return kopf.Body(raw)


def call(handler: Any, body: kopf.Body, patch: kopf.Patch) -> None:
    """Call a kopf handler with the arguments these handlers read."""
    handler(body=body, patch=patch)


def ready_condition(patch: kopf.Patch) -> dict[str, Any]:
    return next(c for c in patch.status["conditions"] if c["type"] == "Ready")


def test_an_unreachable_gateway_is_ready_false_pending_and_retried(
    monkeypatch: pytest.MonkeyPatch, posted: Posted
) -> None:
    def down(*_: Any) -> Report:
        raise RetryLater("the store's gateway is unreachable", reason="GatewayUnavailable")

    monkeypatch.setattr(bucket, "reconcile_bucket", down)
    patch = kopf.Patch()
    with pytest.raises(kopf.TemporaryError):
        call(bucket.bucket_changed, body("Bucket"), patch)
    assert patch.status["phase"] == "Pending"
    condition = ready_condition(patch)
    assert (condition["status"], condition["reason"]) == ("False", "GatewayUnavailable")
    assert condition["observedGeneration"] == 2


def test_a_refusal_is_ready_false_with_a_warning_event_and_no_retry(
    monkeypatch: pytest.MonkeyPatch, posted: Posted
) -> None:
    def refused(*_: Any) -> Report:
        raise InvalidSpec("ObjectStore team/nope does not exist", reason="StoreNotFound")

    monkeypatch.setattr(bucket, "reconcile_bucket", refused)
    patch = kopf.Patch()
    call(bucket.bucket_changed, body("Bucket"), patch)
    assert patch.status["phase"] == "Failed"
    assert ready_condition(patch)["reason"] == "StoreNotFound"
    assert posted == [("Warning", "StoreNotFound", "ObjectStore team/nope does not exist")]


def test_a_bad_spec_never_reaches_the_reconciler_as_a_crash(posted: Posted) -> None:
    patch = kopf.Patch()
    broken: Any = dict(body("Bucket"))
    broken["spec"] = {"storeRef": "store"}
    call(bucket.bucket_changed, kopf.Body(broken), patch)
    condition = ready_condition(patch)
    assert condition["reason"] == "InvalidSpec"
    assert condition["message"].startswith("spec.storeRef: must be an object")
    assert [reason for _, reason, _ in posted] == ["InvalidSpec"]


def test_a_bucket_access_that_waits_is_not_ready_to_use(
    monkeypatch: pytest.MonkeyPatch, posted: Posted
) -> None:
    def waiting(*_: Any) -> Report:
        raise RetryLater(
            "spec.bucketClaims[0]: Bucket team/x does not exist", reason="BucketNotFound"
        )

    monkeypatch.setattr(bucketaccess, "reconcile_access", waiting)
    patch = kopf.Patch()
    previous = {"readyToUse": True, "phase": "Ready"}
    with pytest.raises(kopf.TemporaryError):
        call(bucketaccess.bucket_access_changed, body("BucketAccess", previous), patch)
    assert patch.status["readyToUse"] is False
    assert patch.status["error"] == "spec.bucketClaims[0]: Bucket team/x does not exist"
    assert patch.status["phase"] == "Pending"


def test_a_ready_bucket_access_publishes_its_fields_and_events(
    monkeypatch: pytest.MonkeyPatch, posted: Posted
) -> None:
    report = Report(
        "Ready",
        {"readyToUse": True, "error": None, "accessKeyId": "NBAKEY"},
        [("Ready", True, "CredentialsReady", "fine")],
        [("Normal", "AccessKeyIssued", "Access key NBAKEY issued")],
    )
    monkeypatch.setattr(bucketaccess, "reconcile_access", lambda *_: report)
    patch = kopf.Patch()
    call(bucketaccess.bucket_access_changed, body("BucketAccess"), patch)
    assert patch.status["accessKeyId"] == "NBAKEY"
    assert (patch.status["readyToUse"], patch.status["error"]) == (True, None)
    assert ("Normal", "AccessKeyIssued", "Access key NBAKEY issued") in posted


NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("status", "wanted", "expected"),
    [
        ({}, "A", ("A", "2024-05-01T12:00:00Z", None, None, ())),
        (
            {"accessKeyId": "A", "lastRotationTime": "2024-01-01T00:00:00Z"},
            "A",
            ("A", "2024-01-01T00:00:00Z", None, None, ()),
        ),
        (
            {"accessKeyId": "A", "lastRotationTime": "t"},
            "B",
            ("B", "2024-05-01T12:00:00Z", "A", "2024-05-01T12:05:00Z", ()),
        ),
        (
            {
                "accessKeyId": "B",
                "previousAccessKeyId": "A",
                "previousKeyExpiresAt": "2024-05-01T12:03:00Z",
            },
            "C",
            ("C", "2024-05-01T12:00:00Z", "B", "2024-05-01T12:05:00Z", ("A",)),
        ),
        (
            {
                "accessKeyId": "B",
                "lastRotationTime": "t",
                "previousAccessKeyId": "A",
                "previousKeyExpiresAt": "2024-05-01T11:59:59Z",
            },
            "B",
            ("B", "t", None, None, ("A",)),
        ),
        (
            {"accessKeyId": "B", "previousAccessKeyId": "A"},
            "A",
            ("A", "2024-05-01T12:00:00Z", "B", "2024-05-01T12:05:00Z", ()),
        ),
    ],
    ids=["first", "resync", "rotation", "again-within-grace", "grace-over", "reverted"],
)
def test_key_plans(status: dict[str, Any], wanted: str, expected: tuple[Any, ...]) -> None:
    plan = plan_keys(status, wanted, GRACE, NOW)
    got = (
        plan.access_key,
        plan.issued_at,
        plan.previous_key,
        plan.previous_expires_at,
        plan.revoke,
    )
    assert got == expected
