"""The store's S3 gateways: a Deployment behind the store's Service, and a one-replica janitor
(lifecycle expiration and stale-upload cleanup must run on one gateway of a cluster) (pure)."""

from __future__ import annotations

from typing import Any

from nimbus_operator.render.meta import field_env, object_meta, secret_env
from nimbus_operator.render.store_design import (
    GATEWAY_CONTAINER_PORT,
    IMAGE_GROUP_ID,
    RINGS_MOUNT,
    SSE_KEYS_MOUNT,
    TLS_CERT_KEY,
    TLS_KEY_KEY,
    TLS_MOUNT,
    StoreDesign,
)
from nimbus_operator.render.store_secrets import ACCESS_KEY, CLUSTER_TOKEN, SECRET_KEY

COMPONENT = "gateway"
JANITOR = "janitor"
STATE_DIR = "/var/lib/nimbus"
SSE_KEYS_VOLUME = "sse-keys"
TLS_VOLUME = "tls"
TLS_REVISION_ANNOTATION = "storage.nimbus.dev/tls-revision"
"""On the gateways' pod template: a digest of the certificate they serve, so a renewed one
rolls them (the gateway reads its certificate only at start)."""
SECRET_FILE_MODE = 0o400


def _gateway_command(design: StoreDesign, janitor: bool) -> list[str]:
    command = [
        "nimbus-storage",
        "serve",
        f"--data={STATE_DIR}",
        "--host=$(POD_IP)",
        f"--port={GATEWAY_CONTAINER_PORT}",
        f"--region={design.region}",
        f"--domain={design.service_name}.{design.namespace}.svc",
    ]
    command += [f"--policy={policy.gateway_argument}" for policy in design.policies]
    command += [
        f"--default-policy={design.default_policy}",
        f"--metadata-ring={design.policy(design.metadata_policy).ring_path}",
    ]
    if design.sse_key_secret:
        command.append(f"--sse-keys={SSE_KEYS_MOUNT}")
    if design.tls_secret:
        command += [
            f"--tls-cert={TLS_MOUNT}/{TLS_CERT_KEY}",
            f"--tls-key={TLS_MOUNT}/{TLS_KEY_KEY}",
        ]
    if design.trust_forwarded_proto:
        command.append("--trust-forwarded-proto")
    if not janitor:
        command.append("--no-janitor")
    return command


def _wait_for_rings(design: StoreDesign) -> dict[str, Any]:
    waits = [f"nimbus-storage ring wait {policy.ring_path}" for policy in design.policies]
    return {
        "name": "wait-for-rings",
        "image": design.image,
        "imagePullPolicy": design.image_pull_policy,
        "command": ["sh", "-c", " && ".join(waits)],
        "volumeMounts": [{"name": "rings", "mountPath": RINGS_MOUNT, "readOnly": True}],
    }


def _volumes(design: StoreDesign) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pod's volumes and the gateway container's mounts of them."""
    mounts: list[dict[str, Any]] = [
        {"name": "rings", "mountPath": RINGS_MOUNT, "readOnly": True},
        {"name": "state", "mountPath": STATE_DIR},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "rings", "configMap": {"name": design.rings_configmap, "optional": True}},
        {"name": "state", "emptyDir": {}},
    ]
    if design.sse_key_secret:
        # The whole Secret as a directory (no subPath): the kubelet rewrites it in place when
        # the Secret changes and the gateway reloads its key store, so no restart is needed.
        mounts.append({"name": SSE_KEYS_VOLUME, "mountPath": SSE_KEYS_MOUNT, "readOnly": True})
        volumes.append(
            {
                "name": SSE_KEYS_VOLUME,
                "secret": {"secretName": design.sse_key_secret, "defaultMode": SECRET_FILE_MODE},
            }
        )
    if design.tls_secret:
        # Only the certificate and its key (not ca.crt, which the gateway does not use).
        mounts.append({"name": TLS_VOLUME, "mountPath": TLS_MOUNT, "readOnly": True})
        volumes.append(
            {
                "name": TLS_VOLUME,
                "secret": {
                    "secretName": design.tls_secret,
                    "defaultMode": SECRET_FILE_MODE,
                    "items": [
                        {"key": TLS_CERT_KEY, "path": TLS_CERT_KEY},
                        {"key": TLS_KEY_KEY, "path": TLS_KEY_KEY},
                    ],
                },
            }
        )
    return volumes, mounts


def _http_get(design: StoreDesign, path: str) -> dict[str, Any]:
    """A probe of the gateway's own port: HTTPS when it serves TLS (the kubelet does not
    verify the certificate of a probe)."""
    action: dict[str, Any] = {"path": path, "port": GATEWAY_CONTAINER_PORT}
    if design.tls_secret:
        action["scheme"] = "HTTPS"
    return {"httpGet": action}


def _pod_spec(design: StoreDesign, janitor: bool) -> dict[str, Any]:
    secret = design.admin_secret
    probe = _http_get(design, "/_nimbus/readyz")
    volumes, mounts = _volumes(design)
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 30,
        "initContainers": [_wait_for_rings(design)],
        "containers": [
            {
                "name": JANITOR if janitor else COMPONENT,
                "image": design.image,
                "imagePullPolicy": design.image_pull_policy,
                "command": _gateway_command(design, janitor),
                "env": [
                    field_env("POD_IP", "status.podIP"),
                    secret_env("NIMBUS_ROOT_ACCESS_KEY", secret, ACCESS_KEY),
                    secret_env("NIMBUS_ROOT_SECRET_KEY", secret, SECRET_KEY),
                    secret_env("NIMBUS_CLUSTER_TOKEN", secret, CLUSTER_TOKEN),
                    {"name": "NIMBUS_LOG_FORMAT", "value": design.log_format},
                ],
                "ports": [{"name": _port_name(design), "containerPort": GATEWAY_CONTAINER_PORT}],
                "readinessProbe": {**probe, "periodSeconds": 2, "failureThreshold": 3},
                "livenessProbe": {
                    **_http_get(design, "/_nimbus/healthz"),
                    "periodSeconds": 10,
                    "failureThreshold": 6,
                },
                "resources": design.gateway_resources.as_dict(),
                "volumeMounts": mounts,
            }
        ],
        "volumes": volumes,
    }
    if design.sse_key_secret or design.tls_secret:
        # The key files are 0400 and root's; with fsGroup the kubelet gives them the image
        # user's group and makes them group-readable (0440), and no one else's.
        spec["securityContext"] = {"fsGroup": IMAGE_GROUP_ID}
    return spec


def _port_name(design: StoreDesign) -> str:
    """``s3``, or ``https`` when the gateways serve TLS (what meshes and ingresses read)."""
    return "https" if design.tls_secret else "s3"


def _template_metadata(design: StoreDesign, component: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"labels": design.labels(component)}
    if design.tls_secret and design.tls_revision:
        metadata["annotations"] = {TLS_REVISION_ANNOTATION: design.tls_revision}
    return metadata


def build_gateway_deployment(design: StoreDesign, *, janitor: bool = False) -> dict[str, Any]:
    component = JANITOR if janitor else COMPONENT
    name = design.janitor_name if janitor else design.gateway_name
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(design, name, component),
        "spec": {
            "replicas": 1 if janitor else design.gateway_replicas,
            "selector": {"matchLabels": design.selector(component)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": _template_metadata(design, component),
                "spec": _pod_spec(design, janitor),
            },
        },
    }


def build_gateway_service(design: StoreDesign) -> dict[str, Any]:
    port: dict[str, Any] = {
        "name": _port_name(design),
        "port": design.gateway_port,
        "targetPort": GATEWAY_CONTAINER_PORT,
        "protocol": "TCP",
    }
    if design.tls_secret:
        port["appProtocol"] = "https"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(design, design.service_name, COMPONENT),
        "spec": {
            "type": design.gateway_service_type,
            "selector": design.selector(COMPONENT),
            "ports": [port],
        },
    }
