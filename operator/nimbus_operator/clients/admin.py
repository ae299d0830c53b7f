"""The storage admin API (docs/admin-api.md), spoken by the operator to a store's gateways.

Requests are signed with SigV4 by the store's root credential, as any S3 request; answers are
JSON. A store serving HTTPS is trusted by the authority ``ca_pem`` of its endpoint (its TLS
Secret's), never unverified. Errors are translated once, here: 4xx with an error code ->
``AdminRefused`` (the store refused what was asked: the message says why), connection failures
and 5xx -> ``RetryLater``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from nimbus_operator.clients.tls import client_context
from nimbus_operator.errors import InvalidSpec, RetryLater

ADMIN_PREFIX = "/_nimbus/admin/v1/"
TIMEOUT_SECONDS = 15.0


class AdminRefused(InvalidSpec):
    """The store answered 4xx: ``code`` is its error code (e.g. ``BucketAlreadyExists``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}", reason=code or "Refused")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class AdminEndpoint:
    url: str
    """``http[s]://<gateway service>.<ns>.svc[:<port>]``"""
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    ca_pem: str | None = None
    """For an https ``url``: the PEM authority the gateway's certificate is checked against
    (the store's TLS Secret's ca.crt, else its tls.crt); None: the system's authorities."""

    @property
    def secure(self) -> bool:
        return self.url.startswith("https://")


class AdminClient:
    def __init__(self, endpoint: AdminEndpoint) -> None:
        self._endpoint = endpoint

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        url = self._endpoint.url.rstrip("/") + ADMIN_PREFIX + path
        data = json.dumps(body).encode() if body is not None else b""
        signed = AWSRequest(method=method, url=url, data=data)
        credentials = Credentials(self._endpoint.access_key, self._endpoint.secret_key)
        S3SigV4Auth(credentials, "s3", self._endpoint.region).add_auth(signed)
        request = urllib.request.Request(
            url, data=data or None, method=method, headers=dict(signed.headers.items())
        )
        context = client_context(self._endpoint.ca_pem) if self._endpoint.secure else None
        try:
            with urllib.request.urlopen(
                request, timeout=TIMEOUT_SECONDS, context=context
            ) as response:
                text = response.read()
        except urllib.error.HTTPError as error:
            raise _translated(error, method, path) from error
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            raise RetryLater(
                f"the store's gateway at {self._endpoint.url} is unreachable: {error}",
                reason="GatewayUnavailable",
            ) from error
        return json.loads(text) if text else None

    # -- buckets -------------------------------------------------------------------------------

    def get_bucket(self, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.call("GET", f"buckets/{quote(name, safe='')}")
        except AdminRefused as error:
            if error.status == 404:
                return None
            raise
        return result

    def put_bucket(self, name: str, settings: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call("PUT", f"buckets/{quote(name, safe='')}", settings)
        return result

    def delete_bucket(self, name: str, purge: bool) -> None:
        query = "?purge=true" if purge else ""
        self.call("DELETE", f"buckets/{quote(name, safe='')}{query}")

    def usage(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self.call("GET", "usage")
        return result

    # -- credentials ---------------------------------------------------------------------------

    def put_credential(
        self,
        access_key: str,
        *,
        secret_key: str | None = None,
        grants: dict[str, str] | None = None,
        description: str = "",
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"description": description}
        if secret_key is not None:
            body["secretKey"] = secret_key
        if grants is not None:
            body["grants"] = grants
        result: dict[str, Any] = self.call("PUT", f"credentials/{quote(access_key, safe='')}", body)
        return result

    def delete_credential(self, access_key: str) -> None:
        self.call("DELETE", f"credentials/{quote(access_key, safe='')}")

    def credentials(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("GET", "credentials")
        return result


def _translated(error: urllib.error.HTTPError, method: str, path: str) -> Exception:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        body = {}
    code = str(body.get("error") or "")
    message = str(body.get("message") or error.reason)
    if error.code >= 500 or error.code in (401, 429):
        return RetryLater(
            f"{method} {path}: the store answered {error.code} {code} {message}",
            reason="GatewayError",
        )
    return AdminRefused(error.code, code, message)
