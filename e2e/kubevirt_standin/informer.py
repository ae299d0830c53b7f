"""List-watch caches (client-go's reflector and store, reduced) and a delaying work queue.

A ``Reflector`` thread lists one resource, then watches it from the list's resourceVersion,
keeping a dict of the objects (plain JSON dicts, never mutated: every change replaces the
object) and calling ``on_change`` with each object that was added, modified or deleted. A watch
that expires (410 Gone) or breaks is followed by a fresh list. ``synced`` is set after the first
list.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes.client.exceptions import ApiException

from e2e.kubevirt_standin.objects import (
    Obj,
    deleting,
    finalizers,
    name_of,
    namespace_of,
    resource_version,
)

log = logging.getLogger(__name__)

WATCH_SECONDS = 240
RETRY_SECONDS = 1.0
Key = tuple[str, str]


class Reflector:
    def __init__(
        self,
        name: str,
        list_call: Callable[..., Any],
        on_change: Callable[[Obj], None],
        stop: threading.Event,
    ) -> None:
        self.name = name
        self._list_call = list_call
        self._on_change = on_change
        self._stop = stop
        self._lock = threading.Lock()
        self._objects: dict[Key, Obj] = {}
        self._deleted: dict[Key, int] = {}
        """resourceVersion of each key's last DELETED event, so that ``remember`` never
        brings back an object whose deletion the watch has already reported."""
        self.synced = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reflector-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- reading ---------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            return self._objects.get((namespace, name))

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self._objects.values())

    def remember(self, obj: Obj) -> None:
        """Take an object a write just returned, unless the cache already has a newer one or
        the object is gone (deleted with no finalizer left, or reported deleted)."""
        key = (namespace_of(obj), name_of(obj))
        version = resource_version(obj)
        with self._lock:
            if deleting(obj) and not finalizers(obj):
                self._objects.pop(key, None)
                return
            if version <= self._deleted.get(key, -1):
                return
            known = self._objects.get(key)
            if known is None or resource_version(known) <= version:
                self._objects[key] = obj

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._objects.pop((namespace, name), None)

    # -- list and watch --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                version: str | None = self._list()
                while version is not None and not self._stop.is_set():
                    version = self._watch(version)
            except ApiException as error:
                log.warning("%s: %s %s; listing again", self.name, error.status, error.reason)
                self._stop.wait(RETRY_SECONDS)
            except Exception:  # a broken connection, a decoding error: relist after a pause
                log.exception("%s: list/watch failed; listing again", self.name)
                self._stop.wait(RETRY_SECONDS)

    def _list(self) -> str:
        response = self._list_call(_preload_content=False)
        listing = json.loads(response.data)
        fresh = {(namespace_of(obj), name_of(obj)): obj for obj in listing.get("items") or []}
        with self._lock:
            gone = [obj for key, obj in self._objects.items() if key not in fresh]
            self._objects = fresh
            self._deleted = {}
        self.synced.set()
        for obj in [*fresh.values(), *gone]:
            self._on_change(obj)
        return str(listing["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> str | None:
        """Follow one watch request; the version to continue from, or None to list again."""
        response = self._list_call(
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _preload_content=False,
            _request_timeout=WATCH_SECONDS + 30,
        )
        try:
            for line in _lines(response):
                if self._stop.is_set():
                    return None
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    log.info("%s: watch ended: %s", self.name, obj.get("message", obj))
                    return None  # 410 Gone and friends: list again
                version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                if kind == "BOOKMARK":
                    continue
                key = (namespace_of(obj), name_of(obj))
                with self._lock:
                    if kind == "DELETED":
                        self._objects.pop(key, None)
                        self._deleted[key] = resource_version(obj)
                    else:
                        self._objects[key] = obj
                self._on_change(obj)
        finally:
            response.close()
            response.release_conn()
        return version


def _lines(response: Any) -> Iterator[str]:
    """The lines of a streamed watch response (one JSON event each)."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield line.decode()
    if buffer:
        yield buffer.decode()


class WorkQueue:
    """Keys to reconcile, each at most once in the queue; ``add_after`` delays one."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._ready: list[tuple[str, str, str]] = []
        self._queued: set[tuple[str, str, str]] = set()
        self._delayed: list[tuple[float, int, tuple[str, str, str]]] = []
        self._counter = itertools.count()

    def add(self, key: tuple[str, str, str]) -> None:
        with self._condition:
            if key not in self._queued:
                self._queued.add(key)
                self._ready.append(key)
                self._condition.notify()

    def add_after(self, key: tuple[str, str, str], seconds: float) -> None:
        with self._condition:
            heapq.heappush(self._delayed, (time.monotonic() + seconds, next(self._counter), key))
            self._condition.notify()

    def get(self, timeout: float) -> tuple[str, str, str] | None:
        """The next key, or None after ``timeout`` seconds without one."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                now = time.monotonic()
                while self._delayed and self._delayed[0][0] <= now:
                    _, _, key = heapq.heappop(self._delayed)
                    if key not in self._queued:
                        self._queued.add(key)
                        self._ready.append(key)
                if self._ready:
                    key = self._ready.pop(0)
                    self._queued.discard(key)
                    return key
                wait = deadline - now
                if self._delayed:
                    wait = min(wait, self._delayed[0][0] - now)
                if wait <= 0:
                    return None
                self._condition.wait(wait)
