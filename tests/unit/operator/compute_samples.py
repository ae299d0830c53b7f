"""Valid compute.nimbus.dev bodies of each kind, from the least a user writes to every field,
and SSH public keys with their fingerprints as ``ssh-keygen -l`` printed them."""

from __future__ import annotations

from typing import Any

Body = dict[str, Any]

ED25519_KEY = " ".join(
    (
        "ssh-ed25519",
        "AAAAC3NzaC1lZDI1NTE5AAAAIFmEpLA2Oc7XwNfVOLp9BFA7Su4twp9IC6wkBgHb72+y",
        "alice@laptop",
    )
)
RSA_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDbAika4WPjkZIrouji+IpvCdl7PGHOqRtESFqxiAfZ"
    "kHDX0bfWhzPXcgp5wL1MqwHIbNYByILInfcIycVlooC9bAyLaJhLdO9QO2K/5Cv/Rsoxj3EUMqC22orp"
    "Jtrtqnl6vseB6f+65cryWyfAxFaPb05thSRGUC8HQW7pRM588KOQAiuPBemkbeonPuG6OgDgJPAypKFe"
    "28iME+GOL4Euu08xP8fDQxfz9wVC/q/D7WI0jjWjvHsMGjRzzCYU3TDrewMFxfIquvEzpAyNEd49mUKk"
    "XXnDs0kw1Qnq4h22fh7/7xz1HiK1K18oGZATx0964W1hYNswVNDSn9DiPESL bob@ci"
)
ECDSA_256_KEY = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJBc9/wq"
    "tTzw0Z9K9HfrqU/bqiTN0/i8/0GhMOENa9uRq7lybj5+DswyGS1vKZiZlkScoEM9SnQTkPpCCKjDUdE="
    " "
)
ECDSA_521_KEY = (
    "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAEE5Cyi"
    "V6zffxKF46i44/sy+DZV3RcXI8+XZX/k+aGpNt7YFu9yTz0qi9b7ZqWKL1fg7+94i4V67BZoXv2hFgMB"
    "JgC0F40EIfjTJZWp85JSCBYut2TNrsTfiVFaAH/WJ7OboIDuaITR+1asuuImnf1Z9RzMoD+jmC2edUjX"
    "58lvLncFDA== x"
)
RSA_1024_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDR76M5yAxNxQxiuyHwUwscfiSi5Q1YL9trzGd9CykL"
    "hj2FHz94bEobJjz1YO+f9lFFpkHLWPEMhkgqT5qTGSU9xvWrckyzahxQzP/xOxLqPIGUZTRyn4wm6JvD"
    "gWoHSbzQZGSiAANA5CEtpTjELhfiPabUE1DwWzKh+KFm6D0NLw== root@vm"
)

FINGERPRINTS: dict[str, tuple[int, str, str, str]] = {
    # key: (bits, SHA256 fingerprint, MD5 fingerprint, type), as ssh-keygen -l [-E md5] prints.
    ED25519_KEY: (
        256,
        "SHA256:Ow/jHgTLYdTwebDp3hSTBBwNo3Xpiy5ZqZEXeDW2utk",
        "MD5:fa:4a:10:2b:cb:81:c4:22:72:ba:92:d6:85:a9:ae:e5",
        "ED25519",
    ),
    RSA_KEY: (
        2048,
        "SHA256:MyyQZ6/RUAdj06LMIEdyyqnKNvS/bmxfdwiRfyQIIbE",
        "MD5:32:a2:a4:bd:14:f6:3a:90:c9:f4:c8:e7:da:c6:66:0d",
        "RSA",
    ),
    ECDSA_256_KEY: (
        256,
        "SHA256:Dns9B+7gh1EkPMUBCGH0H6rm5HwrqxUv9qJenHcnFFc",
        "MD5:97:89:89:bd:93:f5:10:ca:09:1e:c4:d8:37:98:6d:bc",
        "ECDSA",
    ),
    ECDSA_521_KEY: (
        521,
        "SHA256:i7LSGIlDrR9Anu0HOL0dWO4vjKx2C4x2rN8SPkcX9Fo",
        "MD5:eb:bb:57:d7:3f:fd:2c:75:d2:35:28:e1:a0:7e:af:8f",
        "ECDSA",
    ),
}


def body(kind: str, spec: dict[str, Any] | None, name: str = "sample") -> Body:
    """A compute custom-resource body around a spec (``None``: no spec at all)."""
    made: Body = {
        "apiVersion": "compute.nimbus.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "apps", "uid": "u-1", "generation": 2},
    }
    if spec is not None:
        made["spec"] = spec
    return made


FLAVORS: dict[str, Body] = {
    "small": body("Flavor", {"vcpus": 1, "memory": "2Gi", "rootDisk": "20Gi"}),
    "full": body(
        "Flavor",
        {
            "vcpus": 8,
            "memory": "16Gi",
            "rootDisk": "100Gi",
            "extraSpecs": {
                "dedicatedCpus": True,
                "hugepages": {"pageSize": "1Gi"},
                "gpus": [{"name": "gpu1", "deviceName": "nvidia.com/TU104GL_Tesla_T4"}],
                "hostDevices": [
                    {"name": "vf1", "deviceName": "intel.com/sriov_net_a"},
                    {"name": "vf2", "deviceName": "intel.com/sriov_net_a"},
                ],
                "nodeSelector": {"node.kubernetes.io/instance-type": "metal", "gpu": "true"},
            },
        },
    ),
}

IMAGES: dict[str, Body] = {
    "container-disk": body(
        "Image", {"source": {"containerDisk": {"image": "quay.io/containerdisks/fedora:40"}}}
    ),
    "http": body(
        "Image",
        {
            "source": {"http": {"url": "https://cloud.example/noble.img"}},
            "format": "raw",
            "minDisk": "5Gi",
        },
    ),
    "bucket": body(
        "Image",
        {
            "source": {
                "bucket": {"name": "images", "key": "noble.qcow2", "accessSecretName": "images-ro"}
            },
            "public": True,
        },
    ),
}

KEY_PAIRS: dict[str, Body] = {
    "ed25519": body("KeyPair", {"publicKey": ED25519_KEY}),
    "rsa": body("KeyPair", {"publicKey": RSA_KEY + "\n"}),
    "ecdsa": body("KeyPair", {"publicKey": ECDSA_256_KEY}),
}

SERVER_GROUPS: dict[str, Body] = {
    "anti-affinity": body("ServerGroup", {"policy": "anti-affinity", "maxPerHost": 2}),
    "soft-affinity": body("ServerGroup", {"policy": "soft-affinity"}),
}

VIRTUAL_SERVERS: dict[str, Body] = {
    "minimal": body("VirtualServer", {"flavor": "m1.small", "image": {"name": "noble"}}),
    "full": body(
        "VirtualServer",
        {
            "flavor": "m1.large",
            "image": {"name": "noble", "namespace": "images"},
            "keyPairs": ["alice", "bob"],
            "userData": "#cloud-config\npackages: [nginx]\n",
            "networks": [
                {
                    "name": "default",
                    "ports": [
                        {"name": "ssh", "port": 22},
                        {"name": "dns", "port": 53, "protocol": "UDP"},
                        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                    ],
                }
            ],
            "volumes": [
                {"name": "data", "size": "50Gi", "storageClassName": "fast"},
                {"name": "logs", "claimName": "web-logs"},
            ],
            "availabilityZone": "zone-a",
            "serverGroup": "web",
            "powerState": "Stopped",
            "reboot": {"request": "2024-05-01T12:00:00Z", "type": "Hard"},
            "rebuild": {"request": "r1"},
        },
    ),
    "network-defaults": body(
        "VirtualServer",
        {"flavor": "m1.small", "image": {"name": "noble"}, "networks": [{}]},
    ),
}

COMPUTE_QUOTAS: dict[str, Body] = {
    "instances": body("ComputeQuota", {"instances": 10}),
    "full": body("ComputeQuota", {"instances": 10, "vcpus": 40, "memory": "64Gi"}),
}

COMPUTE_SAMPLES: dict[str, dict[str, Body]] = {
    "Flavor": FLAVORS,
    "Image": IMAGES,
    "KeyPair": KEY_PAIRS,
    "ServerGroup": SERVER_GROUPS,
    "VirtualServer": VIRTUAL_SERVERS,
    "ComputeQuota": COMPUTE_QUOTAS,
}
