"""``helm lint``, strict: the chart, its values and its schema agree."""

from __future__ import annotations

from pathlib import Path

from tests.unit.helm.chart import CHART, FULL_VALUES, run_helm


def test_the_chart_lints_clean_with_default_values(helm: Path) -> None:
    result = run_helm(helm, "lint", "--strict", str(CHART))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_the_chart_lints_clean_with_everything_enabled(helm: Path) -> None:
    result = run_helm(helm, "lint", "--strict", str(CHART), "--values", str(FULL_VALUES))

    assert result.returncode == 0, result.stdout + result.stderr
