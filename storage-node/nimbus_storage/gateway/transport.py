"""How a request reached the gateway, and SSE-C only over a secure connection.

* The S3 listener serves TLS when the gateway is given a certificate and its key (``--tls-cert``,
  ``--tls-key``): ``server_ssl_context``. The metrics, health and admin endpoints share that
  listener, so they are served over TLS too.
* A request came over a **secure connection** when its own connection is TLS, or, only when the
  gateway's operator said a proxy in front ends TLS and sets the header (``--trust-forwarded-
  proto``), when ``X-Forwarded-Proto`` says ``https`` (its last value: the one the proxy next
  to the gateway set): ``is_secure``. A client reaching the gateway directly could send that
  header itself, which is why it is never trusted by default.
* A request carrying an SSE-C key (any ``x-amz-server-side-encryption-customer-*`` or
  ``x-amz-copy-source-server-side-encryption-customer-*`` header, or a browser upload's
  ``x-amz-server-side-encryption-customer-*`` form field) over anything else is refused as AWS
  and MinIO refuse it, ``400 InvalidRequest`` "Requests specifying Server Side Encryption with
  Customer provided keys must be made over a secure connection.", before its key is parsed
  and before anything is stored: ``refuse_insecure_customer_key``. The key already crossed the
  network in clear; the refusal keeps the client from believing that was fine.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from pathlib import Path

from aiohttp import web

from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.s3errors import InvalidRequest
from nimbus_storage.sse.keys import requests_customer_key

__all__ = [
    "INSECURE_CUSTOMER_KEY_MESSAGE",
    "TlsFilesInvalid",
    "forwarded_https",
    "is_secure",
    "refuse_insecure_customer_key",
    "server_ssl_context",
]

INSECURE_CUSTOMER_KEY_MESSAGE = (
    "Requests specifying Server Side Encryption with Customer provided keys must be made over"
    " a secure connection."
)
FORWARDED_PROTO = "X-Forwarded-Proto"


class TlsFilesInvalid(Exception):
    """The certificate or key file of ``--tls-cert`` / ``--tls-key`` does not load."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def server_ssl_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The TLS context of the S3 listener (TLS 1.2 at least); None when neither file is given.
    ``TlsFilesInvalid`` when only one is, or they do not load (unreadable, not PEM, a key that
    is not the certificate's)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise TlsFilesInvalid("--tls-cert and --tls-key go together: give both or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise TlsFilesInvalid(f"{exc.filename or cert}: no such file") from None
    except (OSError, ssl.SSLError) as exc:
        raise TlsFilesInvalid(
            f"the certificate {cert} and key {key} do not load as a PEM certificate (chain)"
            f" and its private key: {exc}"
        ) from None
    return context


def forwarded_https(values: Iterable[str]) -> bool:
    """Whether the ``X-Forwarded-Proto`` header lines ``values`` say https: their last
    comma-separated value, which the proxy next to the gateway set (a proxy that appends
    rather than replaces keeps what the client sent in front of it)."""
    protos = [part.strip().lower() for value in values for part in value.split(",")]
    protos = [proto for proto in protos if proto]
    return bool(protos) and protos[-1] == "https"


def is_secure(http: web.BaseRequest, config: GatewayConfig) -> bool:
    """Whether ``http`` came over a secure connection: its own is TLS, or the gateway trusts
    ``X-Forwarded-Proto`` and it says https."""
    if http.secure:
        return True
    return config.trust_forwarded_proto and forwarded_https(
        http.headers.getall(FORWARDED_PROTO, ())
    )


def refuse_insecure_customer_key(fields: Mapping[str, str], *, secure: bool) -> None:
    """400 InvalidRequest when ``fields`` (request headers or a browser upload's form fields)
    bring an SSE-C key over a connection that is not ``secure``."""
    if not secure and requests_customer_key(fields):
        raise InvalidRequest(INSECURE_CUSTOMER_KEY_MESSAGE)
