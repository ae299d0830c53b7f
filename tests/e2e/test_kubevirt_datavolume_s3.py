"""A DataVolume with an S3 source is checked against a real S3 endpoint (a Nimbus gateway in a
pod), with the credentials of the Secret it names, as CDI's importer would read it: the path
a later issue uses to boot servers from images kept in Nimbus buckets."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import pytest
from botocore.config import Config
from kubernetes import client

from e2e.nodeagent.images import PROJECT_REPOSITORY
from e2e.nodeagent.network import service_local_address
from tests.e2e.kubevirt_helpers import CDI, STEP_TIMEOUT, condition, status
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

ACCESS_KEY = "KUBEVIRTE2EROOT"
SECRET_KEY = "kubevirt-e2e-root-secret"
PORT = 9000
IMAGE = b"QFI\xfb" + b"\0" * 8188  # 8 KiB that start like a qcow2 header


def _gateway_pod(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "s3", "namespace": namespace, "labels": {"app": "s3"}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "gateway",
                    "image": f"{PROJECT_REPOSITORY}:e2e",
                    "command": ["nimbus-storage", "serve", "--data", "/data", "--no-fsync"],
                    "args": ["--host", "$(POD_IP)", "--port", str(PORT), "--no-janitor"],
                    "env": [
                        {
                            "name": "POD_IP",
                            "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
                        },
                        {"name": "NIMBUS_ROOT_ACCESS_KEY", "value": ACCESS_KEY},
                        {"name": "NIMBUS_ROOT_SECRET_KEY", "value": SECRET_KEY},
                    ],
                    "readinessProbe": {"tcpSocket": {"port": PORT}, "periodSeconds": 1},
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    }


@pytest.fixture
def s3_endpoint(core_v1: client.CoreV1Api, namespace: str) -> str:
    """A Nimbus gateway pod behind Service ``s3``, holding ``images/debian.qcow2``; the
    endpoint as this machine reaches it."""
    core_v1.create_namespaced_pod(namespace, client.V1Pod.model_validate(_gateway_pod(namespace)))
    service = core_v1.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="s3"),
            spec=client.V1ServiceSpec(
                selector={"app": "s3"}, ports=[client.V1ServicePort(port=PORT)]
            ),
        ),
    )

    def ready() -> bool:
        pod_status = core_v1.read_namespaced_pod("s3", namespace).status
        conditions = (pod_status.conditions if pod_status else None) or []
        return any(c.type == "Ready" and c.status == "True" for c in conditions)

    wait_until(ready, bool, "the S3 gateway pod Ready", STEP_TIMEOUT)
    cluster_ip = service.spec.cluster_ip if service.spec else None
    endpoint = f"http://{service_local_address(cluster_ip)}:{PORT}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="images")
    s3.put_object(Bucket="images", Key="debian.qcow2", Body=IMAGE)
    return endpoint


def _secret(name: str, secret_key: str) -> client.V1Secret:
    """A Secret with the keys CDI reads for S3 (and HTTP basic auth) credentials."""
    return client.V1Secret(
        metadata=client.V1ObjectMeta(name=name),
        data={
            "accessKeyId": base64.b64encode(ACCESS_KEY.encode()).decode(),
            "secretKey": base64.b64encode(secret_key.encode()).decode(),
        },
    )


def _datavolume(name: str, url: str, secret: str) -> dict[str, Any]:
    return {
        "apiVersion": "/".join(CDI),
        "kind": "DataVolume",
        "metadata": {"name": name},
        "spec": {
            "source": {"s3": {"url": url, "secretRef": secret}},
            "storage": {"resources": {"requests": {"storage": "1Gi"}}},
        },
    }


def test_an_s3_source_is_read_with_the_credentials_of_its_secret(
    s3_endpoint: str,
    core_v1: client.CoreV1Api,
    custom_objects: client.CustomObjectsApi,
    namespace: str,
) -> None:
    core_v1.create_namespaced_secret(namespace, _secret("s3-good", SECRET_KEY))
    core_v1.create_namespaced_secret(namespace, _secret("s3-wrong", "not-the-key"))
    # The URL names the Service as a pod would; the stand-in maps it to the local address.
    url = f"http://s3.{namespace}.svc:{PORT}/images/debian.qcow2"
    wanted = {
        "imported": _datavolume("imported", url, "s3-good"),
        "refused": _datavolume("refused", url, "s3-wrong"),
        "absent": _datavolume("absent", url.replace("debian", "ubuntu"), "s3-good"),
    }
    for body in wanted.values():
        custom_objects.create_namespaced_custom_object(*CDI, namespace, "datavolumes", body)

    def phases() -> dict[str, str]:
        found = {}
        for name in wanted:
            dv: Any = custom_objects.get_namespaced_custom_object(
                *CDI, namespace, "datavolumes", name
            )
            found[name] = status(dv).get("phase", "")
        return found

    wait_until(
        phases,
        lambda seen: seen == {"imported": "Succeeded", "refused": "Failed", "absent": "Failed"},
        "one S3 import Succeeded and two Failed",
        STEP_TIMEOUT,
    )

    def running_message(name: str) -> str:
        dv: Any = custom_objects.get_namespaced_custom_object(*CDI, namespace, "datavolumes", name)
        found = condition(dv, "Running")
        return str(found["message"]) if found else ""

    assert f"s3://images/debian.qcow2 is {len(IMAGE)} bytes" in running_message("imported")
    assert "HeadObject failed: 403" in running_message("refused")
    assert "HeadObject failed: 404" in running_message("absent")
