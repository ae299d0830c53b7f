"""Trusting a store's gateways over HTTPS: the operator's clients verify the gateway's
certificate against the authority the store's TLS Secret names (its ``ca.crt``, else its
``tls.crt``), never against nothing. One place builds what urllib and boto3 take."""

from __future__ import annotations

import functools
import hashlib
import os
import ssl
import tempfile
from pathlib import Path

CA_DIRECTORY = "nimbus-gateway-ca"


class CertificateInvalid(ValueError):
    """PEM text that does not load as one or more certificates."""


def check_certificates(pem: str) -> None:
    """``CertificateInvalid`` unless ``pem`` holds at least one PEM certificate that loads."""
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise CertificateInvalid("no PEM certificate (-----BEGIN CERTIFICATE-----) in it")
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError) as error:
        raise CertificateInvalid(f"it does not load as PEM certificates: {error}") from None


def client_context(ca_pem: str | None) -> ssl.SSLContext:
    """A verifying client context: trusting ``ca_pem`` only, or the system's authorities."""
    if ca_pem:
        return ssl.create_default_context(cadata=ca_pem)
    return ssl.create_default_context()


@functools.lru_cache(maxsize=64)
def ca_bundle_file(ca_pem: str) -> str:
    """``ca_pem`` as a file (botocore's ``verify`` takes a path): under the temporary
    directory (the operator pod's emptyDir ``/tmp``), named by its digest, written once."""
    digest = hashlib.sha256(ca_pem.encode()).hexdigest()[:32]
    directory = Path(tempfile.gettempdir()) / CA_DIRECTORY
    directory.mkdir(mode=0o755, exist_ok=True)
    path = directory / f"{digest}.pem"
    if not path.exists():
        handle, partial = tempfile.mkstemp(dir=directory, suffix=".partial")
        with os.fdopen(handle, "w") as out:
            out.write(ca_pem)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    return str(path)


def boto_verify(ca_pem: str | None) -> str | bool:
    """botocore's ``verify``: the store's authority as a file, or True (the system's)."""
    return ca_bundle_file(ca_pem) if ca_pem else True
