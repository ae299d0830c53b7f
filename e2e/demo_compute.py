"""The compute half of ``make up``: an Image uploaded to a Nimbus Bucket, and a VirtualServer
that boots it, from ``examples/compute/``.

KubeVirt's controllers cannot run here: the local cluster carries KubeVirt's and CDI's real
CRDs and a stand-in for their controllers (``e2e/kubevirt_standin``), which checks that the
image can be read, places the server's launcher pod with the real scheduler and reports
KubeVirt's states — no guest boots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import boto3

from e2e.nodeagent.network import service_local_address

COMPUTE = Path(__file__).resolve().parents[1] / "examples" / "compute"
IMAGES_BUCKET = "images-bucket.yaml"
CATALOG = ("flavor.yaml", "keypair.yaml", "servergroup.yaml", "image.yaml")
SERVER = "virtualserver.yaml"
IMAGE_KEY = "noble.qcow2"
IMAGE_BYTES = b"QFI\xfb" + b"\0" * 65532
"""A stand-in disk: nothing boots it (see the module's docstring)."""


class Demo(Protocol):
    def apply(self, manifest: Path) -> None: ...

    def wait(self, what: str, kind: str, name: str, ready: Any) -> dict[str, Any]: ...

    def secret(self, name: str) -> dict[str, str]: ...

    def service_ip(self, name: str) -> str: ...

    def kubectl(self, *args: str) -> str: ...


def run_server(demo: Demo) -> None:
    demo.apply(COMPUTE / IMAGES_BUCKET)
    demo.wait("Bucket images Ready", "bucket", "images", lambda s: s.get("phase") == "Ready")
    demo.wait(
        "BucketAccess images-uploader ready to use",
        "bucketaccess",
        "images-uploader",
        lambda s: bool(s.get("readyToUse")),
    )
    keys = demo.secret("images-uploader")
    endpoint = f"http://{service_local_address(demo.service_ip('store'))}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        region_name=keys.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    s3.put_object(Bucket=keys["BUCKET_NAME"], Key=IMAGE_KEY, Body=IMAGE_BYTES)
    print(f"\nUploaded s3://{keys['BUCKET_NAME']}/{IMAGE_KEY} ({len(IMAGE_BYTES)} bytes)")
    for manifest in CATALOG:
        demo.apply(COMPUTE / manifest)
    demo.wait("Image noble imported", "image", "noble", lambda s: s.get("phase") == "Ready")
    demo.apply(COMPUTE / SERVER)
    demo.wait("VirtualServer web-1 ACTIVE", "virtualserver", "web-1", _active)
    print("\n$ kubectl get flavors")
    print(demo.kubectl("get", "flavors"), end="")
    print("\n$ kubectl get images,keypairs,servergroups,virtualservers -n demo")
    print(demo.kubectl("get", "images,keypairs,servergroups,virtualservers", "-n", "demo"), end="")


def _active(status: dict[str, Any]) -> bool:
    return status.get("status") == "ACTIVE" and not status.get("taskState")
