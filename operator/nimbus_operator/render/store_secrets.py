"""The store's admin Secret and ring ConfigMaps (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from nimbus_operator.render.meta import object_meta
from nimbus_operator.render.store_design import StoreDesign

ACCESS_KEY = "accessKey"
SECRET_KEY = "secretKey"
CLUSTER_TOKEN = "clusterToken"
PORTS_KEY = "ports.json"
SERVED_KEY = "served.json"


def build_admin_secret(
    design: StoreDesign, access_key: str, secret_key: str, cluster_token: str
) -> dict[str, Any]:
    """The root S3 credential of the store (the operator's admin key) and the token storage
    nodes and gateways share."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(design, design.admin_secret, "admin"),
        "type": "Opaque",
        "stringData": {
            ACCESS_KEY: access_key,
            SECRET_KEY: secret_key,
            CLUSTER_TOKEN: cluster_token,
        },
    }


def build_rings_configmap(design: StoreDesign, rings: Mapping[str, str]) -> dict[str, Any]:
    """The rings nodes and gateways mount at ``RINGS_MOUNT``, one key per policy."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(design, design.rings_configmap, "rings"),
        "data": {f"{name}.json": ring for name, ring in sorted(rings.items()) if ring},
    }


def build_builders_configmap(
    design: StoreDesign, builders: Mapping[str, str], ports: Mapping[str, int]
) -> dict[str, Any]:
    """The operator's own memory of each ring (builder state: minimal movement on every
    rebalance, across operator restarts) and of each policy's node port."""
    data = {f"{name}.builder.json": state for name, state in sorted(builders.items())}
    data[PORTS_KEY] = json.dumps(dict(sorted(ports.items())))
    # What the store serves, so that a policy deleted or changed later is still served (its
    # data is here) and the catalog never moves to another ring.
    served = [
        {"name": p.name, "replicas": p.replicas, "port": p.port, "erasure": p.erasure}
        for p in design.policies
    ]
    data[SERVED_KEY] = json.dumps({"policies": served, "metadata": design.metadata_policy})
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(design, design.builders_configmap, "ring-builders"),
        "data": data,
    }
