"""``nimbus-storage``: the storage node's command line.

``nimbus-storage serve --data ./data`` is the standalone mode: a working S3 endpoint from a local
directory with no Kubernetes at all, like MinIO's single-node mode. Credentials come from
NIMBUS_ROOT_ACCESS_KEY / NIMBUS_ROOT_SECRET_KEY, or are generated once and printed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path

import uvloop

from nimbus_storage.cluster.db_probe import probe_replicas
from nimbus_storage.cluster.ring_catalog import RingCatalogService
from nimbus_storage.gateway.config import (
    CLIENT_BODY_TIMEOUT,
    CLIENT_HEADER_TIMEOUT,
    NODE_CONNECT_TIMEOUT,
    NODE_TIMEOUT,
    GatewayConfig,
)
from nimbus_storage.gateway.server import (
    RootCredential,
    RunningGateway,
    ensure_root_credential,
    start_gateway,
)
from nimbus_storage.gateway.storage_policies import DEFAULT_POLICY, PolicySpec
from nimbus_storage.gateway.transport import TlsFilesInvalid
from nimbus_storage.logs import add_format_argument, configure_logging
from nimbus_storage.meta.db_names import CATALOG
from nimbus_storage.node import cli as node_cli
from nimbus_storage.ring import cli as ring_cli
from nimbus_storage.s3errors import ServiceUnavailable
from nimbus_storage.sse.errors import KeyStoreInvalid
from nimbus_storage.storage_errors import StorageUnavailable

ACCESS_KEY_ENV = "NIMBUS_ROOT_ACCESS_KEY"
SECRET_KEY_ENV = "NIMBUS_ROOT_SECRET_KEY"
CLUSTER_TOKEN_ENV = "NIMBUS_CLUSTER_TOKEN"
SSE_KEYS_ENV = "NIMBUS_SSE_KEYS"
CATALOG_WAIT = 60.0
"""Seconds ``serve`` waits for a replicated catalog to be reachable before it gives up."""
CATALOG_RETRY_PAUSE = 1.0
CATALOG_REPORT_EVERY = 10.0
"""Seconds between two log lines saying why the catalog is not reachable yet."""

_log = logging.getLogger("nimbus.gateway")
# Too few nodes answered: from the cluster's own calls, or through the gateway's S3 mapping.
_UNAVAILABLE = (StorageUnavailable, ServiceUnavailable)


class CatalogUnreachable(Exception):
    """The replicated catalog stayed out of reach for ``CATALOG_WAIT`` seconds."""


def _policy_spec(text: str) -> PolicySpec:
    try:
        return PolicySpec.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a number of seconds above 0, not {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nimbus-storage", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve an S3 endpoint from a local directory")
    serve.add_argument("--data", type=Path, required=True, help="data directory (created)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=9000, help="port (default 9000; 0 = any)")
    serve.add_argument("--region", default="us-east-1", help="region name (default us-east-1)")
    serve.add_argument(
        "--domain",
        action="append",
        default=None,
        help="host suffix for virtual-hosted-style requests (repeatable; default localhost)",
    )
    serve.add_argument(
        "--no-fsync", action="store_true", help="skip fsync (tests and benchmarks only)"
    )
    serve.add_argument(
        "--ring",
        type=Path,
        default=None,
        help=f"store blobs on the ring's storage nodes (token from {CLUSTER_TOKEN_ENV})",
    )
    serve.add_argument(
        "--ec",
        metavar="K+M",
        default="",
        help="with --ring: erasure-code blobs into K data + M parity fragments (ring of K+M)",
    )
    serve.add_argument(
        "--policy",
        action="append",
        default=[],
        type=_policy_spec,
        metavar="NAME=RING[:ec=K+M]|NAME=local:DIR",
        help="another storage policy: a ring of its own (EC with :ec=K+M) or a local directory"
        " (repeatable; --ring / --ec, or --data, define the policy named default)",
    )
    serve.add_argument(
        "--default-policy",
        default=DEFAULT_POLICY,
        metavar="NAME",
        help="policy of buckets created without one (default: default)",
    )
    serve.add_argument(
        "--node-connect-timeout",
        type=float,
        default=NODE_CONNECT_TIMEOUT,
        metavar="S",
        help="seconds to reach a storage node before trying another (default %(default)s)",
    )
    serve.add_argument(
        "--node-timeout",
        type=float,
        default=NODE_TIMEOUT,
        metavar="S",
        help="seconds a storage node may stay silent mid-request (default %(default)s)",
    )
    serve.add_argument(
        "--client-header-timeout",
        type=_seconds,
        default=CLIENT_HEADER_TIMEOUT,
        metavar="S",
        help="seconds a client has to send a request's headers; then its connection is closed"
        " (default %(default)s)",
    )
    serve.add_argument(
        "--client-body-timeout",
        type=_seconds,
        default=CLIENT_BODY_TIMEOUT,
        metavar="S",
        help="seconds a request body may stall before the request fails with RequestTimeout"
        " (default %(default)s)",
    )
    serve.add_argument(
        "--metadata-ring",
        type=Path,
        metavar="RING",
        help="ring whose nodes keep the catalog and bucket indexes (default: the default"
        " policy's ring, if it has one)",
    )
    serve.add_argument(
        "--local-metadata",
        action="store_true",
        help="keep the catalog and bucket indexes under --data even with a ring (one gateway)",
    )
    serve.add_argument(
        "--metadata-cache-ttl",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds to reuse a bucket or credential read from the replicated catalog"
        " (default %(default)s)",
    )
    serve.add_argument(
        "--sse-keys",
        type=Path,
        default=os.environ.get(SSE_KEYS_ENV) or None,
        metavar="PATH",
        help="key file or directory (a mounted Secret) of the SSE-S3/SSE-KMS master keys"
        f" (default ${SSE_KEYS_ENV}; none: SSE-S3/SSE-KMS answer NotImplemented; SSE-C, over"
        " TLS, needs none)",
    )
    serve.add_argument(
        "--tls-cert",
        type=Path,
        default=None,
        metavar="PEM",
        help="serve HTTPS with this certificate (chain) and --tls-key (the metrics, health and"
        " admin endpoints too); default plain HTTP, where SSE-C requests are refused",
    )
    serve.add_argument(
        "--tls-key", type=Path, default=None, metavar="PEM", help="the private key of --tls-cert"
    )
    serve.add_argument(
        "--trust-forwarded-proto",
        action="store_true",
        help="count a request as secure (SSE-C allowed, aws:SecureTransport true) when its"
        " X-Forwarded-Proto says https: only behind a proxy that ends TLS and sets that header,"
        " which clients cannot bypass",
    )
    serve.add_argument(
        "--access-log-flush-seconds",
        type=float,
        default=60.0,
        metavar="S",
        help="deliver server access logs (PutBucketLogging) into their target buckets every S"
        " seconds (default %(default)s; also when a buffer is full and at shutdown)",
    )
    serve.add_argument(
        "--no-janitor",
        action="store_true",
        help="do not run lifecycle expiration and upload cleanup here (run them on one gateway"
        " of a cluster)",
    )
    serve.add_argument("--log-level", default="INFO")
    add_format_argument(serve)
    node = commands.add_parser("node", help="run a storage node of a ring-based cluster")
    node_cli.add_arguments(node)
    commands.add_parser(
        "ring",
        help="build, inspect and wait for rings (python -m nimbus_storage.ring)",
        add_help=False,
    )
    return parser


_ORIGINS = {
    "environment": f"from {ACCESS_KEY_ENV} / {SECRET_KEY_ENV}",
    "existing": "kept in the data directory",
    "generated": "generated now and kept in the data directory",
}


def _banner(endpoint: str, access_key: str, secret_key: str, source: str) -> str:
    """What ``serve`` prints at start. A secret key the caller passed in the environment is
    not echoed (in a pod, stdout is a log many can read); a generated one must be, once."""
    origin = _ORIGINS[source]
    shown = f"${SECRET_KEY_ENV}" if source == "environment" else secret_key
    return "\n".join(
        [
            f"Nimbus S3 endpoint: {endpoint}",
            f"  access key: {access_key}",
            f"  secret key: {shown}   ({origin})",
            "Try it:",
            f"  export AWS_ACCESS_KEY_ID={access_key} AWS_SECRET_ACCESS_KEY={shown}",
            f"  aws --endpoint-url {endpoint} s3 mb s3://demo",
            f"  aws --endpoint-url {endpoint} s3 cp README.md s3://demo/",
            f"Metrics: {endpoint}/_nimbus/metrics",
        ]
    )


async def _serve(args: argparse.Namespace) -> int:
    config = GatewayConfig(
        data_dir=args.data.resolve(),
        host=args.host,
        port=args.port,
        region=args.region,
        fsync=not args.no_fsync,
        ring_path=args.ring,
        cluster_token=os.environ.get(CLUSTER_TOKEN_ENV, ""),
        node_connect_timeout=args.node_connect_timeout,
        node_timeout=args.node_timeout,
        client_header_timeout=args.client_header_timeout,
        client_body_timeout=args.client_body_timeout,
        ec_policy=args.ec,
        policies=tuple(args.policy),
        default_policy=args.default_policy,
        metadata_ring=args.metadata_ring,
        local_metadata=args.local_metadata,
        metadata_cache_ttl=args.metadata_cache_ttl,
        sse_keys=args.sse_keys.resolve() if args.sse_keys else None,
        tls_cert=args.tls_cert.resolve() if args.tls_cert else None,
        tls_key=args.tls_key.resolve() if args.tls_key else None,
        trust_forwarded_proto=args.trust_forwarded_proto,
        access_log_flush_seconds=args.access_log_flush_seconds,
    )
    if args.domain:
        config = dataclasses.replace(config, domains=tuple(args.domain))
    try:
        gateway = await start_gateway(config, janitor_enabled=not args.no_janitor)
    except KeyStoreInvalid as exc:
        print(f"nimbus-storage serve: --sse-keys: {exc.message}", file=sys.stderr)
        return 2
    except TlsFilesInvalid as exc:
        print(f"nimbus-storage serve: --tls-cert/--tls-key: {exc.message}", file=sys.stderr)
        return 2
    gateway.services.ready = False
    try:
        root = await _root_credential(gateway)
    except CatalogUnreachable as exc:
        await gateway.stop()
        print(f"nimbus-storage serve: {exc}", file=sys.stderr)
        return 1
    gateway.services.ready = True
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before the banner: it says "ready"
        loop.add_signal_handler(signum, stop.set)
    print(_banner(gateway.endpoint, root.access_key, root.secret_key, root.source), flush=True)
    await stop.wait()
    await gateway.stop()
    return 0


async def _root_credential(gateway: RunningGateway) -> RootCredential:
    """The root credential, waiting (up to ``CATALOG_WAIT`` seconds) for a replicated catalog to
    be reachable: gateways and storage nodes may start in any order. While it waits, it says
    every ``CATALOG_REPORT_EVERY`` seconds what each node that may hold the catalog answers."""
    access_key, secret_key = os.environ.get(ACCESS_KEY_ENV), os.environ.get(SECRET_KEY_ENV)
    started = time.monotonic()
    reported = -math.inf
    while True:
        try:
            return await ensure_root_credential(gateway.services.catalog, access_key, secret_key)
        except _UNAVAILABLE as exc:
            waited = time.monotonic() - started
            if waited > CATALOG_WAIT:
                raise CatalogUnreachable(
                    f"catalog not reachable in {CATALOG_WAIT:g} s: {exc.message}"
                    f" {await _catalog_answers(gateway)}"
                ) from exc
            if waited - reported >= CATALOG_REPORT_EVERY:
                reported = waited
                _log.warning(
                    "catalog not reachable yet (retrying for up to %g s): %s %s",
                    round(CATALOG_WAIT - waited),
                    exc.message,
                    await _catalog_answers(gateway),
                )
            await asyncio.sleep(CATALOG_RETRY_PAUSE)


async def _catalog_answers(gateway: RunningGateway) -> str:
    """``Tried: 507 device d0 missing on 127.0.0.1:6201 (...); ...``, for a replicated catalog."""
    catalog = gateway.services.catalog
    if not isinstance(catalog, RingCatalogService):
        return ""
    return "Tried: " + "; ".join(await probe_replicas(catalog.replicas, CATALOG)) + "."


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["ring"]:
        return ring_cli.main(words[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        configure_logging(args.log_level, args.log_format)
    except ValueError as exc:
        parser.error(str(exc))
    if args.command == "serve":
        return uvloop.run(_serve(args))
    if args.command == "node":
        return node_cli.run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
