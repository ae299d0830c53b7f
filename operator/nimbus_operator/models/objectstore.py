"""ObjectStore: one S3-compatible object-storage service (storage nodes, rings, gateways)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from nimbus_operator.models.common import (
    Condition,
    ObjectMeta,
    ResourceRequirements,
    conditions_field,
    immutable,
    object_name,
    observed_generation_field,
    phase_field,
)
from nimbus_operator.models.kind import PrinterColumn, ResourceKind, Scope
from nimbus_operator.models.quantity import parse_quantity
from nimbus_operator.models.schema import (
    Array,
    Boolean,
    Choice,
    Integer,
    Object,
    Quantity,
    SpecModel,
    StatusModel,
    String,
    StringMap,
    model,
    prop,
)


class ObjectStorePhase(StrEnum):
    """A one-word summary of an ObjectStore's state."""

    PENDING = "Pending"
    PROGRESSING = "Progressing"
    READY = "Ready"
    DEGRADED = "Degraded"
    DELETING = "Deleting"
    FAILED = "Failed"


class ServiceType(StrEnum):
    """How the gateway's Service is exposed."""

    CLUSTER_IP = "ClusterIP"
    NODE_PORT = "NodePort"
    LOAD_BALANCER = "LoadBalancer"


@model
class NodesSpec:
    """The storage nodes: a StatefulSet with one persistent volume per node."""

    count: int = prop(
        "How many storage nodes to run. Each node holds one volume; a policy keeps its copies "
        "(or erasure-coded fragments) of an object on distinct nodes while there are enough.",
        Integer(minimum=1, maximum=1000),
        default=3,
    )
    volume_size: str = prop(
        "The size of each node's persistent volume, as a Kubernetes quantity such as 10Gi.",
        Quantity(min_bytes=1),
        default="10Gi",
    )
    storage_class_name: str | None = prop(
        "The StorageClass of the nodes' volumes; unset means the cluster's default class.",
        object_name(),
        default=None,
    )
    zones: tuple[str, ...] | None = prop(
        "Run storage nodes only in these zones (values of the topology.kubernetes.io/zone "
        "label of Kubernetes nodes), spread evenly across them; unset means any zone.",
        Array(
            items=String(min_length=1, max_length=63), min_items=1, max_items=16, list_type="set"
        ),
        default=None,
    )
    resources: ResourceRequirements | None = prop(
        "CPU and memory requests and limits of each storage-node pod.",
        Object(model=ResourceRequirements),
        default=None,
    )

    @property
    def volume_size_bytes(self) -> int:
        """``volume_size`` in bytes."""
        return parse_quantity(self.volume_size, field_path="nodes.volumeSize")


@model
class GatewayTlsSpec:
    """HTTPS on the S3 endpoint, with a certificate from a Secret of the store's namespace."""

    secret_name: str = prop(
        "A Secret of the store's namespace holding the gateways' certificate: tls.crt (PEM, "
        "the chain may follow the certificate) and tls.key, as a kubernetes.io/tls Secret of "
        "`kubectl create secret tls` or cert-manager has them, and optionally ca.crt, the "
        "authority the operator trusts when it calls the gateways (without it, tls.crt "
        "itself: a self-signed certificate). The certificate must name the Service, "
        "<store>.<namespace>.svc, which is how the operator reaches it. It is mounted "
        "read-only into every gateway pod; a changed certificate rolls the gateways. The "
        "Secret is yours: the operator never writes or deletes it, and while it is missing "
        "or lacks tls.crt or tls.key the gateways are not rolled out (Ready=False, reason "
        "TlsSecretMissing or TlsSecretInvalid).",
        object_name(),
    )


@model
class GatewaySpec:
    """The S3 gateway: a Deployment of stateless gateway pods behind one Service."""

    replicas: int = prop(
        "How many gateway pods serve S3 requests behind the Service.",
        Integer(minimum=1, maximum=100),
        default=2,
    )
    resources: ResourceRequirements | None = prop(
        "CPU and memory requests and limits of each gateway pod.",
        Object(model=ResourceRequirements),
        default=None,
    )
    service_type: ServiceType = prop(
        "How the gateway's Service is exposed: ClusterIP (inside the cluster only), NodePort "
        "or LoadBalancer.",
        Choice(enum=ServiceType),
        default=ServiceType.CLUSTER_IP,
    )
    port: int | None = prop(
        "The port of the S3 endpoint on the gateway's Service; unset means 80, or 443 with tls.",
        Integer(minimum=1, maximum=65535),
        default=None,
    )
    tls: GatewayTlsSpec | None = prop(
        "Serve the S3 endpoint over HTTPS with a certificate of yours. Unset: plain HTTP, "
        "where SSE-C requests are refused (400 InvalidRequest) unless trustForwardedProto says "
        "a proxy in front ends TLS.",
        Object(model=GatewayTlsSpec),
        default=None,
    )
    trust_forwarded_proto: bool = prop(
        "Count a request as come over a secure connection (SSE-C allowed, aws:SecureTransport "
        "true) when its X-Forwarded-Proto header says https: only for a store whose every "
        "client goes through a proxy or ingress that ends TLS and sets that header, since any "
        "client reaching the Service directly could send it.",
        Boolean(),
        default=False,
    )

    @property
    def service_port(self) -> int:
        """``port``, else the scheme's usual port: 443 with TLS, 80 without."""
        if self.port is not None:
            return self.port
        return 443 if self.tls is not None else 80


@model
class EncryptionSpec:
    """Server-side encryption with the store's own keys (SSE-S3 and SSE-KMS)."""

    key_secret_name: str = prop(
        "A Secret of the store's namespace holding the master keys: one data key per key id, "
        "as `python -m nimbus_storage.sse.keystore generate DIR --dir` writes them (then "
        "`kubectl create secret generic NAME --from-file=DIR`). It is mounted read-only into "
        "every gateway pod; a changed Secret (a rotated or added key) is reloaded by the "
        "gateways without a restart. The Secret is yours: the operator never writes or deletes "
        "it, and while it is missing the gateways are not rolled out (Ready=False, reason "
        "KeySecretMissing).",
        object_name(),
    )


@model
class ObjectStoreSpec(SpecModel):
    """The desired object store: its nodes, its gateway and its S3 settings."""

    image: str | None = prop(
        "The container image of the storage nodes and gateways; unset means the image the "
        "operator itself runs, which keeps the operator and its data plane in step.",
        String(min_length=1, max_length=512),
        default=None,
    )
    region: str = prop(
        "The S3 region of the endpoint: clients must sign requests for it (AWS_DEFAULT_REGION).",
        String(
            min_length=1,
            max_length=63,
            pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
            pattern_message="must be lowercase letters, digits and '-', like us-east-1",
        ),
        default="us-east-1",
    )
    part_power: int = prop(
        "Each storage policy's ring has 2^partPower partitions. Aim for at least 100 "
        "partitions per storage node at the largest size the store will reach: 10 (1024 "
        "partitions) suits about 10 nodes, and each step of 1 doubles that. More partitions "
        "cost memory in every gateway and node. Cannot change after creation.",
        Integer(
            minimum=4,
            maximum=20,
            rules=(
                immutable("partPower cannot change after creation: it would move every object"),
            ),
        ),
        default=10,
    )
    nodes: NodesSpec = prop(
        "The storage nodes, which keep the objects on their volumes.",
        Object(model=NodesSpec),
        default_factory=NodesSpec,
    )
    gateway: GatewaySpec = prop(
        "The S3 gateway that clients talk to.",
        Object(model=GatewaySpec),
        default_factory=GatewaySpec,
    )
    encryption: EncryptionSpec | None = prop(
        "The master keys of server-side encryption (SSE-S3, SSE-KMS and bucket default "
        "encryption). Unset: those requests are refused (501 NotImplemented). SSE-C, where the "
        "client brings the key, needs no keys here but a secure connection: gateway.tls (or "
        "gateway.trustForwardedProto behind a proxy that ends TLS); over plain HTTP it is "
        "refused (400 InvalidRequest).",
        Object(model=EncryptionSpec),
        default=None,
    )
    force_delete: bool = prop(
        "Delete the store even while Buckets still use it, losing their objects. When false, "
        "deleting the store waits until every Bucket in it is gone.",
        Boolean(),
        default=False,
    )


@model
class ObjectStoreStatus(StatusModel):
    """What the operator last observed of an ObjectStore."""

    observed_generation: int | None = observed_generation_field()
    phase: ObjectStorePhase | None = phase_field(
        ObjectStorePhase,
        "A one-word summary: Pending, Progressing, Ready, Degraded, Deleting or Failed.",
    )
    conditions: tuple[Condition, ...] = conditions_field()
    endpoint: str | None = prop(
        "The S3 endpoint URL inside the cluster (AWS_ENDPOINT_URL): https:// with gateway.tls.",
        String(max_length=2048),
        default=None,
    )
    nodes_ready: str | None = prop(
        "Ready storage nodes out of those wanted, e.g. 3/3.", String(max_length=32), default=None
    )
    nodes_ready_count: int | None = prop(
        "How many storage nodes are ready.", Integer(minimum=0), default=None
    )
    capacity_bytes: int | None = prop(
        "The total size of the nodes' volumes, in bytes.",
        Integer(minimum=0, format="int64"),
        default=None,
    )
    used_bytes: int | None = prop(
        "Bytes stored on the nodes, all copies and fragments included.",
        Integer(minimum=0, format="int64"),
        default=None,
    )
    objects: int | None = prop(
        "How many objects the store holds.", Integer(minimum=0, format="int64"), default=None
    )
    rings: Mapping[str, int] | None = prop(
        "The generation of the ring of each storage policy, by policy name.",
        StringMap(values=Integer(minimum=0, format="int64"), max_properties=256),
        default=None,
    )
    admin_secret_name: str | None = prop(
        "The Secret holding the store's administrator credentials.",
        object_name(),
        default=None,
    )
    buckets: int | None = prop("How many Buckets use this store.", Integer(minimum=0), default=None)


@dataclass(frozen=True, slots=True)
class ObjectStore:
    """An ObjectStore as the operator sees it: its metadata and its parsed spec."""

    metadata: ObjectMeta
    spec: ObjectStoreSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a whole custom-resource body; raises `SpecError` for a bad spec."""
        return cls(ObjectMeta.from_body(body), ObjectStoreSpec.from_body(body))


OBJECT_STORE = ResourceKind(
    kind="ObjectStore",
    plural="objectstores",
    short_names=("ostore",),
    scope=Scope.NAMESPACED,
    description=(
        "ObjectStore is an S3-compatible object-storage service: a StatefulSet of storage "
        "nodes with a volume each, one ring per StoragePolicy, and S3 gateways behind a "
        "Service. Buckets in the same namespace live in it."
    ),
    spec=ObjectStoreSpec,
    status=ObjectStoreStatus,
    printer_columns=(
        PrinterColumn("Phase", ".status.phase", "string", "A one-word summary of the state."),
        PrinterColumn("Nodes", ".status.nodesReady", "string", "Ready storage nodes / wanted."),
        PrinterColumn("Endpoint", ".status.endpoint", "string", "The S3 endpoint URL."),
        PrinterColumn("Used", ".status.usedBytes", "integer", "Bytes stored, copies included."),
    ),
)
