"""The Helm chart installs exactly the CRDs the models generate (crds/ is their source)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_chart_crds_are_the_generated_crds() -> None:
    generated = {path.name: path.read_bytes() for path in (REPO / "crds").glob("*.yaml")}
    charted = {path.name: path.read_bytes() for path in (REPO / "helm/nimbus/crds").glob("*.yaml")}

    assert generated, "crds/ holds the generated CRDs"
    assert charted.keys() == generated.keys(), "copy crds/*.yaml into helm/nimbus/crds/"
    for name, content in generated.items():
        assert charted[name] == content, f"helm/nimbus/crds/{name} differs from crds/{name}"
