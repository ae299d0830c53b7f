"""A gateway that cannot read its credentials for sure answers 503 ServiceUnavailable (which
clients retry), never InvalidAccessKeyId for a key that exists: right after a cluster started,
the one node a gateway could reach had no replica of the catalog yet, and valid keys were
refused."""

from __future__ import annotations

from pathlib import Path

from nimbus_storage.gateway.config import GatewayConfig

from tests.functional.conftest import error_code, start_in_thread, stop_in_thread
from tests.support.storage_cluster import StorageCluster


def test_a_valid_key_is_not_refused_while_the_catalog_cannot_be_read(tmp_path: Path) -> None:
    # No replication pass during the test: the node started late keeps lacking the catalog.
    cluster = StorageCluster(tmp_path / "cluster", nodes=3, replicas=3, replicate_interval=600)
    cluster.root.mkdir(parents=True)
    cluster.build_ring()
    try:
        cluster.start_node(1)
        cluster.start_node(2)  # node 0 is down: the catalog (and root key) is made on 1 and 2
        config = GatewayConfig(
            data_dir=tmp_path / "gateway",
            port=0,
            fsync=False,
            ring_path=cluster.ring_path,
            cluster_token=cluster.token,
            metadata_cache_ttl=0,
        )
        handle = start_in_thread(config)
        try:
            root, stranger = handle.client(), handle.client("AKNOSUCHKEY", "not-a-secret")
            assert root.list_buckets()["Buckets"] == []
            assert error_code(stranger.list_buckets) == ("InvalidAccessKeyId", 403)

            cluster.start_node(0)  # up, but with no replica of the catalog
            cluster.stop_node(1)
            cluster.stop_node(2)
            # One replica answers, without the catalog: nobody can tell whether a key exists.
            assert error_code(root.list_buckets) == ("ServiceUnavailable", 503)
            assert error_code(stranger.list_buckets) == ("ServiceUnavailable", 503)

            cluster.start_node(1)  # a quorum again: the key opens, an unknown one is refused
            assert root.list_buckets()["Buckets"] == []
            assert error_code(stranger.list_buckets) == ("InvalidAccessKeyId", 403)
        finally:
            stop_in_thread(handle)
    finally:
        cluster.stop()
