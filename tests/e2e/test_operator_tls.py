"""An ObjectStore whose gateways serve HTTPS with a certificate from a kubernetes.io/tls Secret:
while the Secret is missing the store says so (Ready=False, an Event); once it exists the
gateways serve TLS, the operator's own admin calls trust the Secret's CA (the store and a
Bucket become Ready), and SSE-C, refused over plain HTTP, works through boto3."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import SSLError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client
from mypy_boto3_s3 import S3Client

from e2e.nodeagent.network import service_local_address
from tests.e2e.bucket_helpers import Resources, bucket_manifest, is_ready, secret_data
from tests.e2e.operator_install import Operator
from tests.e2e.test_operator_store import (
    GROUP,
    STORE_TIMEOUT,
    VERSION,
    condition,
    get_store,
    store_manifest,
)
from tests.e2e.waiting import wait_for_event, wait_until

pytestmark = pytest.mark.e2e

STORE = "sealed"
TLS_SECRET = "sealed-tls"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def tls_secret(dns_names: list[str], address: str) -> tuple[client.V1Secret, bytes]:
    """A kubernetes.io/tls Secret as cert-manager makes one (tls.crt, tls.key, ca.crt): a
    throwaway CA and a server certificate it signed for ``dns_names`` and ``address``; and
    the CA's PEM, for clients to trust."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Nimbus e2e CA"))
        .issuer_name(_name("Nimbus e2e CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
    names.append(x509.IPAddress(IPv4Address(address)))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(dns_names[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    files = {
        "tls.crt": cert.public_bytes(serialization.Encoding.PEM),
        "tls.key": key_pem,
        "ca.crt": ca_pem,
    }
    secret = client.V1Secret(
        metadata=client.V1ObjectMeta(name=TLS_SECRET),
        type="kubernetes.io/tls",
        data={name: base64.b64encode(value).decode() for name, value in files.items()},
    )
    return secret, ca_pem


def s3_over_https(url: str, core_v1: client.CoreV1Api, namespace: str, verify: str) -> S3Client:
    admin = secret_data(core_v1, namespace, f"{STORE}-admin")
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=admin["accessKey"],
        aws_secret_access_key=admin["secretKey"],
        region_name="us-east-1",
        verify=verify,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 8, "mode": "standard"},
            connect_timeout=5,
        ),
    )


@pytest.mark.timeout(480)
def test_https_gateways_serve_sse_c_and_the_operator_trusts_their_ca(
    nimbus_operator: Operator,
    core_v1: client.CoreV1Api,
    custom_objects: client.CustomObjectsApi,
    namespace: str,
    tmp_path: Path,
) -> None:
    manifest = store_manifest(STORE, nodes=1)
    manifest["spec"]["gateway"]["tls"] = {"secretName": TLS_SECRET}
    custom_objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "objectstores", manifest
    )

    def store() -> dict[str, Any]:
        return get_store(custom_objects, namespace, STORE)

    missing = wait_until(
        store,
        lambda found: condition(found, "Ready").get("reason") == "TlsSecretMissing",
        "Ready=False for the missing TLS Secret",
        STORE_TIMEOUT,
    )
    message = condition(missing, "Ready")["message"]
    assert message.startswith(
        f'Secret "{TLS_SECRET}" not found in namespace "{namespace}": create it with '
        f"kubectl create secret tls {TLS_SECRET} -n {namespace} --cert=tls.crt --key=tls.key"
    )
    warning = wait_for_event(core_v1, namespace, STORE, "TlsSecretMissing")
    assert (warning.type, warning.message) == ("Warning", message)

    # The Service exists already (the gateways wait): the certificate names it as the operator
    # reaches it (<store>.<ns>.svc) and as this test does (its local address).
    service = core_v1.read_namespaced_service(STORE, namespace)
    assert service.spec is not None
    assert service.spec.ports is not None
    assert [(p.name, p.port, p.app_protocol) for p in service.spec.ports] == [
        ("https", 443, "https")
    ]
    address = service_local_address(service.spec.cluster_ip)
    assert address is not None
    host = f"{STORE}.{namespace}.svc"
    secret, ca_pem = tls_secret([host, f"{host}.cluster.local"], address)
    core_v1.create_namespaced_secret(namespace, secret)
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca_pem)
    # The operator watches the Secrets stores name: the new one is acted on at once (an Event
    # only that watch posts), not at the next resync.
    changed = wait_for_event(core_v1, namespace, STORE, "SecretChanged")
    assert (changed.type, changed.message) == (
        "Normal",
        f'Secret "{TLS_SECRET}" was created: reconciling the store now.',
    )

    # Ready needs the operator's own admin call (usage) to the gateway over HTTPS.
    ready = wait_until(
        store,
        lambda found: found.get("status", {}).get("phase") == "Ready",
        "the store Ready with HTTPS gateways",
        STORE_TIMEOUT,
    )
    assert ready["status"]["endpoint"] == f"https://{host}"
    assert condition(ready, "Ready")["message"] == f"S3 is served at https://{host}."

    url = f"https://{address}"
    s3 = s3_over_https(url, core_v1, namespace, str(ca_file))
    s3.create_bucket(Bucket="customer-keys")
    key = os.urandom(32)
    put = s3.put_object(
        Bucket="customer-keys",
        Key="secret.txt",
        Body=b"sealed with my own key",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=key,  # boto3 base64-encodes it and adds its MD5
    )
    got = s3.get_object(
        Bucket="customer-keys",
        Key="secret.txt",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=key,
    )
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert got["Body"].read() == b"sealed with my own key"

    # The gateway's certificate is checked for real: without the CA the handshake fails.
    untrusting = boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="x",
        aws_secret_access_key="y",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(SSLError):
        untrusting.list_buckets()

    # A Bucket: the operator's admin calls over HTTPS; apps are told the https endpoint.
    resources = Resources(custom_objects, namespace)
    resources.create("buckets", bucket_manifest("photos", STORE, bucketName="photos"))
    bucket = wait_until(
        lambda: resources.get("buckets", "photos"), is_ready, "the Bucket Ready", STORE_TIMEOUT
    )
    assert bucket["status"]["endpoint"] == f"https://{host}"
    config_map = core_v1.read_namespaced_config_map("photos", namespace).data or {}
    assert (config_map["AWS_ENDPOINT_URL"], config_map["BUCKET_PORT"]) == (f"https://{host}", "443")
    # ... and the authority to trust: the Secret's ca.crt, for AWS_CA_BUNDLE once mounted.
    assert config_map["ca.crt"] == config_map["COSI_CERTIFICATE_AUTHORITY"] == ca_pem.decode()
    assert config_map["AWS_CA_BUNDLE"] == "/etc/nimbus/bucket-ca/ca.crt"
