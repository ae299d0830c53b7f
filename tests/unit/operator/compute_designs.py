"""Resolved VirtualServer designs for the compute renderers' tests: a minimal server, a full one,
and a builder for the rest."""

from __future__ import annotations

from typing import Any

from nimbus_operator.models.compute.flavor import Flavor
from nimbus_operator.models.compute.servergroup import ServerGroupPolicy
from nimbus_operator.models.compute.virtualserver import VirtualServer
from nimbus_operator.render.compute.design import ImageDesign, ServerDesign, ServerGroupDesign

from tests.unit.operator.compute_samples import ED25519_KEY, RSA_KEY

NAMESPACE = "apps"
UID = "7d1c0c9e-5a3b-4f7e-9a51-0c2f3e4d5a6b"
CONTAINER_DISK = ImageDesign.container_disk("quay.io/containerdisks/fedora:40")
S3_IMAGE = ImageDesign.data_volume(
    {
        "s3": {
            "url": "http://photos.media.svc/nimbus-images-4f2a/noble.qcow2",
            "secretRef": "noble-import",
        }
    },
    "100Gi",
    storage_class_name="fast",
)
HTTP_IMAGE = ImageDesign.data_volume(
    {"http": {"url": "https://cloud-images.example/noble-server-cloudimg-amd64.img"}}, "20Gi"
)

SMALL_FLAVOR: dict[str, Any] = {"vcpus": 1, "memory": "2Gi", "rootDisk": "20Gi"}
FULL_FLAVOR: dict[str, Any] = {
    "vcpus": 8,
    "memory": "16Gi",
    "rootDisk": "100Gi",
    "extraSpecs": {
        "dedicatedCpus": True,
        "hugepages": {"pageSize": "1Gi"},
        "gpus": [{"name": "gpu1", "deviceName": "nvidia.com/TU104GL_Tesla_T4"}],
        "hostDevices": [{"name": "vf1", "deviceName": "intel.com/sriov_net_a"}],
        "nodeSelector": {"node.kubernetes.io/instance-type": "metal"},
    },
}

BIG_USER_DATA = (
    "#cloud-config\npackages: [nginx]\nwrite_files:\n- path: /etc/motd\n  content: |\n"
    + ("".join(f"    line {n:04d} of a long message of the day\n" for n in range(80)))
)
"""A #cloud-config well over KubeVirt's 2048 inline bytes."""

FULL_SPEC: dict[str, Any] = {
    "flavor": "g1.large",
    "image": {"name": "noble", "namespace": "images"},
    "keyPairs": ["alice", "bob"],
    "userData": BIG_USER_DATA,
    "networks": [
        {
            "name": "default",
            "ports": [
                {"name": "ssh", "port": 22},
                {"name": "http", "port": 80},
                {"name": "dns", "port": 53, "protocol": "UDP"},
            ],
        }
    ],
    "volumes": [
        {"name": "data", "size": "50Gi", "storageClassName": "fast"},
        {"name": "scratch", "size": "10Gi"},
        {"name": "logs", "claimName": "web-logs"},
    ],
    "availabilityZone": "zone-a",
    "serverGroup": "web",
    "rebuild": {"request": "2024-05-01T12:00:00Z"},
}


def server(name: str = "web-1", **spec: Any) -> VirtualServer:
    """A VirtualServer of namespace ``apps``; ``spec`` defaults to the least a user writes."""
    body = {
        "apiVersion": "compute.nimbus.dev/v1alpha1",
        "kind": "VirtualServer",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": UID, "generation": 1},
        "spec": {"flavor": "m1.small", "image": {"name": "fedora"}, **spec},
    }
    return VirtualServer.from_body(body)


def flavor(name: str = "m1.small", spec: dict[str, Any] | None = None) -> Flavor:
    body = {
        "apiVersion": "compute.nimbus.dev/v1alpha1",
        "kind": "Flavor",
        "metadata": {"name": name},
        "spec": spec or SMALL_FLAVOR,
    }
    return Flavor.from_body(body)


def design(
    the_server: VirtualServer | None = None,
    *,
    the_flavor: Flavor | None = None,
    image: ImageDesign = CONTAINER_DISK,
    keys: tuple[str, ...] = (),
    rebuild_token: str = "",
    group: ServerGroupDesign | None = None,
    inline_user_data: bool = True,
) -> ServerDesign:
    the_server = the_server or server()
    return ServerDesign(
        namespace=NAMESPACE,
        name=the_server.metadata.name,
        uid=UID,
        server=the_server,
        flavor=the_flavor or flavor(),
        image=image,
        public_keys=keys,
        rebuild_token=rebuild_token,
        server_group=group,
        inline_user_data=inline_user_data,
    )


MINIMAL = design()
FULL = design(
    server("web-1", **FULL_SPEC),
    the_flavor=flavor("g1.large", FULL_FLAVOR),
    image=S3_IMAGE,
    keys=(ED25519_KEY, RSA_KEY + "\n"),
    rebuild_token="2024-05-01T12:00:00Z",
    group=ServerGroupDesign("web", ServerGroupPolicy.ANTI_AFFINITY, max_per_host=2),
)
