"""The replicated catalog says "no such key" only when a quorum of its replicas answered: a
credential lookup that reaches fewer is StorageUnavailable (a 503 the client retries), not a
None the gateway would answer with InvalidAccessKeyId, as it did right after a cluster started."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from nimbus_storage.cluster.db_replicas import DatabaseReplicas
from nimbus_storage.cluster.ring_catalog import RingCatalogService
from nimbus_storage.meta import catalog_rows as cr
from nimbus_storage.meta.catalog import new_credential
from nimbus_storage.protocol.client import DatabaseMissing, NodeClient, NodeUnavailable, Placement
from nimbus_storage.storage_errors import StorageUnavailable

from tests.unit.storage.fake_nodes import fixed_rings

KEY, SECRET = "AKROOT", "root-secret"


@dataclass
class CatalogNodes(NodeClient):
    """Three nodes' catalog replicas: ``down`` nodes cannot be reached; a node missing from
    ``catalogs`` has no replica (404); the others hold these credential rows."""

    down: set[str] = field(default_factory=set)
    catalogs: dict[str, list[list[Any]]] = field(default_factory=dict)

    async def db_call(
        self, where: Placement, name: str, op: str, args: Mapping[str, object]
    ) -> object:
        if where.node in self.down:
            raise NodeUnavailable(f"{where.node}: connection refused")
        if where.node not in self.catalogs:
            raise DatabaseMissing(f"{where.node} has no replica of {name}")
        assert op == "credential_rows"
        return [r for r in self.catalogs[where.node] if r[0] == args.get("access_key", r[0])]


def _catalog(nodes: CatalogNodes) -> RingCatalogService:
    return RingCatalogService(DatabaseReplicas(fixed_rings(3, 0), nodes), cache_ttl=0)


def _root_row() -> list[Any]:
    return list(cr.credential_row(new_credential(KEY, SECRET, True, "root", None), 1))


async def test_one_replica_without_the_catalog_cannot_say_a_key_does_not_exist() -> None:
    """Right after a start: the only node up has no replica yet (the others hold it)."""
    nodes = CatalogNodes(down={"p1", "p2"}, catalogs={"p0": [], "p1": [_root_row()]})
    with pytest.raises(StorageUnavailable, match="could not be read for sure"):
        await _catalog(nodes).get_credential(KEY)


async def test_no_replica_reachable_is_unavailable() -> None:
    nodes = CatalogNodes(down={"p0", "p1", "p2"})
    with pytest.raises(StorageUnavailable):
        await _catalog(nodes).get_credential(KEY)


async def test_a_credential_one_replica_has_is_served_while_the_others_are_down() -> None:
    nodes = CatalogNodes(down={"p1", "p2"}, catalogs={"p0": [_root_row()]})
    credential = await _catalog(nodes).get_credential(KEY)
    assert credential is not None
    assert (credential.access_key, credential.secret_key) == (KEY, SECRET)


async def test_a_quorum_of_replicas_without_the_key_says_it_does_not_exist() -> None:
    nodes = CatalogNodes(down={"p2"}, catalogs={"p0": [_root_row()], "p1": [_root_row()]})
    assert await _catalog(nodes).get_credential("AKOTHER") is None


async def test_a_new_cluster_without_a_catalog_has_no_keys_yet() -> None:
    """A quorum answers that it has no catalog at all: the first gateway creates its root key."""
    assert await _catalog(CatalogNodes()).get_credential(KEY) is None
