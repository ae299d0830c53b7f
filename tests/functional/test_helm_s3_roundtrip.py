"""The chart's ``helm test`` Pod, run against a real gateway: its command and environment as
rendered (the endpoint pointed at 127.0.0.1, the admin Secret's keys filled in), so the
round trip it does in a cluster is known to work before any cluster runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from mypy_boto3_s3 import S3Client

from tests.functional.conftest import ROOT_ACCESS_KEY, ROOT_SECRET_KEY, GatewayHandle
from tests.unit.helm.chart import NAMESPACE, find, manifests

ADMIN_SECRET_KEYS = {"accessKey": ROOT_ACCESS_KEY, "secretKey": ROOT_SECRET_KEY}


def rendered_test_container(helm: Path) -> dict[str, Any]:
    pod = find(manifests(helm, "--set", "objectStore.enabled=true"), "Pod")
    [container] = pod["spec"]["containers"]
    return dict(container)


def container_env(container: dict[str, Any], **overrides: str) -> dict[str, str]:
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            secret = item["valueFrom"]["secretKeyRef"]
            assert secret["name"] == "store-admin"
            env[item["name"]] = ADMIN_SECRET_KEYS[secret["key"]]
    return env | overrides


def run_container(
    container: dict[str, Any], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        container["command"],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_round_trip_passes_and_leaves_nothing_behind(
    helm: Path, gateway: GatewayHandle, s3: S3Client
) -> None:
    container = rendered_test_container(helm)
    env = container_env(container, NIMBUS_S3_ENDPOINT=gateway.endpoint)

    result = run_container(container, env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"S3 round trip through {gateway.endpoint}: s3://helm-test-" in result.stdout
    assert not [b for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("helm-test-")]


def test_it_signs_for_the_store_at_the_stores_service(helm: Path) -> None:
    env = container_env(rendered_test_container(helm))

    assert env["NIMBUS_S3_ENDPOINT"] == f"http://store.{NAMESPACE}.svc"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"


def test_it_waits_for_a_store_not_up_yet_then_fails(helm: Path) -> None:
    container = rendered_test_container(helm)
    unreachable = "http://127.0.0.1:9"  # discard: nothing answers
    env = container_env(container, NIMBUS_S3_ENDPOINT=unreachable, NIMBUS_TEST_WAIT_SECONDS="1")

    result = run_container(container, env)

    assert result.returncode != 0
    assert "the store is not ready yet" in result.stdout
    assert "EndpointConnectionError" in result.stderr
