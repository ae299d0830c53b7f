"""VirtualServer: references, user data, networks and ports, volumes, power, reboot, rebuild."""

from __future__ import annotations

from typing import Any

import pytest
from nimbus_operator.models.common import SpecError
from nimbus_operator.models.compute.serverparts import (
    ImageRef,
    PowerState,
    Protocol,
    RebootType,
)
from nimbus_operator.models.compute.virtualserver import (
    ServerStatus,
    VirtualServer,
    VirtualServerPhase,
    VirtualServerSpec,
    VirtualServerStatus,
)

from tests.unit.operator.compute_samples import VIRTUAL_SERVERS

SERVER = {"flavor": "m1.small", "image": {"name": "noble"}}


def test_minimal_server_with_defaults() -> None:
    server = VirtualServer.from_body(VIRTUAL_SERVERS["minimal"])
    spec = server.spec
    assert (spec.flavor, spec.image) == ("m1.small", ImageRef(name="noble"))
    assert server.image_namespace == "apps"
    assert (spec.key_pairs, spec.networks, spec.volumes) == ((), (), ())
    assert (spec.user_data, spec.availability_zone, spec.server_group) == (None, None, None)
    assert spec.power_state is PowerState.RUNNING
    assert (spec.reboot, spec.rebuild) == (None, None)


def test_full_server() -> None:
    server = VirtualServer.from_body(VIRTUAL_SERVERS["full"])
    spec = server.spec
    assert server.image_namespace == "images"
    assert spec.key_pairs == ("alice", "bob")
    (network,) = spec.networks
    assert network.name == "default"
    assert [(p.name, p.port, p.protocol) for p in network.ports] == [
        ("ssh", 22, Protocol.TCP),
        ("dns", 53, Protocol.UDP),
        ("dns-tcp", 53, Protocol.TCP),
    ]
    data, logs = spec.volumes
    assert (data.size_bytes, data.storage_class_name, data.claim_name) == (50 * 2**30, "fast", None)
    assert (logs.size_bytes, logs.claim_name) == (None, "web-logs")
    assert (spec.availability_zone, spec.server_group) == ("zone-a", "web")
    assert spec.power_state is PowerState.STOPPED
    assert spec.reboot is not None
    assert (spec.reboot.request, spec.reboot.type) == ("2024-05-01T12:00:00Z", RebootType.HARD)
    assert spec.rebuild is not None
    assert spec.rebuild.request == "r1"


def test_defaults_inside_lists() -> None:
    spec = VirtualServerSpec.from_body(VIRTUAL_SERVERS["network-defaults"])
    assert spec.networks[0].name == "default"
    reboot = VirtualServerSpec.from_body({"spec": {**SERVER, "reboot": {"request": "1"}}}).reboot
    assert reboot is not None
    assert reboot.type is RebootType.SOFT


def with_(**changes: Any) -> dict[str, Any]:
    return {**SERVER, **changes}


def ports(*items: dict[str, Any]) -> dict[str, Any]:
    return with_(networks=[{"ports": list(items)}])


def volumes(*items: dict[str, Any]) -> dict[str, Any]:
    return with_(volumes=list(items))


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"image": {"name": "noble"}}, "spec.flavor: is required"),
        ({"flavor": "m1.small"}, "spec.image: is required"),
        (with_(flavor="M1.Small"), "spec.flavor: must be a Kubernetes object name"),
        (with_(image="noble"), "spec.image: must be an object (got 'noble')"),
        (with_(image={"namespace": "images"}), "spec.image.name: is required"),
        (
            with_(image={"name": "noble", "namespace": "my.images"}),
            "spec.image.namespace: must be a namespace name",
        ),
        (with_(keyPairs=["alice", "alice"]), "spec.keyPairs[1]: repeats 'alice'"),
        (with_(keyPairs=["Alice"]), "spec.keyPairs[0]: must be a Kubernetes object name"),
        (
            with_(keyPairs=[f"k{i}" for i in range(17)]),
            "spec.keyPairs: must have at most 16 items",
        ),
        (with_(userData=7), "spec.userData: must be a string"),
        (with_(userData="x" * 65536), "spec.userData: must be at most 65535 characters long"),
        (
            with_(userData="é" * 40000),
            "spec.userData: userData must be at most 65535 bytes in UTF-8 (Nova's limit)",
        ),
        (
            with_(networks=[{"name": "a"}, {"name": "b"}]),
            "spec.networks: must have at most 1 items (got 2)",
        ),
        (ports({"port": 22}), "spec.networks[0].ports[0].name: is required"),
        (ports({"name": "ssh"}), "spec.networks[0].ports[0].port: is required"),
        (ports({"name": "ssh", "port": 0}), "spec.networks[0].ports[0].port: must be at least 1"),
        (
            ports({"name": "ssh", "port": 65536}),
            "spec.networks[0].ports[0].port: must be at most 65535",
        ),
        (
            ports({"name": "ssh", "port": 22, "protocol": "tcp"}),
            "spec.networks[0].ports[0].protocol: must be one of TCP, UDP, SCTP",
        ),
        (
            ports({"name": "secure-shell-port", "port": 22}),
            "spec.networks[0].ports[0].name: must be at most 15 characters long",
        ),
        (
            ports({"name": "22", "port": 22}),
            "spec.networks[0].ports[0].name: must contain at least one letter",
        ),
        (
            ports({"name": "s--h", "port": 22}),
            "spec.networks[0].ports[0].name: must not contain two adjacent hyphens",
        ),
        (
            ports({"name": "ssh", "port": 22}, {"name": "ssh", "port": 2222}),
            "spec.networks[0].ports[1]: repeats name 'ssh': each item must be unique",
        ),
        (
            ports({"name": "ssh", "port": 22}, {"name": "ssh2", "port": 22}),
            "spec.networks[0].ports: each port number may be listed once per protocol",
        ),
        (volumes({"size": "1Gi"}), "spec.volumes[0].name: is required"),
        (
            volumes({"name": "data"}),
            "spec.volumes[0]: set exactly one of size (a new empty disk) and claimName",
        ),
        (
            volumes({"name": "data", "size": "1Gi", "claimName": "pvc"}),
            "spec.volumes[0]: set exactly one of size",
        ),
        (
            volumes({"name": "data", "claimName": "pvc", "storageClassName": "fast"}),
            "spec.volumes[0]: storageClassName applies only to a new disk (size)",
        ),
        (volumes({"name": "data", "size": "0"}), "spec.volumes[0].size: must be more than 0"),
        (
            volumes({"name": "rootdisk", "size": "1Gi"}),
            "spec.volumes[0].name: rootdisk and cloudinitdisk are the names of the disks the "
            "operator adds: choose another name (got 'rootdisk')",
        ),
        (
            volumes({"name": "Data", "size": "1Gi"}),
            "spec.volumes[0].name: must be a DNS label",
        ),
        (
            volumes({"name": "a", "size": "1Gi"}, {"name": "a", "size": "2Gi"}),
            "spec.volumes[1]: repeats name 'a'",
        ),
        (
            volumes({"name": "a", "claimName": "pvc"}, {"name": "b", "claimName": "pvc"}),
            "spec.volumes: each claimName may be attached once",
        ),
        (with_(availabilityZone="zone a"), "spec.availabilityZone: must be a label value"),
        (with_(serverGroup="Web"), "spec.serverGroup: must be a Kubernetes object name"),
        (with_(powerState="Paused"), "spec.powerState: must be one of Running, Stopped"),
        (with_(reboot={}), "spec.reboot.request: is required"),
        (with_(reboot={"request": ""}), "spec.reboot.request: must not be empty"),
        (with_(reboot={"request": "now please"}), "spec.reboot.request: must be a token"),
        (
            with_(reboot={"request": "1", "type": "HARD"}),
            "spec.reboot.type: must be one of Soft, Hard",
        ),
        (with_(rebuild={"request": 1}), "spec.rebuild.request: must be a string"),
    ],
)
def test_bad_servers_name_the_field(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(SpecError) as caught:
        VirtualServerSpec.from_body({"spec": spec})
    assert str(caught.value).startswith(error), str(caught.value)


def test_user_data_up_to_novas_limit() -> None:
    big = "#!/bin/sh\n" + "x" * (65535 - 10)
    assert VirtualServerSpec.from_body({"spec": with_(userData=big)}).user_data == big
    wide = "é" * (65535 // 2)
    assert VirtualServerSpec.from_body({"spec": with_(userData=wide)}).user_data == wide


IMAGE_NEEDS_REBUILD = "image can change only with a new rebuild.request in the same update"


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        (SERVER, with_(flavor="m1.large"), None),
        (SERVER, with_(powerState="Stopped", reboot={"request": "1"}), None),
        (SERVER, with_(volumes=[{"name": "data", "size": "1Gi"}]), None),
        (SERVER, with_(image={"name": "jammy"}), IMAGE_NEEDS_REBUILD),
        (SERVER, with_(image={"name": "noble", "namespace": "images"}), IMAGE_NEEDS_REBUILD),
        (SERVER, with_(image={"name": "jammy"}, rebuild={"request": "1"}), None),
        (
            with_(rebuild={"request": "1"}),
            with_(image={"name": "jammy"}, rebuild={"request": "1"}),
            IMAGE_NEEDS_REBUILD,
        ),
        (
            with_(rebuild={"request": "1"}),
            with_(image={"name": "jammy"}, rebuild={"request": "2"}),
            None,
        ),
        (with_(rebuild={"request": "1"}), with_(rebuild={"request": "2"}), None),
        (
            SERVER,
            with_(availabilityZone="zone-a"),
            "availabilityZone cannot be added, changed or removed after creation",
        ),
        (with_(availabilityZone="zone-a"), SERVER, "availabilityZone cannot be added"),
        (with_(serverGroup="web"), with_(serverGroup="db"), "serverGroup cannot be added"),
    ],
)
def test_updates(old: dict[str, Any], new: dict[str, Any], error: str | None) -> None:
    if error is None:
        VirtualServerSpec.check_update({"spec": old}, {"spec": new})
    else:
        with pytest.raises(SpecError, match=error):
            VirtualServerSpec.check_update({"spec": old}, {"spec": new})


def test_status_round_trips() -> None:
    body = {
        "observedGeneration": 3,
        "phase": "Ready",
        "conditions": [],
        "status": "ACTIVE",
        "ip": "10.244.1.7",
        "addresses": [{"network": "default", "ip": "10.244.1.7", "family": "IPv4"}],
        "node": "node-1",
        "zone": "zone-a",
        "flavor": "m1.small",
        "image": "apps/noble",
        "powerState": "Running",
        "vmStatus": "Running",
        "lastRebootRequest": "2024-05-01T12:00:00Z",
        "lastRebuildRequest": "r1",
        "launchedAt": "2024-05-01T12:00:05Z",
    }
    status = VirtualServerStatus.from_body({"status": body})
    assert (status.status, status.phase) == (ServerStatus.ACTIVE, VirtualServerPhase.READY)
    assert status.to_body() == body
    failed = VirtualServerStatus.from_body(
        {"status": {"status": "ERROR", "fault": {"message": "No node fits.", "code": 500}}}
    )
    assert failed.fault is not None
    assert (failed.fault.message, failed.fault.code) == ("No node fits.", 500)
    with pytest.raises(SpecError, match=r"^status.status: must be one of BUILD, ACTIVE"):
        VirtualServerStatus.from_body({"status": {"status": "RUNNING"}})
