"""Running a gateway: open the stores, serve HTTP (HTTPS with a certificate), run the janitor;
stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from nimbus_storage.blobs.api import BlobStore
from nimbus_storage.blobs.diskfile import DiskBlobStore
from nimbus_storage.cluster.db_replicas import DatabaseReplicas
from nimbus_storage.cluster.ec_blobs import ECBlobStore
from nimbus_storage.cluster.ec_layout import ECPolicy
from nimbus_storage.cluster.ring_blobs import RingBlobStore
from nimbus_storage.cluster.ring_catalog import RingCatalogService
from nimbus_storage.gateway import janitor
from nimbus_storage.gateway.access_log_delivery import AccessLogs
from nimbus_storage.gateway.app import build_app
from nimbus_storage.gateway.config import SHUTDOWN_TIMEOUT, GatewayConfig
from nimbus_storage.gateway.connections import MAX_HEADERS, MAX_LINE_SIZE, S3AppRunner
from nimbus_storage.gateway.context import Services
from nimbus_storage.gateway.metrics import GatewayMetrics
from nimbus_storage.gateway.storage_policies import DEFAULT_POLICY, Policies, PolicySpec
from nimbus_storage.gateway.transport import server_ssl_context
from nimbus_storage.meta.catalog import Catalog
from nimbus_storage.meta.errors import CredentialExists
from nimbus_storage.meta.local_services import LocalCatalogService
from nimbus_storage.meta.services import CatalogService
from nimbus_storage.protocol.client import NodeClient, NodeTimeouts
from nimbus_storage.ring import Ring
from nimbus_storage.ring.watch import RingFile
from nimbus_storage.sse.keystore import KeyStore

ROOT_KEY_READ_ATTEMPTS = 20
ROOT_KEY_READ_PAUSE = 0.25
log = logging.getLogger("nimbus.gateway")


@dataclass(frozen=True, slots=True)
class RootCredential:
    access_key: str
    secret_key: str
    source: str  # "environment", "existing" (from the data directory) or "generated"


def _legacy_default(config: GatewayConfig) -> PolicySpec:
    """The "default" policy today's flags describe: the ring (EC or not), else local disk."""
    if config.ring_path is not None:
        return PolicySpec(DEFAULT_POLICY, "ring", config.ring_path, config.ec_policy)
    if config.ec_policy:
        raise ValueError("erasure coding stores blobs on a ring: it needs a ring file")
    return PolicySpec(DEFAULT_POLICY, "local", config.data_dir / "blobs")


def _open_local(path: Path, fsync: bool) -> BlobStore:
    blobs = DiskBlobStore(path, fsync=fsync)
    # One gateway owns a data directory, so at start every temp file is a crashed write's.
    leftovers = blobs.cleanup_tmp(older_than=0)
    if leftovers:
        log.info("removed %d temp files left by interrupted writes in %s", leftovers, path)
    return blobs


def _open_store(spec: PolicySpec, config: GatewayConfig, clients: list[NodeClient]) -> BlobStore:
    if spec.kind == "local":
        log.info("policy %s: local disk store in %s", spec.name, spec.path)
        return _open_local(spec.path, config.fsync)
    if not config.cluster_token:
        raise ValueError("a ring-backed gateway needs the cluster token of its storage nodes")
    if not clients:
        timeouts = NodeTimeouts(connect=config.node_connect_timeout, read=config.node_timeout)
        clients.append(NodeClient(config.cluster_token, timeouts))
    rings = RingFile(spec.path, Ring.load)
    if spec.ec:
        ec = ECPolicy.parse(spec.ec)
        log.info("policy %s: erasure coding %s (%s) on %s", spec.name, ec, ec.ec_type, spec.path)
        return ECBlobStore(rings, clients[0], ec)
    log.info("policy %s: replicas on the ring in %s", spec.name, spec.path)
    return RingBlobStore(rings, clients[0])


def _policy_specs(config: GatewayConfig) -> dict[str, PolicySpec]:
    specs = {spec.name: spec for spec in config.policies}
    if len(specs) != len(config.policies):
        raise ValueError("two storage policies have the same name")
    if DEFAULT_POLICY not in specs:
        return {DEFAULT_POLICY: _legacy_default(config), **specs}
    if config.ring_path is not None or config.ec_policy:
        raise ValueError("--ring / --ec and a policy named default both define the default")
    return specs


def open_policies(config: GatewayConfig) -> tuple[Policies, NodeClient | None]:
    """Open every declared policy's store; the node client they share, if any."""
    clients: list[NodeClient] = []
    specs = _policy_specs(config)
    stores = {name: _open_store(spec, config, clients) for name, spec in specs.items()}
    return Policies(stores, config.default_policy), (clients[0] if clients else None)


def metadata_ring(config: GatewayConfig) -> Path | None:
    """The ring keeping the catalog and bucket indexes; None: they are local files."""
    if config.local_metadata:
        return None
    if config.metadata_ring is not None:
        return config.metadata_ring
    default = _policy_specs(config)[DEFAULT_POLICY]
    return default.path if default.kind == "ring" else None


def _open_catalog(config: GatewayConfig, node_client: NodeClient | None) -> CatalogService:
    ring_path = metadata_ring(config)
    if ring_path is None:
        log.info("catalog and bucket indexes: local files in %s", config.data_dir / "catalog")
        return LocalCatalogService(Catalog(config.data_dir / "catalog"))
    if node_client is None:
        raise ValueError("replicated metadata needs the ring's storage nodes and cluster token")
    log.info("catalog and bucket indexes: replicated on the nodes of the ring in %s", ring_path)
    replicas = DatabaseReplicas(RingFile(ring_path, Ring.load), node_client)
    return RingCatalogService(replicas, cache_ttl=config.metadata_cache_ttl)


def open_keystore(config: GatewayConfig) -> KeyStore | None:
    """The SSE-S3/SSE-KMS key store of ``--sse-keys``; one that does not load fails the start
    (``KeyStoreInvalid``)."""
    if config.sse_keys is None:
        log.info("server-side encryption: SSE-C only (no key store: SSE-S3/SSE-KMS refused)")
        return None
    keystore = KeyStore.load(config.sse_keys)
    log.info(
        "server-side encryption: key store %s, keys %s (default %s)",
        config.sse_keys,
        ", ".join(keystore.key_ids()),
        keystore.default_key_id,
    )
    return keystore


def open_services(config: GatewayConfig) -> Services:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    keystore = open_keystore(config)
    policies, node_client = open_policies(config)
    if node_client is None and config.metadata_ring is not None and not config.local_metadata:
        if not config.cluster_token:
            raise ValueError("replicated metadata needs the cluster token of its storage nodes")
        timeouts = NodeTimeouts(connect=config.node_connect_timeout, read=config.node_timeout)
        node_client = NodeClient(config.cluster_token, timeouts)
    return Services(
        config=config,
        catalog=_open_catalog(config, node_client),
        policies=policies,
        metrics=GatewayMetrics(),
        node_client=node_client,
        keystore=keystore,
        access_logs=AccessLogs(
            config.access_log_flush_seconds,
            config.access_log_flush_records,
            config.access_log_max_records,
        ),
    )


async def ensure_root_credential(
    catalog: CatalogService, access_key: str | None, secret_key: str | None
) -> RootCredential:
    """The admin credential: the one given, else the existing one, else a new random one."""
    if access_key and secret_key:
        existing = await catalog.get_credential(access_key)
        if existing is None or existing.secret_key != secret_key or not existing.is_admin:
            if existing is not None:
                await catalog.delete_credential(access_key)
            try:
                await catalog.create_credential(
                    access_key, secret_key, is_admin=True, description="root"
                )
            except CredentialExists:
                # Gateways of one store start together with the same root key: another one
                # made it first. Anything but that same key is a real conflict.
                if not await _made_by_another(catalog, access_key, secret_key):
                    raise
        for credential in await catalog.list_credentials():
            # A root key given now replaces earlier ones: an old root key must stop working.
            if credential.description == "root" and credential.access_key != access_key:
                await catalog.delete_credential(credential.access_key)
        return RootCredential(access_key, secret_key, "environment")
    for credential in await catalog.list_credentials():
        if credential.is_admin and credential.description == "root":
            return RootCredential(credential.access_key, credential.secret_key, "existing")
    access_key = "NIMBUS" + secrets.token_hex(7).upper()
    secret_key = secrets.token_urlsafe(30)
    await catalog.create_credential(access_key, secret_key, is_admin=True, description="root")
    return RootCredential(access_key, secret_key, "generated")


async def _made_by_another(catalog: CatalogService, access_key: str, secret_key: str) -> bool:
    """Whether ``access_key`` is the root key with ``secret_key``, as another gateway made it.
    A read right after the other's write may still miss it (cached or not yet at a quorum of
    this gateway's readers): look again for a few seconds."""
    for _ in range(ROOT_KEY_READ_ATTEMPTS):
        made = await catalog.get_credential(access_key)
        if made is not None:
            return made.secret_key == secret_key and made.is_admin
        await asyncio.sleep(ROOT_KEY_READ_PAUSE)
    return False


class RunningGateway:
    def __init__(
        self, services: Services, runner: web.AppRunner, port: int, *, tls: bool = False
    ) -> None:
        self.services = services
        self.runner = runner
        self.port = port
        self.tls = tls
        self._janitor: asyncio.Task[None] | None = None
        self._access_logs: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.services.config.host}:{self.port}"

    def start_janitor(self) -> None:
        self._janitor = asyncio.create_task(janitor.run_forever(self.services))

    def start_access_logs(self) -> None:
        """Deliver server access logs every ``access_log_flush_seconds`` (and at stop)."""
        logs = self.services.access_logs
        if logs is not None:
            self._access_logs = asyncio.create_task(logs.run_forever(self.services))

    async def stop(self) -> None:
        for task in (self._janitor, self._access_logs):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.runner.cleanup()
        if self.services.access_logs is not None:
            # What the requests served until now left: delivered once, not retried.
            try:
                await self.services.access_logs.flush(self.services, attempts=1)
            except Exception:
                log.exception("access logs not delivered at shutdown")
        if self.services.node_client is not None:
            await self.services.node_client.close()
        await self.services.catalog.close()


async def start_gateway(config: GatewayConfig, *, janitor_enabled: bool = True) -> RunningGateway:
    """Start serving ``config``. ``TlsFilesInvalid`` (before anything is opened) when its TLS
    certificate and key do not load; ``KeyStoreInvalid`` when its SSE key store does not."""
    ssl_context = server_ssl_context(config.tls_cert, config.tls_key)
    services = open_services(config)
    app = build_app(services)
    runner = S3AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=config.client_header_timeout,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        max_line_size=MAX_LINE_SIZE,
        max_field_size=MAX_LINE_SIZE,
        max_headers=MAX_HEADERS,
        # A body sent with Content-Encoding: gzip is stored as sent (S3 keeps the encoding as
        # object metadata); decompressing it would break its checksums and its bytes.
        auto_decompress=False,
    )
    await runner.setup()
    site = web.TCPSite(
        runner,
        config.host,
        config.port,
        reuse_address=True,
        backlog=1024,
        ssl_context=ssl_context,
    )
    await site.start()
    port = int(runner.addresses[0][1]) if runner.addresses else config.port
    gateway = RunningGateway(services, runner, port, tls=ssl_context is not None)
    gateway.start_access_logs()
    if janitor_enabled:
        gateway.start_janitor()
    log.info("S3 gateway listening on %s (data in %s)", gateway.endpoint, config.data_dir)
    if ssl_context is None:
        trusted = " unless X-Forwarded-Proto says https" if config.trust_forwarded_proto else ""
        log.info("plain HTTP: SSE-C requests are refused%s", trusted)
    return gateway
