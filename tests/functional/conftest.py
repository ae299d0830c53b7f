"""A real gateway on 127.0.0.1, driven by boto3 exactly as applications drive S3.

The gateway runs in a background thread with its own event loop (so tests can also reach its
services, e.g. to run a janitor pass), and listens on a real TCP port. ``gateway_in_each_mode``
runs a test twice: on the standalone gateway, and on a gateway over a 3-node storage cluster.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from botocore.config import Config
from mypy_boto3_s3 import S3Client
from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.gateway.server import RunningGateway, ensure_root_credential, start_gateway

from tests.support.storage_cluster import StorageCluster

ROOT_ACCESS_KEY = "NIMBUSROOTTEST"
ROOT_SECRET_KEY = "root-secret-key-for-tests-only"
T = TypeVar("T")


@dataclass
class GatewayHandle:
    gateway: RunningGateway
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    @property
    def endpoint(self) -> str:
        return self.gateway.endpoint

    def call(self, coroutine: Any) -> Any:
        """Run a coroutine on the gateway's loop and wait for its result."""
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=60)

    def client(
        self,
        access_key: str = ROOT_ACCESS_KEY,
        secret_key: str = ROOT_SECRET_KEY,
        *,
        verify: str | None = None,
        **config: Any,
    ) -> S3Client:
        """boto3 on the gateway; ``verify``: the CA file to trust when it serves HTTPS."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name="us-east-1",
            verify=verify,
            config=Config(
                retries={"max_attempts": 1, "mode": "standard"},
                s3={"addressing_style": config.pop("addressing_style", "path")},
                **config,
            ),
        )


def start_in_thread(config: GatewayConfig) -> GatewayHandle:
    loop = asyncio.new_event_loop()
    started: Future[RunningGateway] = Future()

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            try:
                gateway = await start_gateway(config, janitor_enabled=False)
                await ensure_root_credential(
                    gateway.services.catalog, ROOT_ACCESS_KEY, ROOT_SECRET_KEY
                )
                started.set_result(gateway)
            except BaseException as exc:  # report start-up failures to the test
                started.set_exception(exc)

        loop.run_until_complete(boot())
        loop.run_forever()

    thread = threading.Thread(target=run, name="nimbus-gateway", daemon=True)
    thread.start()
    return GatewayHandle(started.result(timeout=30), loop, thread)


def stop_in_thread(handle: GatewayHandle) -> None:
    handle.call(handle.gateway.stop())
    handle.loop.call_soon_threadsafe(handle.loop.stop)
    handle.thread.join(timeout=10)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayHandle]:
    data: Path = tmp_path_factory.mktemp("gateway")
    handle = start_in_thread(
        GatewayConfig(data_dir=data, port=0, fsync=False, multipart_min_part_size=5 * 1024**2)
    )
    yield handle
    stop_in_thread(handle)


@pytest.fixture(scope="session")
def s3(gateway: GatewayHandle) -> S3Client:
    return gateway.client()


@pytest.fixture(scope="session", params=["standalone", "cluster"])
def gateway_in_each_mode(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayHandle]:
    """The standalone gateway, then a gateway over a ring of 3 storage node processes (3
    replicas; the catalog and bucket indexes replicated on the nodes too). Both run in-process,
    so tests can look at what is stored behind the S3 API."""
    if request.param == "standalone":
        yield request.getfixturevalue("gateway")
        return
    root: Path = tmp_path_factory.mktemp("cluster-mode")
    cluster = StorageCluster(root / "cluster", nodes=3, replicas=3)
    cluster.root.mkdir(parents=True)
    cluster.build_ring()
    try:
        for index in range(cluster.nodes):
            cluster.start_node(index)
        handle = start_in_thread(
            GatewayConfig(
                data_dir=root / "gateway",
                port=0,
                fsync=False,
                ring_path=cluster.ring_path,
                cluster_token=cluster.token,
            )
        )
        try:
            yield handle
        finally:
            stop_in_thread(handle)
    finally:
        cluster.stop()


@pytest.fixture
def s3_in_each_mode(gateway_in_each_mode: GatewayHandle) -> S3Client:
    return gateway_in_each_mode.client()


@pytest.fixture
def bucket_in_each_mode(s3_in_each_mode: S3Client) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_in_each_mode.create_bucket(Bucket=name)
    yield name
    empty_and_delete(s3_in_each_mode, name)


@pytest.fixture
def bucket(s3: S3Client) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    empty_and_delete(s3, name)


def empty_and_delete(s3: S3Client, name: str) -> None:
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=name):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"])
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=name)


def error_code(call: Callable[[], T]) -> tuple[str, int]:
    """The AWS error code and HTTP status a call fails with."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]
