"""List-and-watch caches of the objects the agent acts on (client-go's reflector, in small).

Each ``Reflector`` keeps every object of one resource in memory, keyed by ``namespace/name``
(``name`` for cluster-scoped ones), and calls ``on_change`` after every event. A watch that ends
is resumed from the last resourceVersion; a 410 Gone (or any error) relists.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from e2e.nodeagent.kubeapi import KubeApi, KubeError

log = logging.getLogger(__name__)

RELIST_DELAY_SECONDS = 1.0


def object_key(obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata", {})
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])


class Reflector:
    def __init__(
        self, api: KubeApi, path: str, on_change: Callable[[str, dict[str, Any] | None], None]
    ) -> None:
        self.path = path
        self.objects: dict[str, dict[str, Any]] = {}
        self.synced = asyncio.Event()
        self._api = api
        self._on_change = on_change

    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get(f"{namespace}/{name}" if namespace else name)

    def in_namespace(self, namespace: str) -> list[dict[str, Any]]:
        return [
            obj
            for obj in self.objects.values()
            if obj.get("metadata", {}).get("namespace") == namespace
        ]

    async def run(self) -> None:
        while True:
            try:
                version = await self._relist()
                self.synced.set()
                while True:
                    version = await self._watch(version)
            except KubeError as error:
                log.info("watch %s: %s; relisting", self.path, error)
            await asyncio.sleep(RELIST_DELAY_SECONDS)

    async def _relist(self) -> str:
        items, version = await self._api.list(self.path)
        fresh = {object_key(item): item for item in items}
        gone = set(self.objects) - set(fresh)
        self.objects = fresh
        for key in gone:
            self._on_change(key, None)
        for key, item in fresh.items():
            self._on_change(key, item)
        return version

    async def _watch(self, version: str) -> str:
        async for event in self._api.watch(self.path, version):
            kind = event.get("type")
            obj = event.get("object") or {}
            if kind == "ERROR":
                raise KubeError("WATCH", self.path, int(obj.get("code") or 0), str(obj))
            version = obj.get("metadata", {}).get("resourceVersion", version)
            if kind == "BOOKMARK":
                continue
            key = object_key(obj)
            if kind == "DELETED":
                self.objects.pop(key, None)
                self._on_change(key, None)
            else:
                self.objects[key] = obj
                self._on_change(key, obj)
        return version
