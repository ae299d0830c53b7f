"""An ObjectStore's SSE key Secret: the gateways roll out only once it exists (with it mounted),
a missing or empty one is Ready=False with what to do and one Event, never repeated."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from nimbus_operator.reconcilers.objectstore import reconcile_store
from nimbus_operator.reconcilers.objectstore.store import StoreReport
from nimbus_operator.settings import OperatorSettings

from tests.unit.operator.bucket_fakes import FakeKube

KEYS = "photos-sse-keys"


def store_body(encryption: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodes": {"count": 3}}
    if encryption is not None:
        spec["encryption"] = encryption
    return {
        "apiVersion": "storage.nimbus.dev/v1alpha1",
        "kind": "ObjectStore",
        "metadata": {"name": "photos", "namespace": "media", "uid": "uid-photos", "generation": 1},
        "spec": spec,
    }


def key_secret(kube: FakeKube, data: dict[str, str]) -> None:
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": KEYS, "namespace": "media"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )


def reconcile(kube: FakeKube, body: dict[str, Any]) -> StoreReport:
    _design, report = reconcile_store(kube, body, OperatorSettings())
    return report


def ready(report: StoreReport) -> tuple[bool, str, str]:
    found = [c for c in report.conditions if c[0] == "Ready"]
    assert len(found) == 1, report.conditions
    return found[0][1:]


def gateway(kube: FakeKube, name: str = "photos-gateway") -> dict[str, Any] | None:
    return kube.get("apps/v1", "Deployment", name, "media")


def published(body: dict[str, Any], report: StoreReport) -> dict[str, Any]:
    """The body as the next reconcile sees it, with the status the handler published."""
    conditions = [
        {"type": t, "status": "True" if holds else "False", "reason": r, "message": m}
        for t, holds, r, m in report.conditions
    ]
    return {**body, "status": {"phase": report.phase, "conditions": conditions}}


def test_a_store_without_encryption_mounts_no_keys() -> None:
    kube = FakeKube()

    report = reconcile(kube, store_body())

    deployment = gateway(kube)
    assert deployment is not None
    pod = deployment["spec"]["template"]["spec"]
    assert not any(arg.startswith("--sse-keys") for arg in pod["containers"][0]["command"])
    assert "sse-keys" not in [volume["name"] for volume in pod["volumes"]]
    assert ready(report)[1] != "KeySecretMissing"


def test_a_missing_key_secret_holds_the_gateways_back_and_says_how_to_make_it() -> None:
    kube = FakeKube()

    report = reconcile(kube, store_body({"keySecretName": KEYS}))

    assert gateway(kube) is None
    assert gateway(kube, "photos-janitor") is None
    assert kube.get("apps/v1", "StatefulSet", "photos-node", "media") is not None
    assert kube.get("v1", "Service", "photos", "media") is not None
    holds, reason, message = ready(report)
    assert (holds, reason) == (False, "KeySecretMissing")
    assert message.startswith(f'Secret "{KEYS}" not found in namespace "media": create it with ')
    assert "python -m nimbus_storage.sse.keystore generate keys/ --dir" in message
    assert f"kubectl create secret generic {KEYS} -n media --from-file=keys/" in message
    assert report.phase == "Failed"
    assert report.events == [("Warning", "KeySecretMissing", message)]


def test_the_event_is_not_repeated_by_a_resync() -> None:
    kube = FakeKube()
    body = store_body({"keySecretName": KEYS})
    first = reconcile(kube, body)

    again = reconcile(kube, published(body, first))

    assert ready(again) == ready(first)
    assert again.events == []


def test_an_empty_key_secret_is_refused_as_well() -> None:
    kube = FakeKube()
    key_secret(kube, {})

    report = reconcile(kube, store_body({"keySecretName": KEYS}))

    assert gateway(kube) is None
    holds, reason, message = ready(report)
    assert (holds, reason) == (False, "KeySecretEmpty")
    assert f'Secret "{KEYS}" in namespace "media" holds no keys' in message


@pytest.mark.parametrize("janitor", [False, True])
def test_an_existing_key_secret_is_mounted_read_only_into_every_gateway(janitor: bool) -> None:
    kube = FakeKube()
    key_secret(kube, {"sse-s3": "1:" + base64.b64encode(bytes(32)).decode()})

    report = reconcile(kube, store_body({"keySecretName": KEYS}))

    deployment = gateway(kube, "photos-janitor" if janitor else "photos-gateway")
    assert deployment is not None
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "--sse-keys=/etc/nimbus/sse-keys" in container["command"]
    assert {"name": "sse-keys", "mountPath": "/etc/nimbus/sse-keys", "readOnly": True} in (
        container["volumeMounts"]
    )
    assert {"name": "sse-keys", "secret": {"secretName": KEYS, "defaultMode": 0o400}} in (
        pod["volumes"]
    )
    assert pod["securityContext"] == {"fsGroup": 65532}
    assert not any("subPath" in mount for mount in container["volumeMounts"])
    assert ready(report)[1] not in ("KeySecretMissing", "KeySecretEmpty")


def test_the_secret_made_later_rolls_the_gateways_out_with_an_event() -> None:
    kube = FakeKube()
    body = store_body({"keySecretName": KEYS})
    missing = reconcile(kube, body)
    key_secret(kube, {"sse-s3": "1:" + base64.b64encode(bytes(32)).decode()})

    found = reconcile(kube, published(body, missing))

    assert gateway(kube) is not None
    assert ready(found)[1] == "Starting"
    assert (
        "Normal",
        "KeySecretFound",
        f'Secret "{KEYS}" holds keys: rolling out the gateways with it.',
    ) in found.events
