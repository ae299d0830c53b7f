"""Install the generated KubeVirt and CDI CRDs into a running API server, and wait for them.

The files come from the binary cache (``python -m e2e.cluster build`` generates them, see
``catalog.CRD_SETS``); each holds one CustomResourceDefinition exactly as generated. ``up``
creates them right after the API server is ready, so they are Established long before the nodes
are, and waits for the Established condition before it starts the virt-controller stand-in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from e2e.cluster.apiclient import ApiClient, ApiError

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_crds(files: tuple[Path, ...]) -> list[dict[str, Any]]:
    """The CRD documents of ``files``, in order (the C YAML loader reads 1 MB in ~0.1 s)."""
    documents: list[dict[str, Any]] = []
    for path in files:
        documents.extend(doc for doc in yaml.load_all(path.read_text(), Loader=_LOADER) if doc)
    return documents


def crd_names(documents: list[dict[str, Any]]) -> list[str]:
    return [str(doc["metadata"]["name"]) for doc in documents]


def install_crds(api: ApiClient, documents: list[dict[str, Any]]) -> None:
    """Create every CRD; one that already exists is left as it is."""
    for document in documents:
        response = api.request("POST", CRD_PATH, document)
        if response.status not in (200, 201, 409):
            raise ApiError("POST", CRD_PATH, response.status, response.body)


def crds_established(api: ApiClient, names: list[str]) -> bool:
    """True when every named CRD has condition Established=True (its API is served)."""
    for name in names:
        response = api.request("GET", f"{CRD_PATH}/{name}")
        if response.status != 200:
            return False
        conditions = response.json().get("status", {}).get("conditions") or []
        if not any(
            c.get("type") == "Established" and c.get("status") == "True" for c in conditions
        ):
            return False
    return True
