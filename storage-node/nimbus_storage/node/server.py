"""The storage node's HTTP server: the node protocol of docs/storage-cluster.md.

Routes (every one but ``/_nimbus/*`` needs ``X-Nimbus-Cluster-Token``):

* ``PUT|GET|HEAD|DELETE /objects/{device}/{partition}/{quoted name}`` (``objects``);
* ``GET /objects/{device}/{partition}?suffix=abc``: the names in a suffix (``partitions``);
* ``POST /replicate/{device}/{partition}[/{suffix}-{suffix}...]``: suffix hashes. Swift uses a
  ``REPLICATE`` method, which aiohttp's HTTP parser (llhttp) rejects as an unknown method;
* ``POST /db/{device}/{partition}/{quoted database name}``: catalog and bucket index replicas
  (``db_api``);
* ``GET /_nimbus/healthz``, ``GET /_nimbus/metrics`` and ``GET /_nimbus/holdings`` (what each
  device still holds: partition directories and database replicas, for drains).

The path is parsed from its still-encoded form so that ``%2F`` in a name stays part of the name.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from nimbus_storage.node import auditor
from nimbus_storage.node.config import NODE, SHUTDOWN_TIMEOUT, NodeConfig, NodeContext
from nimbus_storage.node.databases import Databases
from nimbus_storage.node.db_api import DATABASES, handle_db
from nimbus_storage.node.db_replicator import DBReplicator, DBReplicatorSettings
from nimbus_storage.node.devices import LocalDevices
from nimbus_storage.node.metrics import NodeMetrics
from nimbus_storage.node.node_ring import watch_ring
from nimbus_storage.node.objects import (
    delete_object,
    expect_continue_later,
    get_object,
    insufficient_storage,
    put_object,
)
from nimbus_storage.node.partitions import list_suffix, replicate
from nimbus_storage.node.reconstructor import Reconstructor, ReconstructorSettings
from nimbus_storage.node.replicator import Replicator, ReplicatorSettings
from nimbus_storage.node.requests import BadRequest, Target, parse_target
from nimbus_storage.protocol.client import NodeClient
from nimbus_storage.protocol.headers import TOKEN_HEADER
from nimbus_storage.ring import Ring

log = logging.getLogger("nimbus.node")

# Metadata travels in one header: allow more than aiohttp's 8 KiB default.
MAX_FIELD_SIZE = 64 * 1024
_METHODS = frozenset({"PUT", "GET", "HEAD", "DELETE", "POST"})
# The rest of a path, which aiohttp matches decoded: a name's %0A is a line feed there, which
# "." alone does not match (the request would be a 404 before reaching its handler).
_REST = "{rest:(?s:.*)}"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(node: NodeContext) -> web.Application:
    app = web.Application(middlewares=[_guard])
    app[NODE] = node
    app[DATABASES] = Databases(node.config.data_dir)
    # Expect: 100-continue is answered by put_object, after its free-space check (objects.py).
    app.router.add_route("*", f"/objects/{_REST}", _objects, expect_handler=expect_continue_later)
    app.router.add_post(f"/replicate/{_REST}", _replicate)
    app.router.add_post(f"/db/{_REST}", handle_db)
    app.router.add_get("/_nimbus/healthz", _healthz)
    app.router.add_get("/_nimbus/holdings", _holdings)
    app.router.add_get("/_nimbus/metrics", _metrics)
    return app


def make_context(config: NodeConfig) -> NodeContext:
    devices = LocalDevices(
        config.data_dir,
        config.identity,
        config.devices,
        create=config.create_devices,
        fsync=config.fsync,
    )
    devices.check_identity()
    devices.problems()  # logs each device that cannot be used, and why
    metrics = NodeMetrics()
    metrics.watch_devices(devices.data_dir, devices.names)
    return NodeContext(config=config, devices=devices, metrics=metrics)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    node = request.app[NODE]
    started = time.monotonic()
    status = 500
    try:
        if not request.path.startswith("/_nimbus/") and not _token_ok(request, node):
            response: web.StreamResponse = web.Response(
                status=401, text=f"{TOKEN_HEADER} missing or wrong\n"
            )
        else:
            try:
                response = await handler(request)
            except BadRequest as exc:
                response = web.Response(status=400, text=f"{exc}\n")
        status = response.status
        return response
    except web.HTTPException as exc:  # the router's 404 and 405
        status = exc.status
        raise
    finally:
        method = request.method if request.method in _METHODS else "other"
        node.metrics.requests.labels(method, str(status)).inc()
        node.metrics.latency.labels(method).observe(time.monotonic() - started)


def _token_ok(request: web.Request, node: NodeContext) -> bool:
    given = request.headers.get(TOKEN_HEADER, "").encode()
    return hmac.compare_digest(given, node.config.token.encode())


def _locate(request: web.Request, prefix: str) -> Target:
    """The target of the path, checked against the ring's partition count and hashing."""
    node = request.app[NODE]
    target = parse_target(request.rel_url.raw_path, prefix)
    if target.partition >= node.devices.partition_count:
        raise BadRequest(
            f"partition {target.partition} is beyond 2**{node.config.identity.part_power}"
        )
    return target


async def _objects(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE]
    target = _locate(request, "/objects/")
    name = target.name
    if name is not None:
        identity = node.config.identity
        partition = identity.partition(identity.name_hash(name))
        if partition != target.partition:
            raise BadRequest(f"{name!r} is in partition {partition}, not {target.partition}")
    store = node.devices.get(target.device)
    if store is None:
        return insufficient_storage(f"device {target.device!r} is not available here")
    if name is None:
        if request.method != "GET":
            raise web.HTTPMethodNotAllowed(request.method, ["GET"])
        return await list_suffix(request, store, target.partition)
    if request.method == "PUT":
        return await put_object(request, node, store, name)
    if request.method in ("GET", "HEAD"):
        return await get_object(request, node, store, name)
    if request.method == "DELETE":
        return await delete_object(request, store, name)
    raise web.HTTPMethodNotAllowed(request.method, ["PUT", "GET", "HEAD", "DELETE"])


async def _replicate(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE]
    target = _locate(request, "/replicate/")
    store = node.devices.get(target.device)
    if store is None:
        return insufficient_storage(f"device {target.device!r} is not available here")
    return await replicate(store, target.partition, target.name)


async def _healthz(request: web.Request) -> web.StreamResponse:
    """200 while the node runs (a liveness probe): ``status`` is ``ok`` with every device
    usable, ``degraded`` with some, ``no devices`` with none (each answers 507); ``problems``
    says why each missing one cannot be used, as the log did when it went missing."""
    devices = request.app[NODE].devices
    problems = await asyncio.to_thread(devices.problems)
    serving = [name for name in devices.names if name not in problems]
    status = "degraded" if serving else "no devices"
    return web.json_response(
        {
            "status": status if problems else "ok",
            "devices": serving,
            "missing": sorted(problems),
            "problems": problems,
        }
    )


async def _holdings(request: web.Request) -> web.StreamResponse:
    """How much each device still holds: partition directories of blobs and database replicas.
    A drained device (weight 0) is empty once replication has moved everything home: the
    operator waits for zeros before it removes a node."""
    node = request.app[NODE]
    databases = request.app[DATABASES]

    def count() -> dict[str, dict[str, int]]:
        held = {}
        for store in node.devices.available():
            replicas = sum(1 for _ in databases.local([store.device]))
            held[store.device] = {"partitions": len(store.partitions()), "databases": replicas}
        return held

    return web.json_response({"devices": await asyncio.to_thread(count)})


async def _metrics(request: web.Request) -> web.StreamResponse:
    node = request.app[NODE]
    response = web.Response(body=node.metrics.exposition())
    response.headers["Content-Type"] = node.metrics.content_type
    return response


class RunningNode:
    def __init__(self, context: NodeContext, runner: web.AppRunner, port: int) -> None:
        self.context = context
        self.runner = runner
        self.port = port
        self._auditor: asyncio.Task[None] | None = None
        self._replicator: Replicator | None = None
        self._replication: asyncio.Task[None] | None = None
        self._db_replicator: DBReplicator | None = None
        self._db_replication: asyncio.Task[None] | None = None
        self._reconstructor: Reconstructor | None = None
        self._reconstruction: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.context.config.host}:{self.port}"

    @property
    def ring_node(self) -> str:
        """This node's name in the ring: ``host:port`` unless the config names it."""
        config = self.context.config
        return config.ring_node or f"{config.host}:{self.port}"

    def make_replicator(
        self, ring: Callable[[], Ring], settings: ReplicatorSettings | None = None
    ) -> Replicator:
        """A replicator of this node's devices (the caller closes it)."""
        config = self.context.config
        return Replicator(
            self.context.devices.available,
            ring,
            self.ring_node,
            NodeClient(config.token),
            settings or config.replicator or ReplicatorSettings(),
            metrics=self.context.metrics,
        )

    def make_reconstructor(
        self, ring: Callable[[], Ring], settings: ReconstructorSettings | None = None
    ) -> Reconstructor:
        """A reconstructor of this node's devices (the caller closes it)."""
        config = self.context.config
        return Reconstructor(
            self.context.devices.available,
            ring,
            self.ring_node,
            NodeClient(config.token),
            settings or config.reconstructor or ReconstructorSettings(),
            metrics=self.context.metrics,
        )

    def make_db_replicator(
        self, ring: Callable[[], Ring], settings: DBReplicatorSettings | None = None
    ) -> DBReplicator:
        """A database replicator of this node's devices (the caller closes it).

        Without ``settings``, those of the config.
        """
        config = self.context.config
        settings = settings or config.db_replicator or DBReplicatorSettings()
        devices = self.context.devices
        return DBReplicator(
            lambda: [store.device for store in devices.available()],
            self.runner.app[DATABASES],
            ring,
            self.ring_node,
            NodeClient(config.token),
            settings=settings,
            metrics=self.context.metrics,
        )

    def start_replicator(self) -> None:
        """Replicate blobs and databases, and reconstruct fragment archives, in the background by
        the ring file of the config, if it names one."""
        config = self.context.config
        if config.ring_file is None:
            return
        if config.replicator is not None and self._replicator is None:
            self._replicator = self.make_replicator(watch_ring(config.ring_file))
            self._replication = asyncio.create_task(
                self._replicator.run_forever(), name="nimbus-replicator"
            )
        if config.db_replicator is not None and self._db_replicator is None:
            self._db_replicator = self.make_db_replicator(watch_ring(config.ring_file))
            self._db_replication = asyncio.create_task(
                self._db_replicator.run_forever(), name="nimbus-db-replicator"
            )
        if config.reconstructor is not None and self._reconstructor is None:
            self._reconstructor = self.make_reconstructor(watch_ring(config.ring_file))
            self._reconstruction = asyncio.create_task(
                self._reconstructor.run_forever(), name="nimbus-reconstructor"
            )

    def start_auditor(self) -> None:
        settings = self.context.config.auditor
        if settings is None or self._auditor is not None:
            return
        self._auditor = asyncio.create_task(
            auditor.run_forever(
                self.context.devices.available, settings, metrics=self.context.metrics
            ),
            name="nimbus-auditor",
        )

    async def stop(self) -> None:
        for task in (
            self._auditor,
            self._replication,
            self._db_replication,
            self._reconstruction,
        ):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._replicator is not None:
            await self._replicator.close()
        if self._db_replicator is not None:
            await self._db_replicator.close()
        if self._reconstructor is not None:
            await self._reconstructor.close()
        await self.runner.cleanup()
        self.runner.app[DATABASES].close()


async def start_node(
    config: NodeConfig, *, auditor_enabled: bool = True, replicator_enabled: bool = True
) -> RunningNode:
    context = make_context(config)
    for store in context.devices.available():
        # One node owns its devices, so at start every temp file is a crashed write's.
        leftovers = await asyncio.to_thread(store.cleanup_tmp, 0)
        if leftovers:
            log.info("removed %d temp files of interrupted writes on %s", leftovers, store.device)
    runner = web.AppRunner(
        build_app(context),
        access_log=None,
        handle_signals=False,
        max_field_size=MAX_FIELD_SIZE,
        keepalive_timeout=config.client_header_timeout,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True, backlog=1024)
    await site.start()
    port = int(runner.addresses[0][1]) if runner.addresses else config.port
    node = RunningNode(context, runner, port)
    if auditor_enabled:
        node.start_auditor()
    if replicator_enabled:
        node.start_replicator()
    log.info(
        "storage node on %s:%d serving %s from %s",
        config.host,
        port,
        context.devices.serving(),
        config.data_dir,
    )
    return node
