"""Opening a gateway's services: leftovers of interrupted writes are cleared at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from nimbus_storage.cluster.ec_blobs import ECBlobStore
from nimbus_storage.cluster.ec_layout import ECPolicy
from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.gateway.server import ensure_root_credential, open_services
from nimbus_storage.meta.errors import CredentialExists
from nimbus_storage.protocol.client import NodeClient, NodeTimeouts
from nimbus_storage.ring import RingBuilder


async def test_start_removes_temp_files_of_interrupted_writes(tmp_path: Path) -> None:
    first = open_services(GatewayConfig(data_dir=tmp_path, fsync=False))
    await first.catalog.close()
    temp_dir = tmp_path / "blobs" / "d0" / "tmp"
    (temp_dir / "crashed-write.tmp").write_bytes(b"half an object")
    again = open_services(GatewayConfig(data_dir=tmp_path, fsync=False))
    await again.catalog.close()
    assert list(temp_dir.iterdir()) == []


async def test_root_credential_sources(tmp_path: Path) -> None:
    services = open_services(GatewayConfig(data_dir=tmp_path, fsync=False))
    generated = await ensure_root_credential(services.catalog, None, None)
    assert generated.source == "generated"
    kept = await ensure_root_credential(services.catalog, None, None)
    assert (kept.source, kept.access_key, kept.secret_key) == (
        "existing",
        generated.access_key,
        generated.secret_key,
    )
    given = await ensure_root_credential(services.catalog, "ROOTFROMENV", "secret-from-env")
    assert given.source == "environment"
    credential = await services.catalog.get_credential("ROOTFROMENV")
    assert credential is not None
    assert credential.is_admin
    assert credential.secret_key == "secret-from-env"
    # The generated root key no longer works once another one is given.
    assert await services.catalog.get_credential(generated.access_key) is None
    await services.catalog.close()


async def test_gateways_starting_together_with_one_root_key_all_start(tmp_path: Path) -> None:
    """A store's gateways start at once with the same key: whoever creates it second must see
    the first one's and go on, not crash (it did: EntityAlreadyExists, CrashLoopBackOff)."""
    services = open_services(GatewayConfig(data_dir=tmp_path, fsync=False))
    catalog = services.catalog
    real_get = catalog.get_credential
    calls = 0

    async def racing_get(access_key: str) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:  # the other gateway creates the key right after this one looked
            await catalog.create_credential(access_key, "shared", is_admin=True, description="root")
            return None
        return await real_get(access_key)

    catalog.get_credential = racing_get  # type: ignore[method-assign]
    started = await ensure_root_credential(catalog, "STOREROOT", "shared")

    assert (started.access_key, started.source) == ("STOREROOT", "environment")
    calls = 0
    await catalog.delete_credential("STOREROOT")
    with pytest.raises(CredentialExists):  # a different secret under that key is a conflict
        await ensure_root_credential(catalog, "STOREROOT", "another-secret")
    await catalog.close()


def test_ec_policy_picks_the_erasure_coded_store_and_needs_a_ring(tmp_path: Path) -> None:
    builder = RingBuilder(2, 3)
    for zone in "abc":
        builder.add_device(region=1, zone=zone, node=f"{zone}:1", device="d0", weight=1)
    builder.rebalance()
    builder.ring().save(tmp_path / "ring.json")

    def config(ec: str, ring: Path | None = tmp_path / "ring.json") -> GatewayConfig:
        return GatewayConfig(tmp_path / "gw", ring_path=ring, cluster_token="t", ec_policy=ec)

    services = open_services(config("2+1"))
    assert isinstance(services.blobs, ECBlobStore)
    assert services.blobs.policy == ECPolicy(2, 1)
    with pytest.raises(ValueError, match="needs a ring of 5 replicas; this one has 3"):
        open_services(config("4+1"))
    with pytest.raises(ValueError, match="needs a ring file"):
        open_services(config("2+1", ring=None))


async def test_node_timeouts_reach_the_node_client(tmp_path: Path) -> None:
    builder = RingBuilder(2, 3)
    for zone in "abc":
        builder.add_device(region=1, zone=zone, node=f"{zone}:1", device="d0", weight=1)
    builder.rebalance()
    builder.ring().save(tmp_path / "ring.json")
    config = GatewayConfig(
        tmp_path / "gw",
        ring_path=tmp_path / "ring.json",
        cluster_token="t",
        node_connect_timeout=0.5,
        node_timeout=1.5,
    )
    services = open_services(config)
    assert isinstance(services.node_client, NodeClient)
    assert services.node_client.timeouts == NodeTimeouts(connect=0.5, read=1.5)
    await services.catalog.close()
