"""Golden files of the pure renderers: what each ``build_*`` makes of a sample design.

A change to a renderer shows up here as a diff to review. After a deliberate change, rewrite
the files with ``NIMBUS_UPDATE_GOLDEN=1 pytest tests/unit/operator/test_render_golden.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from nimbus_operator.render.gateway import build_gateway_deployment, build_gateway_service
from nimbus_operator.render.storage_nodes import (
    build_node_disruption_budget,
    build_node_statefulset,
    build_nodes_service,
)
from nimbus_operator.render.store_design import PolicyDesign, Resources, StoreDesign
from nimbus_operator.render.store_secrets import (
    build_admin_secret,
    build_builders_configmap,
    build_rings_configmap,
)

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("NIMBUS_UPDATE_GOLDEN") == "1"

DESIGN = StoreDesign(
    name="photos",
    namespace="media",
    uid="0b5c2d4e-1111-2222-3333-444455556666",
    image="ghcr.io/nimbus-cloud/nimbus:0.1.0",
    region="eu-west-1",
    node_count=4,
    volume_size="100Gi",
    policies=(
        PolicyDesign("replicated", 3, 6200),
        PolicyDesign("cold", 6, 6201, (4, 2)),
    ),
    default_policy="replicated",
    metadata_policy="replicated",
    gateway_replicas=2,
    gateway_port=80,
    storage_class="fast-local",
    zones=("a", "b", "c"),
    node_resources=Resources((("cpu", "500m"), ("memory", "1Gi")), (("memory", "2Gi"),)),
)

ENCRYPTED = replace(DESIGN, sse_key_secret="photos-sse-keys")
"""The same store with spec.encryption.keySecretName: gateways mount the key Secret."""

TLS = replace(ENCRYPTED, tls_secret="photos-tls", tls_revision="5d41402abc4b2a76", gateway_port=443)
"""The same store with spec.gateway.tls too: HTTPS gateways (with their key store as well, so
both Secrets' mounts show side by side)."""

RENDERERS: dict[str, Callable[[], dict[str, Any]]] = {
    "storage-nodes-statefulset": lambda: build_node_statefulset(DESIGN),
    "storage-nodes-service": lambda: build_nodes_service(DESIGN),
    "storage-nodes-pdb": lambda: build_node_disruption_budget(DESIGN),
    "gateway-deployment": lambda: build_gateway_deployment(DESIGN),
    "janitor-deployment": lambda: build_gateway_deployment(DESIGN, janitor=True),
    "gateway-deployment-sse": lambda: build_gateway_deployment(ENCRYPTED),
    "janitor-deployment-sse": lambda: build_gateway_deployment(ENCRYPTED, janitor=True),
    "gateway-deployment-tls": lambda: build_gateway_deployment(TLS),
    "janitor-deployment-tls": lambda: build_gateway_deployment(TLS, janitor=True),
    "gateway-service": lambda: build_gateway_service(DESIGN),
    "gateway-service-tls": lambda: build_gateway_service(TLS),
    "admin-secret": lambda: build_admin_secret(DESIGN, "NIMBUSADMIN", "s3cr3t", "token"),
    "rings-configmap": lambda: build_rings_configmap(
        DESIGN, {"replicated": '{"ring": 1}', "cold": '{"ring": 2}'}
    ),
    "ring-builders-configmap": lambda: build_builders_configmap(
        DESIGN, {"replicated": '{"builder": 1}'}, {"replicated": 6200, "cold": 6201}
    ),
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_renderer_matches_its_golden_file(name: str) -> None:
    # Through JSON: what the API server receives (and no YAML anchors for shared sub-dicts).
    rendered = yaml.safe_dump(json.loads(json.dumps(RENDERERS[name]())), sort_keys=True)
    path = GOLDEN / f"{name}.yaml"
    if UPDATE:
        path.write_text(rendered)
    assert path.exists(), f"no golden file {path.name}: run with NIMBUS_UPDATE_GOLDEN=1"
    assert rendered == path.read_text(), f"{name} changed: review, then NIMBUS_UPDATE_GOLDEN=1"


def test_every_golden_file_has_a_renderer() -> None:
    assert {path.stem for path in GOLDEN.glob("*.yaml")} <= set(RENDERERS)
