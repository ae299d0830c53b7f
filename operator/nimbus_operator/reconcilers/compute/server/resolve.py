"""What a VirtualServer names, looked up: its Flavor, Image, KeyPairs and ServerGroup. Each one
missing or unusable is an ``InvalidSpec`` whose message says what to do (the server goes to
ERROR); an Image still importing is a wait (the server stays in BUILD)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.errors import InvalidSpec, RetryLater
from nimbus_operator.models.compute.flavor import Flavor
from nimbus_operator.models.compute.image import Image
from nimbus_operator.models.compute.keypair import KeyPair
from nimbus_operator.models.compute.servergroup import ServerGroup
from nimbus_operator.models.compute.virtualserver import VirtualServer
from nimbus_operator.models.errors import SpecError
from nimbus_operator.models.quantity import format_bytes
from nimbus_operator.reconcilers.compute.refs import COMPUTE_API, servers

IMAGE_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class Resolved:
    flavor: Flavor
    image: Image
    image_namespace: str
    image_status: dict[str, Any]
    public_keys: tuple[str, ...]
    group: ServerGroup | None
    group_slot: int = 0
    """The server's slot in an anti-affinity group with maxPerHost N: its rank among the
    members by creation, modulo N (see render.compute.placement)."""


def _get(kube: Kube, kind: str, name: str, namespace: str | None) -> dict[str, Any] | None:
    return kube.get(COMPUTE_API, kind, name, namespace)


def resolve(kube: Kube, server: VirtualServer) -> Resolved:
    namespace = server.metadata.namespace or ""
    spec = server.spec
    flavor = _flavor(kube, spec.flavor)
    image, image_status = _image(kube, server)
    min_disk = image.spec.min_disk_bytes
    if min_disk is not None and flavor.spec.root_disk_bytes < min_disk:
        raise InvalidSpec(
            f"Flavor {spec.flavor}'s root disk ({flavor.spec.root_disk}) is smaller than Image "
            f"{image.metadata.name}'s minDisk ({format_bytes(min_disk)}): choose a larger flavor",
            reason="FlavorDiskTooSmall",
        )
    keys = tuple(_key(kube, namespace, name) for name in spec.key_pairs)
    group = _group(kube, namespace, spec.server_group) if spec.server_group else None
    slot = _slot(kube, server, group) if group is not None else 0
    return Resolved(flavor, image, server.image_namespace, image_status, keys, group, slot)


def _slot(kube: Kube, server: VirtualServer, group: ServerGroup) -> int:
    slots = group.spec.max_per_host or 1
    if slots == 1:
        return 0
    members = sorted(
        (str(s["metadata"].get("creationTimestamp") or ""), str(s["metadata"]["name"]))
        for s in servers(kube, server.metadata.namespace)
        if (s.get("spec") or {}).get("serverGroup") == group.metadata.name
    )
    names = [name for _, name in members]
    rank = names.index(server.metadata.name) if server.metadata.name in names else len(names)
    return rank % slots


def _parsed(kind: str, name: str, parse: Any, body: dict[str, Any]) -> Any:
    try:
        return parse(body)
    except SpecError as error:
        raise InvalidSpec(
            f"{kind} {name} is invalid ({error}): fix it, or name another {kind}",
            reason=f"{kind}Invalid",
        ) from error


def _flavor(kube: Kube, name: str) -> Flavor:
    body = _get(kube, "Flavor", name, None)
    if body is None:
        raise InvalidSpec(
            f"Flavor {name} does not exist: `kubectl get flavors` lists those that do",
            reason="FlavorNotFound",
        )
    flavor: Flavor = _parsed("Flavor", name, Flavor.from_body, body)
    return flavor


def _image(kube: Kube, server: VirtualServer) -> tuple[Image, dict[str, Any]]:
    name, namespace = server.spec.image.name, server.image_namespace
    ref = f"{namespace}/{name}"
    body = _get(kube, "Image", name, namespace)
    if body is None:
        raise InvalidSpec(
            f"Image {ref} does not exist: `kubectl get images -n {namespace}` lists those that do",
            reason="ImageNotFound",
        )
    image: Image = _parsed("Image", ref, Image.from_body, body)
    if namespace != server.metadata.namespace and not image.spec.public:
        raise InvalidSpec(
            f"Image {ref} is not public: only servers of namespace {namespace} may boot it "
            "(its owner can set spec.public: true)",
            reason="ImageNotPublic",
        )
    status = dict(body.get("status") or {})
    if image.spec.source.container_disk is None:
        if status.get("phase") == "Failed":
            raise InvalidSpec(
                f"Image {ref} failed to import: {_ready_message(status)}",
                reason="ImageFailed",
            )
        if status.get("phase") != "Ready" or not status.get("claimName"):
            raise RetryLater(
                f"Image {ref} is not imported yet ({status.get('progress') or 'pending'}): the "
                "server is built once it is",
                reason="ImageNotReady",
                delay=IMAGE_WAIT_SECONDS,
            )
    return image, status


def _ready_message(status: dict[str, Any]) -> str:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("message"))
    return "no reason given"


def _key(kube: Kube, namespace: str, name: str) -> str:
    body = _get(kube, "KeyPair", name, namespace)
    if body is None:
        raise InvalidSpec(
            f"KeyPair {name} does not exist in namespace {namespace}: create it (kubectl "
            "apply a KeyPair with your public key), or remove it from spec.keyPairs",
            reason="KeyPairNotFound",
        )
    keypair: KeyPair = _parsed("KeyPair", name, KeyPair.from_body, body)
    return keypair.spec.key.line


def _group(kube: Kube, namespace: str, name: str) -> ServerGroup:
    body = _get(kube, "ServerGroup", name, namespace)
    if body is None:
        raise InvalidSpec(
            f"ServerGroup {name} does not exist in namespace {namespace}: create it, or "
            "remove spec.serverGroup",
            reason="ServerGroupNotFound",
        )
    group: ServerGroup = _parsed("ServerGroup", name, ServerGroup.from_body, body)
    return group
