"""Compute specs that break (or narrowly pass) the CEL rules, and updates for the transition
rules: test_cel_rules evaluates every rule on them with cel-python and with its Python twin."""

from __future__ import annotations

from typing import Any

from tests.unit.operator.compute_samples import ED25519_KEY, RSA_KEY

FLAVOR = {"vcpus": 2, "memory": "4Gi", "rootDisk": "20Gi"}
SOURCE = {"containerDisk": {"image": "quay.io/containerdisks/fedora:40"}}
SERVER = {"flavor": "m1.small", "image": {"name": "noble"}}


def _ports(*ports: dict[str, Any]) -> dict[str, Any]:
    return {**SERVER, "networks": [{"name": "default", "ports": list(ports)}]}


def _volumes(*volumes: dict[str, Any]) -> dict[str, Any]:
    return {**SERVER, "volumes": list(volumes)}


COMPUTE_EXTRA_SPECS: dict[str, list[dict[str, Any]]] = {
    "Flavor": [
        {**FLAVOR, "extraSpecs": {"nodeSelector": {"not a key!": "x"}}},
        {**FLAVOR, "extraSpecs": {"nodeSelector": {"example.com/" + "a" * 64: "x"}}},
    ],
    "Image": [
        {"source": {}},
        {"source": {**SOURCE, "http": {"url": "https://x.example/a.img"}}},
        {
            "source": {
                "http": {"url": "https://x.example/a.img"},
                "bucket": {"name": "b", "key": "k"},
            }
        },
    ],
    "KeyPair": [
        {"publicKey": "ssh-dss AAAAB3NzaC1kc3M= old"},
        {"publicKey": ED25519_KEY.replace(" ", "  ", 1)},
        {"publicKey": ED25519_KEY + "\nssh-rsa AAAA"},
    ],
    "ServerGroup": [
        {"policy": "affinity", "maxPerHost": 2},
        {"policy": "soft-anti-affinity", "maxPerHost": 1},
    ],
    "VirtualServer": [
        _ports({"name": "80", "port": 80}),
        _ports({"name": "a--b", "port": 80}),
        _ports({"name": "http", "port": 80}, {"name": "web", "port": 80}),
        _volumes({"name": "rootdisk", "size": "1Gi"}),
        _volumes({"name": "empty"}),
        _volumes({"name": "both", "size": "1Gi", "claimName": "c"}),
        _volumes({"name": "classy", "claimName": "c", "storageClassName": "fast"}),
        _volumes({"name": "a", "claimName": "c"}, {"name": "b", "claimName": "c"}),
        {**SERVER, "userData": "é" * 40000},
        {**SERVER, "userData": "x" * 65535},
    ],
    "ComputeQuota": [{}, {"memory": "1Gi"}],
}

COMPUTE_UPDATES: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {
    "Flavor": [
        (FLAVOR, {**FLAVOR, "extraSpecs": {"dedicatedCpus": True}}),
        (FLAVOR, {**FLAVOR, "vcpus": 4}),
        (FLAVOR, {**FLAVOR, "memory": "8Gi"}),
        (FLAVOR, {**FLAVOR, "rootDisk": "40Gi"}),
    ],
    "Image": [
        ({"source": SOURCE}, {"source": SOURCE, "public": True, "minDisk": "1Gi"}),
        ({"source": SOURCE}, {"source": {"containerDisk": {"image": "quay.io/other:1"}}}),
        ({"source": SOURCE}, {"source": SOURCE, "format": "raw"}),
    ],
    "KeyPair": [
        ({"publicKey": ED25519_KEY}, {"publicKey": ED25519_KEY}),
        ({"publicKey": ED25519_KEY}, {"publicKey": RSA_KEY}),
    ],
    "ServerGroup": [
        ({"policy": "anti-affinity"}, {"policy": "anti-affinity"}),
        ({"policy": "anti-affinity"}, {"policy": "affinity"}),
        ({"policy": "anti-affinity"}, {"policy": "anti-affinity", "maxPerHost": 2}),
        (
            {"policy": "anti-affinity", "maxPerHost": 2},
            {"policy": "anti-affinity", "maxPerHost": 2},
        ),
    ],
    "VirtualServer": [
        (SERVER, {**SERVER, "flavor": "m1.large", "powerState": "Stopped"}),
        (SERVER, {**SERVER, "image": {"name": "jammy"}}),
        (SERVER, {**SERVER, "image": {"name": "jammy"}, "rebuild": {"request": "1"}}),
        (
            {**SERVER, "rebuild": {"request": "1"}},
            {**SERVER, "image": {"name": "jammy"}, "rebuild": {"request": "1"}},
        ),
        (
            {**SERVER, "rebuild": {"request": "1"}},
            {**SERVER, "image": {"name": "jammy"}, "rebuild": {"request": "2"}},
        ),
        ({**SERVER, "availabilityZone": "a"}, {**SERVER, "availabilityZone": "a"}),
        ({**SERVER, "availabilityZone": "a"}, {**SERVER, "availabilityZone": "b"}),
        (SERVER, {**SERVER, "serverGroup": "web"}),
        ({**SERVER, "serverGroup": "web"}, {**SERVER, "serverGroup": "web"}),
    ],
}
