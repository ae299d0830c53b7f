"""The committed CRD reference (docs/crd-reference.md): rendered from the models, complete."""

from __future__ import annotations

from pathlib import Path

import pytest
from nimbus_operator.models import crddocs, crdgen
from nimbus_operator.models.docfields import type_words
from nimbus_operator.models.kind import ResourceKind
from nimbus_operator.models.schema import Node

from tests.unit.operator.crdtools import KINDS, REPO, schema_nodes

DOCS = REPO / crddocs.DOCS_PATH


def _row(text: str, path: str) -> list[str]:
    """The cells of the table row of a field (or rule) path, first match."""
    for line in text.splitlines():
        if line.startswith(f"| `{path}` |"):
            return [cell.strip() for cell in line.strip("|").split(" | ")]
    raise AssertionError(f"no row for {path}")


def _kind_section(text: str, kind: str) -> str:
    """The part of the reference between ``## <kind>`` and the next kind's heading."""
    start = text.index(f"\n## {kind}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


@pytest.fixture(scope="module")
def reference() -> str:
    return crdgen.render_docs()


def test_committed_reference_is_what_the_models_render(reference: str) -> None:
    difference = crdgen.docs_drift(DOCS)
    assert difference == "", (
        f"{crddocs.DOCS_PATH} differs from the models; run "
        f"`.venv/bin/{crddocs.DOCS_COMMAND}`\n" + difference
    )
    assert DOCS.read_text(encoding="utf-8") == reference


def test_header_says_how_to_regenerate(reference: str) -> None:
    first = reference.splitlines()[0]
    assert "python -m nimbus_operator.models.crdgen --docs docs/crd-reference.md" in first
    assert "Do not edit" in first


def test_rendering_is_deterministic(reference: str) -> None:
    assert crddocs.render_reference(KINDS) == reference


def test_every_kind_has_a_section_with_its_identity(reference: str) -> None:
    for kind in KINDS:
        section = _kind_section(reference, kind.kind)
        assert kind.description.split(":")[0] in section
        assert f"| apiVersion | `{kind.api_version}` |" in section
        assert f"| Scope | {kind.scope} |" in section
        for name in kind.short_names:
            assert f"`{name}`" in section
        for column in kind.printer_columns:
            assert f"| {column.name} | {column.type} | `{column.json_path}` |" in section
        assert "### Spec" in section
        assert "### Status" in section


def test_node_count_row_shows_its_default_and_bounds(reference: str) -> None:
    _, type_, default, required, description = _row(reference, "spec.nodes.count")
    assert "minimum 1" in type_
    assert "maximum 1000" in type_
    assert default == "`3`"
    assert required == "no"
    assert description.startswith("How many storage nodes to run.")


def test_enums_patterns_and_nested_lists_are_documented(reference: str) -> None:
    assert (
        "one of `ClusterIP`, `NodePort`, `LoadBalancer`"
        in _row(reference, "spec.gateway.serviceType")[1]
    )
    assert "(pattern `^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)" in _row(reference, "spec.region")[1]
    _, type_, _, required, _ = _row(reference, "spec.lifecycle.rules[].id")
    assert (type_, required) == ("string, 1 to 255 characters", "yes")
    assert "unique by `id`" in _row(reference, "spec.lifecycle.rules")[1]
    assert _row(reference, "spec.rotation")[2] == "`{}`"


def test_storage_policy_rules_and_immutability(reference: str) -> None:
    section = _kind_section(reference, "StoragePolicy")
    assert (
        "| `spec` | on create and update | set exactly one of replicas and erasureCoding |"
        in section
    )
    assert (
        "| `spec` | on update only: immutability of `spec.replicas` | "
        "replicas cannot be added, changed or removed after creation |" in section
    )
    assert "`spec` is required." in section


def test_update_only_rule_that_is_not_immutability(reference: str) -> None:
    section = _kind_section(reference, "Bucket")
    assert (
        "| `spec.versioning` | on update only | "
        "versioning cannot be disabled once enabled; use Suspended |" in section
    )


def _documented_paths(schema: dict[str, object], root: str) -> set[str]:
    return {
        f"{root}.{path}"
        for path, _ in schema_nodes(schema)
        if path and path != "kopf" and not path.endswith(("[]", "{}")) and "{}" not in path
    }


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_every_field_and_rule_message_of_the_crd_is_in_the_reference(
    kind: ResourceKind, reference: str
) -> None:
    section = _kind_section(reference, kind.kind)
    schema = crdgen.root_schema(kind)
    for root in ("spec", "status"):
        for path in _documented_paths(schema["properties"][root], root):
            assert f"| `{path}` |" in section, f"{kind.kind} {path} is not documented"
        for _, node in schema_nodes(schema["properties"][root]):
            for rule in node.get("x-kubernetes-validations", []):
                assert f"| {rule['message']} |" in section, rule


def test_cli_writes_then_checks_the_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, docs = tmp_path / "crds", tmp_path / "docs" / "reference.md"
    assert crdgen.main(["--out", str(out), "--docs", str(docs)]) == 0
    assert docs.read_text(encoding="utf-8") == crdgen.render_docs()
    assert crdgen.main(["--check", "--out", str(out), "--docs", str(docs)]) == 0
    capsys.readouterr()

    docs.write_text(docs.read_text(encoding="utf-8").replace("`3`", "`4`", 1))
    assert crdgen.main(["--check", "--out", str(out), "--docs", str(docs)]) == 1
    output = capsys.readouterr().out
    assert any(line.startswith("-| `spec.nodes.count`") for line in output.splitlines())
    assert f"{docs}: the reference differs from the models" in output

    docs.unlink()
    assert crdgen.main(["--check", "--out", str(out), "--docs", str(docs)]) == 1


def test_cells_are_escaped_for_markdown_tables() -> None:
    assert crddocs.code("a || b") == "`a \\|\\| b`"
    assert crddocs.text("<bucket>-owner, or *", keep_code=False) == "&lt;bucket>-owner, or \\*"
    assert crddocs.text("one of `A|B`, x|y", keep_code=True) == "one of `A\\|B`, x\\|y"


def test_a_node_without_words_is_refused() -> None:
    class Unknown(Node):
        pass

    with pytest.raises(TypeError, match="no words for a Unknown node"):
        type_words(Unknown())
