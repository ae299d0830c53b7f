"""The node agent's Kubernetes API client: aiohttp with the agent's client certificate.

A kubelet talks to the API server through client-go; the agent needs a handful of calls (get,
list, watch, create, patch, delete), so it speaks HTTP directly. Failures become ``KubeError``
with the status code, so callers never see aiohttp's exceptions for API answers.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

REQUEST_TIMEOUT_SECONDS = 30.0
WATCH_TIMEOUT_SECONDS = 300
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


class KubeError(RuntimeError):
    """The API server refused a request (``status`` is its HTTP status) or was unreachable."""

    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {body[:300]}")
        self.status = status


@dataclass(frozen=True)
class Credentials:
    server: str
    ca_file: Path
    cert_file: Path
    key_file: Path


class KubeApi:
    def __init__(self, credentials: Credentials) -> None:
        context = ssl.create_default_context(cafile=str(credentials.ca_file))
        context.load_cert_chain(str(credentials.cert_file), str(credentials.key_file))
        self._server = credentials.server.rstrip("/")
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=32),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=REQUEST_TIMEOUT_SECONDS),
        )

    async def close(self) -> None:
        await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        *,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            async with self._session.request(
                method,
                self._server + path,
                data=data,
                headers=headers,
                params=params,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS),
            ) as response:
                text = await response.text()
                if response.status >= 300:
                    raise KubeError(method, path, response.status, text)
                return json.loads(text) if text else None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubeError(method, path, 0, f"{type(error).__name__}: {error}") from error

    async def get(self, path: str) -> dict[str, Any] | None:
        """The object at ``path``, or None when it does not exist."""
        try:
            result: dict[str, Any] = await self.request("GET", path)
        except KubeError as error:
            if error.status == 404:
                return None
            raise
        return result

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST ``body``; None when it already exists (409)."""
        try:
            result: dict[str, Any] = await self.request("POST", path, body)
        except KubeError as error:
            if error.status == 409:
                return None
            raise
        return result

    async def patch(
        self, path: str, body: dict[str, Any], content_type: str = STRATEGIC_MERGE
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("PATCH", path, body, content_type=content_type)
        return result

    async def delete(self, path: str, body: dict[str, Any] | None = None) -> None:
        """DELETE; an object already gone (404) or changed since (409 on a UID precondition) is
        not an error."""
        try:
            await self.request("DELETE", path, body)
        except KubeError as error:
            if error.status not in (404, 409):
                raise

    async def list(self, path: str) -> tuple[list[dict[str, Any]], str]:
        """Every item at a collection ``path`` and the list's resourceVersion."""
        result = await self.request("GET", path)
        return list(result.get("items") or []), str(result["metadata"]["resourceVersion"])

    async def watch(self, path: str, resource_version: str) -> AsyncIterator[dict[str, Any]]:
        """Watch events ``{"type", "object"}`` from ``resource_version`` until the server ends the
        stream. An ``ERROR`` event (410 Gone) is yielded as is: the caller relists."""
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_TIMEOUT_SECONDS),
        }
        try:
            async with self._session.get(
                self._server + path,
                params=params,
                headers={"Accept": "application/json"},
                timeout=aiohttp.ClientTimeout(total=WATCH_TIMEOUT_SECONDS + 30),
            ) as response:
                if response.status >= 300:
                    raise KubeError("WATCH", path, response.status, await response.text())
                pending = b""
                async for chunk in response.content.iter_any():
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield json.loads(line)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubeError("WATCH", path, 0, f"{type(error).__name__}: {error}") from error
