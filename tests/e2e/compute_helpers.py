"""Helpers of the VirtualServer end-to-end tests: manifests as a user writes them, reads, and
waits for the state the operator reports (KubeVirt's part is the harness's stand-in)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.kubevirt_helpers import STEP_TIMEOUT, STOP_TIMEOUT
from tests.e2e.waiting import wait_until

COMPUTE = ("compute.nimbus.dev", "v1alpha1")
KUBEVIRT = ("kubevirt.io", "v1")
PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINyO3k6VG3+RBqvgtkjlmcmEQxYcBPWswGAb2teuWAsr e2e@nimbus"
)
CONTAINER_DISK = "quay.io/containerdisks/debian:12"
ACTIVE_TIMEOUT = STEP_TIMEOUT + STOP_TIMEOUT
"""A server built or restarted: the old instance stopped, a new launcher pod scheduled and
started by the node agent, the operator's next resync."""


def flavor_manifest(name: str, vcpus: int = 1, memory: str = "1Gi") -> dict[str, Any]:
    return {
        "apiVersion": "/".join(COMPUTE),
        "kind": "Flavor",
        "metadata": {"name": name},
        "spec": {"vcpus": vcpus, "memory": memory, "rootDisk": "10Gi"},
    }


def image_manifest(name: str, container_disk: str = CONTAINER_DISK) -> dict[str, Any]:
    return {
        "apiVersion": "/".join(COMPUTE),
        "kind": "Image",
        "metadata": {"name": name},
        "spec": {"source": {"containerDisk": {"image": container_disk}}},
    }


def server_manifest(name: str, flavor: str, image: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "/".join(COMPUTE),
        "kind": "VirtualServer",
        "metadata": {"name": name},
        "spec": {"flavor": flavor, "image": {"name": image}, **spec},
    }


class Compute:
    """compute.nimbus.dev objects of one namespace (and the cluster's Flavors)."""

    def __init__(self, api: client.CustomObjectsApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace

    def create(self, plural: str, manifest: dict[str, Any]) -> None:
        if plural == "flavors":
            self.api.create_cluster_custom_object(*COMPUTE, plural, manifest)
        else:
            self.api.create_namespaced_custom_object(*COMPUTE, self.namespace, plural, manifest)

    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        try:
            if plural == "flavors":
                found: Any = self.api.get_cluster_custom_object(*COMPUTE, plural, name)
            else:
                found = self.api.get_namespaced_custom_object(
                    *COMPUTE, self.namespace, plural, name
                )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found)

    def patch_server(self, name: str, spec: dict[str, Any]) -> None:
        self.api.patch_namespaced_custom_object(
            *COMPUTE, self.namespace, "virtualservers", name, {"spec": spec}
        )

    def delete(self, plural: str, name: str) -> None:
        if plural == "flavors":
            self.api.delete_cluster_custom_object(*COMPUTE, plural, name)
        else:
            self.api.delete_namespaced_custom_object(*COMPUTE, self.namespace, plural, name)

    def server_status(self, name: str) -> dict[str, Any]:
        return dict((self.get("virtualservers", name) or {}).get("status") or {})

    def wait_status(
        self, name: str, status: str, timeout: float = ACTIVE_TIMEOUT
    ) -> dict[str, Any]:
        """The server's status once it says ``status`` (and no task is running)."""
        return wait_until(
            lambda: self.server_status(name),
            lambda seen: seen.get("status") == status and not seen.get("taskState"),
            f"VirtualServer {name} to be {status}",
            timeout,
        )

    def vm(self, name: str) -> dict[str, Any] | None:
        try:
            found: Any = self.api.get_namespaced_custom_object(
                *KUBEVIRT, self.namespace, "virtualmachines", name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found)

    def existing_vm(self, name: str) -> dict[str, Any]:
        vm = self.vm(name)
        assert vm is not None, f"VirtualMachine {name} exists"
        return vm

    def instance_uid(self, name: str) -> str | None:
        try:
            found: Any = self.api.get_namespaced_custom_object(
                *KUBEVIRT, self.namespace, "virtualmachineinstances", name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return str(found["metadata"]["uid"])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def cluster_flavors(api: client.CustomObjectsApi, *specs: tuple[int, str]) -> Iterator[list[str]]:
    """Flavors of (vcpus, memory), named uniquely (they are cluster-wide), deleted after."""
    names = [unique(f"e2e-{vcpus}c") for vcpus, _ in specs]
    for name, (vcpus, memory) in zip(names, specs, strict=True):
        api.create_cluster_custom_object(*COMPUTE, "flavors", flavor_manifest(name, vcpus, memory))
    yield names
    for name in names:
        try:
            api.delete_cluster_custom_object(*COMPUTE, "flavors", name)
        except ApiException as error:
            if error.status != 404:
                raise
