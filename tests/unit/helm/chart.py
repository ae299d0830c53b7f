"""``helm`` run on helm/nimbus without a cluster: lint, template, and the NOTES it would print."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "helm" / "nimbus"
FULL_VALUES = Path(__file__).parent / "values-full.yaml"
RELEASE = "nimbus"
NAMESPACE = "nimbus-system"


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, check=False, timeout=120
    )


def template(helm: Path, *args: str, chart: Path = CHART) -> str:
    """What ``helm template`` renders (tests included), or AssertionError with helm's message."""
    result = run_helm(helm, "template", RELEASE, str(chart), "--namespace", NAMESPACE, *args)
    if result.returncode != 0:
        raise AssertionError(f"helm template {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def manifests(helm: Path, *args: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(template(helm, *args)) if doc]


def find(documents: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        doc for doc in documents if doc["kind"] == kind and name in (None, doc["metadata"]["name"])
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def notes(helm: Path, *args: str) -> str:
    """templates/NOTES.txt as ``helm install`` would print it.

    ``helm template`` never renders NOTES.txt and ``helm install --dry-run`` needs a cluster, so
    a copy of the chart defines the notes as a named template and renders them into a manifest.
    """
    with tempfile.TemporaryDirectory() as scratch:
        chart = Path(scratch) / CHART.name
        shutil.copytree(CHART, chart)
        templates = chart / "templates"
        text = (templates / "NOTES.txt").read_text()
        (templates / "NOTES.txt").unlink()
        (templates / "_notes.tpl").write_text(f'{{{{- define "notes" -}}}}{text}{{{{- end -}}}}')
        (templates / "notes.yaml").write_text('notes: {{ include "notes" . | toJson }}\n')
        shown = template(helm, "--show-only", "templates/notes.yaml", *args, chart=chart)
        return str(yaml.safe_load(shown)["notes"])
