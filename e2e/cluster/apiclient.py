"""A tiny HTTPS JSON client for bringing the cluster up (readiness, node registration).

The harness talks to the API server before any Python Kubernetes client is configured, so it
uses the standard library with the admin client certificate. Tests use the official client.
"""

from __future__ import annotations

import http.client
import json
import ssl
from dataclasses import dataclass
from typing import Any

from e2e.cluster.certs import CertPair

REQUEST_TIMEOUT_SECONDS = 10.0


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:500]}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Response:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class ApiClient:
    def __init__(self, port: int, ca_cert: str, client: CertPair) -> None:
        self._port = port
        self._context = ssl.create_default_context(cafile=ca_cert)
        self._context.load_cert_chain(str(client.cert), str(client.key))

    def request(self, method: str, path: str, body: object | None = None) -> Response:
        """One request; connection errors propagate as ``OSError``."""
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self._port, context=self._context, timeout=REQUEST_TIMEOUT_SECONDS
        )
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Accept": "application/json"}
            if payload is not None:
                headers["Content-Type"] = "application/json"
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return Response(response.status, response.read().decode(errors="replace"))
        finally:
            connection.close()

    def create(self, path: str, body: object) -> Any:
        """POST ``body``; an object that already exists (409) is not an error."""
        response = self.request("POST", path, body)
        if response.status not in (200, 201, 202, 409):
            raise ApiError("POST", path, response.status, response.body)
        return response.json()
