"""Session fixtures for end-to-end tests: one real control plane for the whole run.

- Missing binaries are built once, before the first test (outside the per-test timeout).
- ``NIMBUS_KUBECONFIG=/path/to/kubeconfig`` reuses a cluster you already run
  (``python -m e2e.cluster up``) and leaves it running: the fast inner loop.
- ``NIMBUS_KEEP_CLUSTER=1`` keeps the run directory (logs, etcd data) after the session.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config

from e2e.cluster import BinaryPaths, Cluster, ensure_built
from e2e.nodeagent.network import ADDRESS_BLOCK_ENV
from tests.e2e.operator_install import Operator, install

REUSE_ENV = "NIMBUS_KUBECONFIG"
KEEP_ENV = "NIMBUS_KEEP_CLUSTER"


@dataclass(frozen=True)
class E2ECluster:
    kubeconfig: Path
    cluster: Cluster | None
    """None when the session reuses an external cluster (``NIMBUS_KUBECONFIG``)."""


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build missing binaries before any e2e test starts (a cold build takes many minutes)."""
    wants_cluster = any(item.get_closest_marker("e2e") for item in session.items)
    if not wants_cluster or os.environ.get(REUSE_ENV) or not BinaryPaths.from_cache().missing():
        return
    capture = session.config.pluginmanager.getplugin("capturemanager")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    build_logger = logging.getLogger("e2e.cluster")
    with capture.global_and_fixture_disabled():
        print(
            "\ne2e: building missing control-plane binaries (cold: many minutes)", file=sys.stderr
        )
        build_logger.addHandler(handler)
        build_logger.setLevel(logging.INFO)
        try:
            ensure_built()
        finally:
            build_logger.removeHandler(handler)


@pytest.fixture(scope="session")
def e2e_cluster() -> Iterator[E2ECluster]:
    reused = os.environ.get(REUSE_ENV)
    if reused:
        yield E2ECluster(Path(reused), None)
        return
    # NIMBUS_ADDRESS_BLOCK lets this session run beside another local cluster (another run's).
    cluster = Cluster(address_block=int(os.environ.get(ADDRESS_BLOCK_ENV) or 0))
    cluster.start()
    try:
        yield E2ECluster(cluster.kubeconfig, cluster)
    finally:
        cluster.stop(keep=bool(os.environ.get(KEEP_ENV)))


@pytest.fixture(scope="session")
def api_client(e2e_cluster: E2ECluster) -> Iterator[client.ApiClient]:
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(e2e_cluster.kubeconfig)
    )
    try:
        yield api
    finally:
        api.close()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def core_v1(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="session")
def apps_v1(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture(scope="session")
def apiextensions_v1(api_client: client.ApiClient) -> client.ApiextensionsV1Api:
    return client.ApiextensionsV1Api(api_client)


@pytest.fixture(scope="session")
def custom_objects(api_client: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api_client)


@pytest.fixture
def namespace(core_v1: client.CoreV1Api) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (without waiting)."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    core_v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        core_v1.delete_namespace(name)


@pytest.fixture(scope="session")
def nimbus_operator(e2e_cluster: E2ECluster) -> Operator:
    """The operator, installed once per session from the Helm chart."""
    return install(e2e_cluster.kubeconfig)
