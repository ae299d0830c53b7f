"""The stand-in's main loop: four list-watch caches feed one work queue, one worker drains it.

Keys are ``(kind, namespace, name)`` with kind ``vm``, ``vmi`` or ``dv``. A VM event queues
its VM; a VMI event its VMI and owning VM; a launcher pod event its VMI; a DataVolume event
itself and its owning VM. Every ``RESYNC_SECONDS`` all objects are queued again (a reconcile
that finds nothing to change writes nothing). A failed reconcile is retried with back-off.
``/healthz`` answers 200 once every cache has listed.
"""

from __future__ import annotations

import http.server
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from e2e.kubevirt_standin import datavolume, vm, vmi
from e2e.kubevirt_standin.context import DV_KEY, VM_KEY, VMI_KEY, Context
from e2e.kubevirt_standin.guests import GuestMode, Guests
from e2e.kubevirt_standin.importer import Importer
from e2e.kubevirt_standin.informer import Reflector, WorkQueue
from e2e.kubevirt_standin.kube import Kube
from e2e.kubevirt_standin.objects import (
    APP_LABEL,
    DVS,
    LAUNCHER_APP,
    VM_NAME_LABEL,
    VMIS,
    VMS,
    Obj,
    controller_owner,
    labels,
    name_of,
    namespace_of,
)

log = logging.getLogger(__name__)

RESYNC_SECONDS = 30.0
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)
Key = tuple[str, str, str]


class Controller:
    def __init__(
        self, api_client: client.ApiClient, guest_mode: GuestMode, state_dir: Path
    ) -> None:
        self.stop = threading.Event()
        kube = Kube(api_client)
        queue = WorkQueue()
        self.queue = queue
        guests = Guests(guest_mode, state_dir, kube)
        dvs = Reflector(DVS, kube.list_call(DVS), self._dv_changed, self.stop)
        self.ctx = Context(
            kube=kube,
            vms=Reflector(VMS, kube.list_call(VMS), self._vm_changed, self.stop),
            vmis=Reflector(VMIS, kube.list_call(VMIS), self._vmi_changed, self.stop),
            dvs=dvs,
            pods=Reflector(
                "launcher pods",
                kube.pod_list_call(f"{APP_LABEL}={LAUNCHER_APP}"),
                self._pod_changed,
                self.stop,
            ),
            queue=queue,
            guests=guests,
            importer=Importer(kube, guests, dvs.get),
        )
        self._failures: dict[Key, int] = {}
        self._handlers: dict[str, Callable[[Context, str, str], None]] = {
            VM_KEY: vm.reconcile,
            VMI_KEY: vmi.reconcile,
            DV_KEY: datavolume.reconcile,
        }

    @property
    def reflectors(self) -> tuple[Reflector, ...]:
        return (self.ctx.vms, self.ctx.vmis, self.ctx.dvs, self.ctx.pods)

    def synced(self) -> bool:
        return all(reflector.synced.is_set() for reflector in self.reflectors)

    # -- events -> keys --------------------------------------------------------------------

    def _vm_changed(self, obj: Obj) -> None:
        self.queue.add((VM_KEY, namespace_of(obj), name_of(obj)))

    def _vmi_changed(self, obj: Obj) -> None:
        self.queue.add((VMI_KEY, namespace_of(obj), name_of(obj)))
        owner = controller_owner(obj, "VirtualMachine")
        if owner:
            self.queue.add((VM_KEY, namespace_of(obj), owner))

    def _pod_changed(self, obj: Obj) -> None:
        vmi_name = labels(obj).get(VM_NAME_LABEL)
        if vmi_name:
            self.queue.add((VMI_KEY, namespace_of(obj), vmi_name))

    def _dv_changed(self, obj: Obj) -> None:
        self.queue.add((DV_KEY, namespace_of(obj), name_of(obj)))
        owner = controller_owner(obj, "VirtualMachine")
        if owner:
            self.queue.add((VM_KEY, namespace_of(obj), owner))

    # -- running ---------------------------------------------------------------------------

    def run(self) -> None:
        """Start the caches, then reconcile until ``stop`` is set."""
        for reflector in self.reflectors:
            reflector.start()
        last_resync = time.monotonic()
        while not self.stop.is_set():
            key = self.queue.get(timeout=1.0)
            if time.monotonic() - last_resync > RESYNC_SECONDS:
                last_resync = time.monotonic()
                self._resync()
            if key is not None and self.synced():
                self._process(key)
            elif key is not None:
                self.queue.add_after(key, 0.2)

    def _resync(self) -> None:
        for kind, reflector in (
            (VM_KEY, self.ctx.vms),
            (VMI_KEY, self.ctx.vmis),
            (DV_KEY, self.ctx.dvs),
        ):
            for obj in reflector.items():
                self.queue.add((kind, namespace_of(obj), name_of(obj)))

    def _process(self, key: Key) -> None:
        kind, namespace, name = key
        try:
            self._handlers[kind](self.ctx, namespace, name)
        except ApiException as error:
            self._retry(key, f"{error.status} {error.reason}")
        except Exception as error:  # a bug must not stop the other objects' reconciles
            log.exception("%s %s/%s: reconcile failed", kind, namespace, name)
            self._retry(key, repr(error))
        else:
            self._failures.pop(key, None)

    def _retry(self, key: Key, reason: str) -> None:
        count = self._failures.get(key, 0)
        self._failures[key] = count + 1
        delay = RETRY_SECONDS[min(count, len(RETRY_SECONDS) - 1)]
        log.warning("%s %s/%s: %s; retrying in %.1fs", *key, reason, delay)
        self.queue.add_after(key, delay)


def serve_health(controller: Controller, port: int) -> http.server.ThreadingHTTPServer:
    """``GET /healthz`` on 127.0.0.1:``port``: 200 once every cache has listed, else 503."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/healthz" and controller.synced()
            body = b"ok\n" if ok else b"not synced\n"
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    return server
