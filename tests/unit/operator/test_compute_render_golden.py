"""Golden files of the VirtualServer renderers, and the VMs checked against KubeVirt's CRD.

A change to a renderer shows up here as a diff to review. After a deliberate change, rewrite
the files with ``NIMBUS_UPDATE_GOLDEN=1 pytest tests/unit/operator/test_compute_render_golden.py``.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from nimbus_operator.models.compute.servergroup import ServerGroupPolicy
from nimbus_operator.render.compute import (
    ServerDesign,
    ServerGroupDesign,
    build_cloud_init_secret,
    build_service,
    build_virtual_machine,
)

from tests.unit.operator.compute_designs import (
    FULL,
    HTTP_IMAGE,
    MINIMAL,
    design,
    server,
)
from tests.unit.operator.compute_samples import ED25519_KEY

GOLDEN = Path(__file__).parent / "golden" / "compute"
UPDATE = os.environ.get("NIMBUS_UPDATE_GOLDEN") == "1"
POLICIES = {
    "affinity": ServerGroupDesign("db", ServerGroupPolicy.AFFINITY),
    "anti-affinity": ServerGroupDesign("db", ServerGroupPolicy.ANTI_AFFINITY),
    "anti-affinity-max-3": ServerGroupDesign("db", ServerGroupPolicy.ANTI_AFFINITY, 3),
    "soft-affinity": ServerGroupDesign("db", ServerGroupPolicy.SOFT_AFFINITY),
    "soft-anti-affinity": ServerGroupDesign("db", ServerGroupPolicy.SOFT_ANTI_AFFINITY),
}
STOPPED_HTTP = design(
    server(
        "db-1",
        powerState="Stopped",
        serverGroup="db",
        networks=[{"ports": [{"name": "diameter", "port": 3868, "protocol": "SCTP"}]}],
    ),
    image=HTTP_IMAGE,
    group=POLICIES["anti-affinity"],
)

SCRIPT_IN_SECRET = design(
    server(
        "batch-1", userData="#!/bin/bash\nset -eu\ncurl -fsS https://config.example/boot | sh\n"
    ),
    keys=(ED25519_KEY,),
    inline_user_data=False,
)


def _placement(group: str) -> Callable[[], dict[str, Any]]:
    return lambda: _placement_of(group)


def _grouped(group: str) -> ServerDesign:
    return design(server("db-1", serverGroup="db"), group=POLICIES[group])


def _placement_of(group: str) -> dict[str, Any]:
    """What a group's policy changes in the VM: labels and the template's placement."""
    vm = build_virtual_machine(_grouped(group))
    template = vm["spec"]["template"]
    return {
        "labels": template["metadata"]["labels"],
        **{
            key: template["spec"][key]
            for key in ("affinity", "topologySpreadConstraints")
            if key in template["spec"]
        },
    }


RENDERERS: dict[str, Callable[[], dict[str, Any] | None]] = {
    "minimal-vm": lambda: build_virtual_machine(MINIMAL),
    "full-vm": lambda: build_virtual_machine(FULL),
    "full-cloud-init-secret": lambda: build_cloud_init_secret(FULL),
    "full-service": lambda: build_service(FULL),
    "script-cloud-init-secret": lambda: build_cloud_init_secret(SCRIPT_IN_SECRET),
    "stopped-http-vm": lambda: build_virtual_machine(STOPPED_HTTP),
    "stopped-http-service": lambda: build_service(STOPPED_HTTP),
    **{f"group-{name}": _placement(name) for name in POLICIES},
}
VMS: dict[str, ServerDesign] = {
    "minimal": MINIMAL,
    "full": FULL,
    "stopped-http": STOPPED_HTTP,
    **{f"group-{name}": _grouped(name) for name in POLICIES},
}


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (user data) as literal blocks, so the golden files read well."""


_Dumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


def _dump(value: Any) -> str:
    # Through JSON: what the API server receives (and no YAML anchors for shared sub-dicts).
    return yaml.dump(json.loads(json.dumps(value)), Dumper=_Dumper, sort_keys=True, width=100)


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_renderer_matches_its_golden_file(name: str) -> None:
    rendered = _dump(RENDERERS[name]())
    path = GOLDEN / f"{name}.yaml"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(rendered)
    assert path.exists(), f"no golden file {path.name}: run with NIMBUS_UPDATE_GOLDEN=1"
    assert rendered == path.read_text(), f"{name} changed: review, then NIMBUS_UPDATE_GOLDEN=1"


def test_every_golden_file_has_a_renderer() -> None:
    assert {path.stem for path in GOLDEN.glob("*.yaml")} <= set(RENDERERS)


def test_the_small_cases_render_no_secret_and_no_service() -> None:
    assert build_cloud_init_secret(MINIMAL) is None
    assert build_service(MINIMAL) is None


def test_rendering_is_stable() -> None:
    """The same design renders the same objects: no random boundary, name or order, so the
    reconciler never restarts a server for nothing."""
    assert build_virtual_machine(FULL) == build_virtual_machine(FULL)
    assert build_cloud_init_secret(FULL) == build_cloud_init_secret(FULL)


# -- KubeVirt's own schema --------------------------------------------------------------------


@functools.cache
def _kubevirt_vm_schema() -> dict[str, Any] | None:
    """The openAPIV3Schema of KubeVirt v1.7's VirtualMachine CRD, which ``python -m e2e.cluster
    build`` generates from KubeVirt's own builders, when the binary cache has it."""
    root = Path(os.environ.get("NIMBUS_BIN_CACHE") or Path.home() / ".cache" / "nimbus" / "bin")
    found = sorted(root.glob("kubevirt-crds-v1.7*/virtualmachines.kubevirt.io.yaml"))
    if not found:
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    crd = yaml.load(found[-1].read_text(), Loader=loader)
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def _schema_errors(schema: dict[str, Any], value: Any, path: str) -> list[str]:
    """What the API server would reject or prune: unknown fields, wrong types, missing
    required fields, values outside an enum."""
    if schema.get("x-kubernetes-int-or-string"):
        ok = isinstance(value, int | str) and not isinstance(value, bool)
        return [] if ok else [f"{path}: int or string expected"]
    kind = schema.get("type")
    if kind == "object":
        return _object_errors(schema, value, path)
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: array expected"]
        items = schema.get("items", {})
        return [
            e for i, item in enumerate(value) for e in _schema_errors(items, item, f"{path}[{i}]")
        ]
    expected = {"string": str, "integer": int, "boolean": bool}.get(str(kind))
    if expected is not None and (
        not isinstance(value, expected) or (expected is int and isinstance(value, bool))
    ):
        return [f"{path}: {kind} expected, got {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    return []


def _object_errors(schema: dict[str, Any], value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: object expected"]
    properties = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    errors = [
        f"{path}: {name} is required" for name in schema.get("required", ()) if name not in value
    ]
    for name, item in value.items():
        if name in properties:
            errors += _schema_errors(properties[name], item, f"{path}.{name}")
        elif isinstance(extra, dict):
            errors += _schema_errors(extra, item, f"{path}.{name}")
        elif not schema.get("x-kubernetes-preserve-unknown-fields"):
            errors.append(f"{path}.{name}: unknown field (the API server would drop it)")
    return errors


@pytest.mark.parametrize("name", VMS)
def test_virtual_machines_fit_kubevirts_crd_schema(name: str) -> None:
    schema = _kubevirt_vm_schema()
    if schema is None:
        pytest.skip("KubeVirt's CRDs are not in the binary cache (python -m e2e.cluster build)")
    vm = json.loads(json.dumps(build_virtual_machine(VMS[name])))
    vm.pop("metadata")  # ObjectMeta is the API server's own schema, not the CRD's
    assert _schema_errors(schema, vm, "") == []


def test_the_schema_check_finds_what_the_api_server_would_drop() -> None:
    schema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "properties": {"running": {"type": "boolean"}, "cores": {"type": "integer"}},
            }
        },
    }
    errors = _schema_errors(schema, {"spec": {"runing": True, "cores": "2"}}, "")
    assert errors == [
        ".spec.runing: unknown field (the API server would drop it)",
        ".spec.cores: integer expected, got '2'",
    ]
    assert _schema_errors(schema, {}, "") == [": spec is required"]
