"""The gateways' certificate (spec.gateway.tls.secretName): the user's Secret, only ever read.

The gateways mount its tls.crt and tls.key and serve HTTPS with them. While the Secret is
missing, or lacks either, or its certificate does not load, the gateways are not rolled out
(a pod mounting a missing key would hang in ContainerCreating, a gateway whose files do not
load refuses to start): the store says so (Ready=False, reason ``TlsSecretMissing`` or
``TlsSecretInvalid``) with an Event when that begins and ends. Gateways already running keep
what they loaded.

The gateway reads its certificate only at start, so a renewed certificate (cert-manager's, or
a ``kubectl apply`` of a new one) rolls the gateways: its digest is on their pod template.

The operator's own calls to the gateways trust the Secret's ``ca.crt`` (cert-manager writes
it), else its ``tls.crt`` (a self-signed certificate is its own authority).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from nimbus_operator.clients.kube import Kube
from nimbus_operator.clients.tls import CertificateInvalid, check_certificates
from nimbus_operator.reconcilers.objectstore.secrets import SecretProblem, WatchedSecret
from nimbus_operator.render.store_design import TLS_CA_KEY, TLS_CERT_KEY, TLS_KEY_KEY, StoreDesign

TLS_SECRET_MISSING = "TlsSecretMissing"
TLS_SECRET_INVALID = "TlsSecretInvalid"
TLS_SECRET_FOUND = "TlsSecretFound"
REASONS = (TLS_SECRET_MISSING, TLS_SECRET_INVALID)


@dataclass(frozen=True)
class GatewayTls:
    """What the store's TLS Secret gives: the authority to trust, the certificate's digest."""

    ca_pem: str
    revision: str


def _how_to_create(name: str, namespace: str, host: str) -> str:
    return (
        f"kubectl create secret tls {name} -n {namespace} --cert=tls.crt --key=tls.key "
        f"(a certificate for {host}, e.g. from cert-manager)"
    )


def _decoded(data: dict[str, str], key: str) -> str:
    try:
        return base64.b64decode(data.get(key) or "").decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def read_gateway_tls(
    kube: Kube, namespace: str, name: str, host: str
) -> GatewayTls | SecretProblem:
    """The Secret ``namespace/name`` as the gateways (serving ``host``) need it, or what is
    wrong with it."""
    found = kube.get("v1", "Secret", name, namespace)
    if found is None:
        return SecretProblem(
            name,
            TLS_SECRET_MISSING,
            f'Secret "{name}" not found in namespace "{namespace}": create it with '
            f"{_how_to_create(name, namespace, host)}, or point spec.gateway.tls.secretName "
            "at an existing one; the gateways are rolled out once it exists.",
        )
    data = dict(found.get("data") or {})
    cert, key, ca = (_decoded(data, k) for k in (TLS_CERT_KEY, TLS_KEY_KEY, TLS_CA_KEY))
    lacking = [k for k, value in ((TLS_CERT_KEY, cert), (TLS_KEY_KEY, key)) if not value]
    problem = f"lacks {' and '.join(lacking)}" if lacking else None
    if problem is None:
        for what, pem in ((TLS_CERT_KEY, cert), (TLS_CA_KEY, ca)):
            try:
                if pem:
                    check_certificates(pem)
            except CertificateInvalid as error:
                problem = f"has a {what} that is not a PEM certificate ({error})"
                break
    if problem is not None:
        return SecretProblem(
            name,
            TLS_SECRET_INVALID,
            f'Secret "{name}" in namespace "{namespace}" {problem}: it needs tls.crt and '
            f"tls.key (and optionally ca.crt), as {_how_to_create(name, namespace, host)} "
            "makes it; the gateways are rolled out once it holds them.",
        )
    revision = hashlib.sha256(cert.encode()).hexdigest()[:16]
    return GatewayTls(ca or cert, revision)


def gateway_tls(kube: Kube, design: StoreDesign) -> GatewayTls | SecretProblem | None:
    """None when the store serves plain HTTP."""
    if design.tls_secret is None:
        return None
    return read_gateway_tls(kube, design.namespace, design.tls_secret, design.service_host)


def watched_tls_secret(design: StoreDesign) -> WatchedSecret:
    """The TLS Secret as `secret_events` follows it."""
    name = design.tls_secret
    return WatchedSecret(
        name,
        REASONS,
        TLS_SECRET_FOUND,
        f'Secret "{name}" holds a certificate: rolling out the gateways with HTTPS.',
    )
