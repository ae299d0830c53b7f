"""The compute half of ``make up``: an Image uploaded to a Nimbus Bucket, and a VirtualServer
that boots it, from ``examples/compute/``, then SSH and HTTP into the guest.

KubeVirt's controllers cannot run here: the local cluster carries KubeVirt's and CDI's real
CRDs and a stand-in for their controllers (``e2e/kubevirt_standin``), which imports the image
through the Image's presigned URL, places the server's launcher pod with the real scheduler,
and boots the guest under QEMU in that pod (the launcher stand-in), reporting KubeVirt's
states. The image is the Debian guest image of ``python -m e2e.guest build`` (built on first
use, cached); the key pair is made for the demo (``<run dir>/id_ed25519``) and replaces the
example's public key.
"""

from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path
from typing import Any, Protocol

import boto3

from e2e.guest.image import ensure_image
from e2e.guest.ssh import keygen, ssh_until
from e2e.nodeagent.network import service_local_address

COMPUTE = Path(__file__).resolve().parents[1] / "examples" / "compute"
IMAGES_BUCKET = "images-bucket.yaml"
CATALOG = ("flavor.yaml", "keypair.yaml", "servergroup.yaml", "image.yaml")
SERVER = "virtualserver.yaml"
IMAGE_KEY = "debian.qcow2"
KEYPAIR = "keypair.yaml"
GUEST_USER = "debian"
SSH_TIMEOUT = 120.0


class Demo(Protocol):
    def apply(self, manifest: Path) -> None: ...

    def wait(self, what: str, kind: str, name: str, ready: Any) -> dict[str, Any]: ...

    def secret(self, name: str) -> dict[str, str]: ...

    def service_ip(self, name: str) -> str: ...

    def kubectl(self, *args: str) -> str: ...


def run_server(demo: Demo, run_dir: Path) -> str:
    """Everything above; returns the ``ssh`` command line that logs into the server."""
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
    disk = ensure_image().image.disk
    s3.upload_file(str(disk), keys["BUCKET_NAME"], IMAGE_KEY)
    print(f"\nUploaded s3://{keys['BUCKET_NAME']}/{IMAGE_KEY} ({disk.stat().st_size} bytes)")
    key = run_dir / "id_ed25519"
    if not key.exists():
        keygen(key, "demo@nimbus")
    for manifest in CATALOG:
        demo.apply(
            _with_public_key(manifest, key, run_dir) if manifest == KEYPAIR else COMPUTE / manifest
        )
    demo.wait("Image debian imported", "image", "debian", lambda s: s.get("phase") == "Ready")
    demo.apply(COMPUTE / SERVER)
    server = demo.wait("VirtualServer web-1 ACTIVE", "virtualserver", "web-1", _active)
    print("\n$ kubectl get flavors")
    print(demo.kubectl("get", "flavors"), end="")
    print("\n$ kubectl get images,keypairs,servergroups,virtualservers -n demo")
    print(demo.kubectl("get", "images,keypairs,servergroups,virtualservers", "-n", "demo"), end="")
    address = str(server["ip"])
    command = "hostname; grep PRETTY /etc/os-release; lsblk -d -o NAME,SIZE,SERIAL"
    print(f"\n$ ssh -i {key} {GUEST_USER}@{address} '{command}'")
    print(ssh_until(address, 22, key, command, timeout=SSH_TIMEOUT, user=GUEST_USER).stdout, end="")
    print(f"\n$ curl http://{address}/")
    print(_http_get(f"http://{address}/"), end="")
    return f"ssh -i {key} {GUEST_USER}@{address}"


def _with_public_key(manifest: str, key: Path, run_dir: Path) -> Path:
    """The example KeyPair with the demo's public key instead of the example's."""
    text = (COMPUTE / manifest).read_text()
    public = key.with_name(key.name + ".pub").read_text().strip()
    written = run_dir / manifest
    written.write_text(re.sub(r"(?m)^(\s*publicKey:).*$", rf"\1 {public}", text))
    return written


def _http_get(url: str) -> str:
    """The page the guest serves, polled until cloud-init's runcmd has started the server."""
    deadline = time.monotonic() + SSH_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def _active(status: dict[str, Any]) -> bool:
    return status.get("status") == "ACTIVE" and not status.get("taskState")
