"""What one ObjectStore should be made of, fully resolved (pure data).

The ObjectStore reconciler turns the custom resource, the StoragePolicies and the operator's
settings into a ``StoreDesign``; every ``build_*`` renderer of the store reads only this. Names
of everything a store owns are derived here from the store's name, never random, so a retry
finds what an earlier attempt made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NODE_PORT_BASE = 6200
GATEWAY_CONTAINER_PORT = 9000
RINGS_MOUNT = "/etc/nimbus/rings"
SSE_KEYS_MOUNT = "/etc/nimbus/sse-keys"
"""Where gateways find the SSE-S3/SSE-KMS key store: the whole Secret, mounted as a directory
(never with subPath, which the kubelet does not update), so a rotated key reaches them."""
TLS_MOUNT = "/etc/nimbus/tls"
"""Where gateways find their certificate and key: the TLS Secret, mounted as a directory."""
TLS_CERT_KEY = "tls.crt"
TLS_KEY_KEY = "tls.key"
TLS_CA_KEY = "ca.crt"
"""The keys of a ``kubernetes.io/tls`` Secret (cert-manager adds ``ca.crt``)."""
IMAGE_GROUP_ID = 65532
"""The group of the image's user (Dockerfile ``USER 65532:65532``): pods that mount Secret
files of mode 0400 set it as ``fsGroup``, so the kubelet makes the files readable to it."""
DATA_MOUNT = "/data"
COMPONENT_LABEL = "app.kubernetes.io/component"
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
PART_OF_LABEL = "app.kubernetes.io/part-of"
STORE_LABEL = "storage.nimbus.dev/store"


def builders_configmap_name(store: str) -> str:
    """The ConfigMap keeping the operator's ring builders (read before a design exists)."""
    return f"{store}-ring-builders"


def nodes_name(store: str) -> str:
    return f"{store}-node"


@dataclass(frozen=True)
class PolicyDesign:
    """One storage policy as the store serves it: a ring, a port on every storage node."""

    name: str
    replicas: int
    """Devices per partition: N for replication, k+m for erasure coding."""
    port: int
    erasure: tuple[int, int] | None = None
    """(data, parity) fragments, or None for whole replicas."""

    @property
    def ring_key(self) -> str:
        return f"{self.name}.json"

    @property
    def ring_path(self) -> str:
        return f"{RINGS_MOUNT}/{self.ring_key}"

    @property
    def gateway_argument(self) -> str:
        ec = f":ec={self.erasure[0]}+{self.erasure[1]}" if self.erasure else ""
        return f"{self.name}={self.ring_path}{ec}"


@dataclass(frozen=True)
class Resources:
    requests: tuple[tuple[str, str], ...] = ()
    limits: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, dict[str, str]]:
        result: dict[str, dict[str, str]] = {}
        if self.requests:
            result["requests"] = dict(self.requests)
        if self.limits:
            result["limits"] = dict(self.limits)
        return result


@dataclass(frozen=True)
class StoreDesign:
    name: str
    namespace: str
    uid: str
    image: str
    region: str
    node_count: int
    volume_size: str
    policies: tuple[PolicyDesign, ...]
    default_policy: str
    metadata_policy: str
    gateway_replicas: int = 2
    gateway_port: int = 80
    gateway_service_type: str = "ClusterIP"
    storage_class: str | None = None
    zones: tuple[str, ...] = ()
    node_resources: Resources = field(default_factory=Resources)
    gateway_resources: Resources = field(default_factory=Resources)
    image_pull_policy: str = "IfNotPresent"
    log_format: str = "text"
    """``text`` or ``json``: how gateways and storage nodes log (the operator's own choice)."""
    sse_key_secret: str | None = None
    """The Secret (in the store's namespace) holding the gateways' SSE-S3/SSE-KMS key store;
    None: no key store, those requests are refused."""
    tls_secret: str | None = None
    """The ``kubernetes.io/tls`` Secret (in the store's namespace) the gateways serve HTTPS
    with; None: plain HTTP."""
    tls_revision: str | None = None
    """A digest of the certificate and key the gateways serve, a pod-template annotation: the
    gateway loads them at start, so a renewed certificate must roll the pods."""
    trust_forwarded_proto: bool = False
    """Gateways take ``X-Forwarded-Proto: https`` as a secure connection (a proxy ends TLS)."""

    # -- names ---------------------------------------------------------------------------------

    @property
    def nodes_name(self) -> str:
        """StatefulSet of storage nodes, and the prefix of their pods."""
        return nodes_name(self.name)

    @property
    def nodes_service(self) -> str:
        """Headless Service giving every storage-node pod a stable DNS name."""
        return f"{self.name}-nodes"

    @property
    def gateway_name(self) -> str:
        return f"{self.name}-gateway"

    @property
    def janitor_name(self) -> str:
        return f"{self.name}-janitor"

    @property
    def service_name(self) -> str:
        """The S3 endpoint's Service: the store's own name, as users expect."""
        return self.name

    @property
    def rings_configmap(self) -> str:
        return f"{self.name}-rings"

    @property
    def builders_configmap(self) -> str:
        return builders_configmap_name(self.name)

    @property
    def admin_secret(self) -> str:
        return f"{self.name}-admin"

    @property
    def scheme(self) -> str:
        """``https`` when the gateways serve TLS, else ``http``."""
        return "https" if self.tls_secret else "http"

    @property
    def service_host(self) -> str:
        """The Service's DNS name, which the gateways' certificate must name."""
        return f"{self.service_name}.{self.namespace}.svc"

    @property
    def endpoint(self) -> str:
        usual = 443 if self.tls_secret else 80
        port = "" if self.gateway_port == usual else f":{self.gateway_port}"
        return f"{self.scheme}://{self.service_host}{port}"

    def node_address(self, pod_name: str, policy: PolicyDesign) -> str:
        """How a ring names a storage node: a pod DNS name that survives rescheduling."""
        return f"{pod_name}.{self.nodes_service}.{self.namespace}.svc:{policy.port}"

    def policy(self, name: str) -> PolicyDesign:
        for candidate in self.policies:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    # -- labels --------------------------------------------------------------------------------

    def labels(self, component: str) -> dict[str, str]:
        return {
            NAME_LABEL: "nimbus",
            INSTANCE_LABEL: self.name,
            COMPONENT_LABEL: component,
            PART_OF_LABEL: "nimbus",
            STORE_LABEL: self.name,
            "app.kubernetes.io/managed-by": "nimbus-operator",
        }

    def selector(self, component: str) -> dict[str, str]:
        return {STORE_LABEL: self.name, COMPONENT_LABEL: component}
