"""Golden files of the chart: what ``helm template`` renders, and the NOTES ``helm install``
prints, with the default values and with tests/unit/helm/values-full.yaml (everything on).

A change to the chart shows up here as a diff to review. After a deliberate change, rewrite the
files with ``NIMBUS_UPDATE_GOLDEN=1 pytest tests/unit/helm/test_golden.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.helm.chart import FULL_VALUES, notes, template

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("NIMBUS_UPDATE_GOLDEN") == "1"

VALUE_SETS: dict[str, tuple[str, ...]] = {
    "default": (),
    "full": ("--values", str(FULL_VALUES)),
}


def check_golden(path: Path, rendered: str) -> None:
    if UPDATE:
        path.write_text(rendered)
    assert path.exists(), f"no golden file {path.name}: run with NIMBUS_UPDATE_GOLDEN=1"
    assert rendered == path.read_text(), f"{path.name} changed: review, then NIMBUS_UPDATE_GOLDEN=1"


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_rendered_manifests_match_their_golden_file(helm: Path, values: str) -> None:
    check_golden(GOLDEN / f"{values}.yaml", template(helm, *VALUE_SETS[values]))


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_install_notes_match_their_golden_file(helm: Path, values: str) -> None:
    check_golden(GOLDEN / f"{values}-notes.txt", notes(helm, *VALUE_SETS[values]))


def test_every_golden_file_has_a_value_set() -> None:
    expected = {f"{name}.yaml" for name in VALUE_SETS} | {
        f"{name}-notes.txt" for name in VALUE_SETS
    }
    assert {path.name for path in GOLDEN.iterdir()} <= expected
