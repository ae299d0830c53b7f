"""The gateways the server-side encryption tests run against, each with a key store: the
standalone gateway (``GatewayConfig.sse_keys``, a JSON key file), a gateway process over 3
storage nodes with replicas (``--sse-keys`` naming a Secret-like key directory) and one over 3
nodes erasure coding 2+1 (the key directory from ``NIMBUS_SSE_KEYS``). Every test of this
package runs on each. Each serves HTTPS (a certificate of a throwaway CA the clients trust):
SSE-C is refused over plain HTTP (tests/functional/test_sse_c_transport.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.sse.keystore import main as keystore_tool

from tests.functional.conftest import empty_and_delete, start_in_thread, stop_in_thread
from tests.functional.sse.support import TENANT_KEY_ID, SseGateway
from tests.support.storage_cluster import StorageCluster
from tests.support.tls import TlsFiles, make_tls_files

MODES = ["standalone", "replicated", "ec-2+1"]


def make_key_store(path: Path, *, as_dir: bool) -> Path:
    """A key store with the default key (``sse-s3``) and ``tenant-a``."""
    keystore_tool(["generate", str(path), *(["--dir"] if as_dir else [])])
    keystore_tool(["add", str(path), "--key-id", TENANT_KEY_ID])
    return path


def _standalone(root: Path, tls: TlsFiles) -> Iterator[SseGateway]:
    keys = make_key_store(root / "keys.json", as_dir=False)
    config = GatewayConfig(
        data_dir=root / "data",
        port=0,
        fsync=False,
        sse_keys=keys,
        tls_cert=tls.cert,
        tls_key=tls.key,
    )
    handle = start_in_thread(config)
    try:
        s3 = handle.client(verify=str(tls.ca))
        yield SseGateway("standalone", s3, [root / "data"], keys, handle=handle)
    finally:
        stop_in_thread(handle)


def _cluster(root: Path, ec: str | None, tls: TlsFiles) -> Iterator[SseGateway]:
    keys = make_key_store(root / "keys", as_dir=True)
    # Replicated: the --sse-keys flag; erasure coded: the NIMBUS_SSE_KEYS environment.
    flags = () if ec else ("--sse-keys", str(keys))
    cluster = StorageCluster(
        root / "cluster", nodes=3, replicas=3, ec=ec, gateway_args=flags, tls=tls
    )
    previous = os.environ.get("NIMBUS_SSE_KEYS")
    if ec:
        os.environ["NIMBUS_SSE_KEYS"] = str(keys)
    try:
        cluster.start()
    finally:
        if previous is None:
            os.environ.pop("NIMBUS_SSE_KEYS", None)
        else:
            os.environ["NIMBUS_SSE_KEYS"] = previous
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=cluster.endpoint,
            aws_access_key_id=cluster.access_key,
            aws_secret_access_key=cluster.secret_key,
            region_name="us-east-1",
            verify=str(tls.ca),
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )
        nodes = [member.data for member in cluster.members]
        yield SseGateway("ec-2+1" if ec else "replicated", s3, nodes, keys)
    finally:
        cluster.stop()


@pytest.fixture(scope="package", params=MODES)
def sse_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SseGateway]:
    root: Path = tmp_path_factory.mktemp(f"sse-{request.param}")
    tls = make_tls_files(root / "tls")
    if request.param == "standalone":
        yield from _standalone(root, tls)
    else:
        yield from _cluster(root, "2+1" if request.param == "ec-2+1" else None, tls)


@pytest.fixture
def sse_bucket(sse_gateway: SseGateway) -> Iterator[str]:
    name = f"sse-{uuid.uuid4().hex[:12]}"
    sse_gateway.s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete(sse_gateway.s3, name)
