"""The compute.nimbus.dev CRDs: names, scope, printer columns, root rules, and the examples in
examples/compute/ valid for both the CRDs and the models."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from nimbus_operator.constants import API_VERSION, COMPUTE_GROUP
from nimbus_operator.models.common import SpecError
from nimbus_operator.models.compute.flavor import Flavor
from nimbus_operator.models.compute.image import Image
from nimbus_operator.models.compute.keypair import KeyPair
from nimbus_operator.models.compute.quota import ComputeQuota
from nimbus_operator.models.compute.servergroup import ServerGroup
from nimbus_operator.models.compute.virtualserver import VIRTUAL_SERVER, VirtualServer
from nimbus_operator.models.crddocs import render_reference
from nimbus_operator.models.crdgen import COMPUTE_KINDS, STORAGE_KINDS
from nimbus_operator.models.kind import ResourceKind

from tests.unit.operator.crdtools import KINDS, REPO, apply_defaults, load_crd, root_schema

celpy: Any = importlib.import_module("celpy")

EXAMPLES = REPO / "examples" / "compute"
KIND = {kind.kind: kind for kind in COMPUTE_KINDS}


def test_every_kind_is_in_one_group() -> None:
    assert (*STORAGE_KINDS, *COMPUTE_KINDS) == KINDS
    assert {kind.group for kind in COMPUTE_KINDS} == {COMPUTE_GROUP}
    assert [kind.kind for kind in COMPUTE_KINDS] == [
        "Flavor",
        "Image",
        "KeyPair",
        "ServerGroup",
        "VirtualServer",
        "ComputeQuota",
    ]


@pytest.mark.parametrize(
    ("kind", "scope", "short_names"),
    [
        ("Flavor", "Cluster", ["flv"]),
        ("Image", "Namespaced", ["img"]),
        ("KeyPair", "Namespaced", ["kp"]),
        ("ServerGroup", "Namespaced", ["sgroup"]),
        ("VirtualServer", "Namespaced", ["vsrv"]),
        ("ComputeQuota", "Namespaced", ["cquota"]),
    ],
)
def test_names_and_scope(kind: str, scope: str, short_names: list[str]) -> None:
    resource = KIND[kind]
    crd = load_crd(resource)
    assert crd["metadata"]["name"] == f"{resource.plural}.compute.nimbus.dev"
    names = crd["spec"]["names"]
    assert (names["kind"], names["singular"]) == (kind, kind.lower())
    assert names["shortNames"] == short_names
    assert names["categories"] == ["nimbus", "nimbus-compute"]
    assert crd["spec"]["scope"] == scope
    (version,) = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == (API_VERSION, True, True)
    assert version["subresources"] == {"status": {}}


def _resolve(schema: dict[str, Any], json_path: str) -> dict[str, Any]:
    node = schema
    for part in json_path.strip(".").split("."):
        node = node["properties"][part]
    return node


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        ("Flavor", ["VCPUS", "MEMORY", "DISK", "AGE"]),
        ("Image", ["SOURCE", "PHASE", "SIZE", "AGE"]),
        ("KeyPair", ["FINGERPRINT", "AGE"]),
        ("ServerGroup", ["POLICY", "MEMBERS", "AGE"]),
        ("VirtualServer", ["STATUS", "FLAVOR", "IMAGE", "IP", "NODE", "ZONE", "AGE"]),
        ("ComputeQuota", ["INSTANCES", "VCPUS", "MEMORY", "PHASE", "AGE"]),
    ],
)
def test_printer_columns_as_kubectl_prints_them(kind: str, columns: list[str]) -> None:
    resource = KIND[kind]
    printed = load_crd(resource)["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [column["name"].upper() for column in printed] == columns
    schema = root_schema(resource)
    for column in printed[:-1]:
        node = _resolve(schema, column["jsonPath"])
        if "x-kubernetes-int-or-string" in node:
            assert column["type"] == "string", column
        else:
            assert column["type"] == node["type"], column


def evaluate(expression: str, value: Any) -> bool:
    environment = celpy.Environment()
    program = environment.program(environment.compile(expression))
    return bool(program.evaluate({"self": celpy.json_to_cel(value)}))


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("web-1", True),
        ("a", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("1web", False),
        ("web.1", False),
        ("web-", False),
    ],
)
def test_a_server_name_is_a_dns_label_starting_with_a_letter(name: str, allowed: bool) -> None:
    (rule,) = root_schema(VIRTUAL_SERVER)["x-kubernetes-validations"]
    body = {"metadata": {"name": name}, "spec": {"flavor": "f", "image": {"name": "i"}}}
    assert evaluate(rule["rule"], body) is allowed
    (twin,) = VIRTUAL_SERVER.root_rules
    assert twin.check(body) is allowed
    if allowed:
        assert VirtualServer.from_body(body).metadata.name == name
    else:
        with pytest.raises(SpecError, match=r"^metadata\.name: a VirtualServer's name must be"):
            VirtualServer.from_body(body)


def test_only_the_server_has_root_rules() -> None:
    for kind in KINDS:
        rules = root_schema(kind).get("x-kubernetes-validations")
        assert (rules is not None) == (kind is VIRTUAL_SERVER), kind.kind


def load_examples() -> list[tuple[Path, dict[str, Any]]]:
    """The compute objects of examples/compute/ (images-bucket.yaml holds storage ones)."""
    return [
        (path, body)
        for path in sorted(EXAMPLES.glob("*.yaml"))
        for body in yaml.safe_load_all(path.read_text())
        if body and str(body["apiVersion"]).startswith(f"{COMPUTE_GROUP}/")
    ]


def test_the_images_bucket_example_is_a_bucket_and_its_uploader() -> None:
    from nimbus_operator.models.bucket import Bucket
    from nimbus_operator.models.bucketaccess import BucketAccess

    bucket, access = yaml.safe_load_all((EXAMPLES / "images-bucket.yaml").read_text())
    assert Bucket.from_body(bucket).metadata.name == "images"
    claims = BucketAccess.from_body(access).spec.bucket_claims
    assert [claim.bucket_claim_name for claim in claims] == ["images"]


def test_there_is_one_example_of_each_kind() -> None:
    kinds = sorted(body["kind"] for _, body in load_examples())
    assert kinds == sorted(KIND)
    for path, body in load_examples():
        assert path.stem == body["kind"].lower()
        assert body["apiVersion"] == f"{COMPUTE_GROUP}/{API_VERSION}"


RESOURCES: dict[str, Any] = {
    "Flavor": Flavor,
    "Image": Image,
    "KeyPair": KeyPair,
    "ServerGroup": ServerGroup,
    "VirtualServer": VirtualServer,
    "ComputeQuota": ComputeQuota,
}


def schema_values(schema: dict[str, Any], value: Any) -> Iterator[tuple[dict[str, Any], Any]]:
    yield schema, value
    if isinstance(value, dict):
        for name, child in schema.get("properties", {}).items():
            if name in value:
                yield from schema_values(child, value[name])
        if isinstance(schema.get("additionalProperties"), dict):
            for item in value.values():
                yield from schema_values(schema["additionalProperties"], item)
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            yield from schema_values(schema["items"], item)


@pytest.mark.parametrize(("path", "body"), load_examples(), ids=lambda v: getattr(v, "stem", ""))
def test_examples_pass_the_crd_and_parse(path: Path, body: dict[str, Any]) -> None:
    kind: ResourceKind = KIND[body["kind"]]
    resource = RESOURCES[kind.kind].from_body(body)
    assert resource.metadata.name == body["metadata"]["name"]
    defaulted = apply_defaults(root_schema(kind), body)
    assert kind.spec.from_body(defaulted) == resource.spec
    assert (kind.scope == "Cluster") == ("namespace" not in body["metadata"]), path
    checked = 0
    for schema, value in schema_values(root_schema(kind), defaulted):
        for rule in schema.get("x-kubernetes-validations", []):
            if "oldSelf" not in rule["rule"]:
                assert evaluate(rule["rule"], value), (path, rule)
                checked += 1
    assert checked > 0 or kind.kind in ("Flavor", "ServerGroup"), path


def test_the_example_server_uses_the_other_examples() -> None:
    examples = {body["kind"]: body for _, body in load_examples()}
    server = VirtualServer.from_body(examples["VirtualServer"])
    assert server.spec.flavor == examples["Flavor"]["metadata"]["name"]
    assert server.spec.image.name == examples["Image"]["metadata"]["name"]
    assert server.spec.key_pairs == (examples["KeyPair"]["metadata"]["name"],)
    assert server.spec.server_group == examples["ServerGroup"]["metadata"]["name"]
    namespaces = {body["metadata"].get("namespace") for kind, body in examples.items()}
    assert namespaces == {None, "demo"}


def test_a_reference_of_one_group_is_titled_after_it() -> None:
    storage_only = render_reference(STORAGE_KINDS)
    assert storage_only.splitlines()[1] == "# storage.nimbus.dev custom resources"
    assert "The custom resources of the `storage.nimbus.dev` API" in storage_only
    assert "## Flavor" not in storage_only
    both = render_reference(KINDS)
    assert both.splitlines()[1] == "# Nimbus custom resources"
    assert "of the `storage.nimbus.dev` and `compute.nimbus.dev` APIs" in both
    assert "### Resource validation rules" in both
