"""Storage policies: parsing ``--policy``, resolving names, opening one store per policy."""

from __future__ import annotations

from pathlib import Path

import pytest
from nimbus_storage.blobs.diskfile import DiskBlobStore
from nimbus_storage.blobs.memory import MemoryBlobStore
from nimbus_storage.cluster.ec_blobs import ECBlobStore
from nimbus_storage.cluster.ring_blobs import RingBlobStore
from nimbus_storage.gateway.config import GatewayConfig
from nimbus_storage.gateway.server import open_policies
from nimbus_storage.gateway.storage_policies import Policies, PolicySpec
from nimbus_storage.meta.api import Bucket
from nimbus_storage.ring import RingBuilder
from nimbus_storage.s3errors import InvalidRequest, ServiceUnavailable


def test_policy_specs() -> None:
    assert PolicySpec.parse("gold=/etc/rings/gold.json") == PolicySpec(
        "gold", "ring", Path("/etc/rings/gold.json")
    )
    assert PolicySpec.parse("ec42=ec.json:ec=4+2") == PolicySpec(
        "ec42", "ring", Path("ec.json"), "4+2"
    )
    assert PolicySpec.parse("cold=local:/srv/cold") == PolicySpec(
        "cold", "local", Path("/srv/cold")
    )


@pytest.mark.parametrize(
    "text",
    ["nameless", "=ring.json", "Gold=ring.json", "x=", "x=local:", "x=r.json:ec=4", "x=r:ec="],
)
def test_bad_policy_specs_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="bad policy"):
        PolicySpec.parse(text)


def test_resolving_policy_names() -> None:
    hot, cold = MemoryBlobStore(), MemoryBlobStore()
    policies = Policies({"default": hot, "cold": cold}, default="cold")
    assert policies.names == ["cold", "default"]
    assert policies.resolve("") == "cold"
    assert policies.resolve("default") == "default"
    with pytest.raises(InvalidRequest, match="serves: cold, default"):
        policies.resolve("gold")
    assert policies.store("") is cold
    assert policies.for_bucket(Bucket("b", "o", 0.0, storage_policy="default")) is hot
    assert policies.for_bucket(Bucket("b", "o", 0.0)) is cold
    with pytest.raises(ServiceUnavailable, match="'gone'"):
        policies.for_bucket(Bucket("b", "o", 0.0, storage_policy="gone"))
    with pytest.raises(ValueError, match="'gold' is not declared"):
        Policies({"default": hot}, default="gold")


def _ring(path: Path, replicas: int) -> Path:
    builder = RingBuilder(2, replicas)
    for zone in "abc":
        builder.add_device(region=1, zone=zone, node=f"{zone}:1", device="d0", weight=1)
    builder.rebalance()
    builder.ring().save(path)
    return path


def test_a_gateway_opens_one_store_per_policy(tmp_path: Path) -> None:
    ring = _ring(tmp_path / "ring.json", 3)
    config = GatewayConfig(
        tmp_path / "gw",
        cluster_token="t",
        policies=(
            PolicySpec("cold", "local", tmp_path / "cold"),
            PolicySpec("triple", "ring", ring),
            PolicySpec("ec", "ring", ring, "2+1"),
        ),
        default_policy="triple",
    )
    policies, client = open_policies(config)
    assert client is not None
    stores = policies.stores
    assert isinstance(stores["default"], DiskBlobStore)  # --data: the local disk store
    assert isinstance(stores["cold"], DiskBlobStore)
    assert isinstance(stores["triple"], RingBlobStore)
    assert isinstance(stores["ec"], ECBlobStore)
    assert stores["triple"].client is stores["ec"].client is client
    assert policies.default == "triple"


def test_policy_configuration_mistakes_are_refused(tmp_path: Path) -> None:
    ring = _ring(tmp_path / "ring.json", 3)
    cold = PolicySpec("cold", "local", tmp_path / "cold")
    with pytest.raises(ValueError, match="same name"):
        open_policies(GatewayConfig(tmp_path, policies=(cold, cold)))
    with pytest.raises(ValueError, match="'warm' is not declared"):
        open_policies(GatewayConfig(tmp_path, policies=(cold,), default_policy="warm"))
    with pytest.raises(ValueError, match="both define the default"):
        open_policies(
            GatewayConfig(
                tmp_path,
                ring_path=ring,
                cluster_token="t",
                policies=(PolicySpec("default", "local", tmp_path / "d"),),
            )
        )
    with pytest.raises(ValueError, match="cluster token"):
        open_policies(GatewayConfig(tmp_path, policies=(PolicySpec("r", "ring", ring),)))
    policies, client = open_policies(
        GatewayConfig(tmp_path, policies=(PolicySpec("default", "local", tmp_path / "d"),))
    )
    assert client is None
    assert isinstance(policies.store(""), DiskBlobStore)
