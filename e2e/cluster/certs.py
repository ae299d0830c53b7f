"""A throwaway PKI for one local control plane: a CA, the API server's serving certificate,
one client certificate per identity, a front-proxy CA and client (the aggregation layer, as
kubeadm sets it up), and the service-account signing key.

Keys are ECDSA P-256 (fast to generate); the service-account key is RSA-2048 (RS256 tokens,
what every Kubernetes client expects).
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=30)
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
KUBERNETES_SERVICE_IP = "10.0.0.1"
API_SERVER_DNS_NAMES = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
API_SERVER_IPS = ("127.0.0.1", KUBERNETES_SERVICE_IP)


@dataclass(frozen=True)
class ClientIdentity:
    """A user the API server authenticates by client certificate (CN = user, O = groups)."""

    file_stem: str
    user: str
    groups: tuple[str, ...] = ()


ADMIN = ClientIdentity("admin", "nimbus-admin", ("system:masters",))
CONTROLLER_MANAGER = ClientIdentity("kube-controller-manager", "system:kube-controller-manager")
SCHEDULER = ClientIdentity("kube-scheduler", "system:kube-scheduler")
# kwok acts for every fake kubelet (node status, leases, pod status, pod deletion).
KWOK = ClientIdentity("kwok", "kwok-controller", ("system:masters",))
# The node agent runs the pods of every node (status, tokens, events, volumes, final deletes).
NODE_AGENT = ClientIdentity("node-agent", "nimbus-node-agent", ("system:masters",))
# The virt-controller stand-in (e2e/kubevirt_standin) acts for KubeVirt's and CDI's controllers.
KUBEVIRT_STANDIN = ClientIdentity(
    "kubevirt-standin", "nimbus-kubevirt-standin", ("system:masters",)
)
CLIENT_IDENTITIES = (ADMIN, CONTROLLER_MANAGER, SCHEDULER, KWOK, NODE_AGENT, KUBEVIRT_STANDIN)
# The API server's identity towards aggregated API servers (signed by the front-proxy CA).
FRONT_PROXY_CLIENT = ClientIdentity("front-proxy-client", "front-proxy-client")


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ClusterPki:
    """Paths of everything ``generate_pki`` wrote."""

    ca: CertPair
    api_server: CertPair
    clients: dict[str, CertPair]
    """Client certificate per ``ClientIdentity.file_stem``."""
    front_proxy_ca: CertPair
    front_proxy_client: CertPair
    service_account_key: Path
    service_account_public_key: Path


def generate_pki(directory: Path) -> ClusterPki:
    """Write a fresh CA, serving cert, client certs and service-account keys into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_cert, ca_key = _self_signed_ca("nimbus-local-ca", now)
    ca = _write_pair(directory, "ca", ca_cert, ca_key)

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in API_SERVER_DNS_NAMES]
    alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in API_SERVER_IPS]
    server_cert = (
        _leaf_builder(server_name, ca_cert, server_key, now)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    api_server = _write_pair(directory, "apiserver", server_cert, server_key)

    clients: dict[str, CertPair] = {}
    for identity in CLIENT_IDENTITIES:
        clients[identity.file_stem] = _client_pair(directory, identity, ca_cert, ca_key, now)

    front_proxy_ca_cert, front_proxy_ca_key = _self_signed_ca("nimbus-front-proxy-ca", now)
    front_proxy_ca = _write_pair(
        directory, "front-proxy-ca", front_proxy_ca_cert, front_proxy_ca_key
    )
    front_proxy_client = _client_pair(
        directory, FRONT_PROXY_CLIENT, front_proxy_ca_cert, front_proxy_ca_key, now
    )

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_private = directory / "service-account.key"
    sa_public = directory / "service-account.pub"
    _write_private_key(sa_private, sa_key)
    sa_public.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return ClusterPki(
        ca, api_server, clients, front_proxy_ca, front_proxy_client, sa_private, sa_public
    )


def _self_signed_ca(
    common_name: str, now: datetime.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        _builder(name, name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _client_pair(
    directory: Path,
    identity: ClientIdentity,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
) -> CertPair:
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in identity.groups]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, identity.user))
    cert = (
        _leaf_builder(x509.Name(attributes), ca_cert, key, now)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _write_pair(directory, identity.file_stem, cert, key)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _leaf_builder(
    subject: x509.Name,
    ca_cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    ca_key_id = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        _builder(subject, ca_cert.subject, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id), False
        )
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_pair(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> CertPair:
    pair = CertPair(directory / f"{stem}.crt", directory / f"{stem}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private_key(pair.key, key)
    return pair


def _write_private_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.touch(mode=0o600)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
