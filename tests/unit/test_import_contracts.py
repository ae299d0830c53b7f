"""Every import contract in pyproject.toml can fail: each rejects an import that breaks its map.

The packages are copied to a temporary directory, one forbidden import is appended to a module
for each case below, and ``lint-imports`` runs on the copy with the project's own contracts. Each
contract must name the injected import among its violations, so a contract that covers an empty
package, or that a refactoring made vacuous, fails here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


@dataclass(frozen=True)
class Violation:
    contract: str  # the start of the contract's name
    module: str  # the importer, dotted
    imported: str  # what it must not import

    @property
    def path(self) -> str:
        package = self.module.split(".")[0]
        base = "storage-node" if package == "nimbus_storage" else "operator"
        return f"{base}/{self.module.replace('.', '/')}.py"


VIOLATIONS = [
    # reversed: a lower operator layer reaching up
    Violation(
        "operator layers", "nimbus_operator.models.common", "nimbus_operator.reconcilers.status"
    ),
    Violation("render is pure", "nimbus_operator.render.rings", "kubernetes"),
    Violation(
        "handlers reach Kubernetes",
        "nimbus_operator.handlers.bucket",
        "nimbus_operator.clients.kube",
    ),
    Violation("reconcilers know nothing of kopf", "nimbus_operator.reconcilers.status", "kopf"),
    # reversed, and siblings that must stay apart
    Violation("storage layers", "nimbus_storage.ring.hashing", "nimbus_storage.blobs.layout"),
    Violation("storage layers", "nimbus_storage.protocol.footer", "nimbus_storage.cluster.quorum"),
    Violation("storage layers", "nimbus_storage.gateway.naming", "nimbus_storage.node.pacing"),
    Violation("storage layers", "nimbus_storage.blobs.reader", "nimbus_storage.meta.rows"),
    Violation("the S3 language", "nimbus_storage.s3errors", "nimbus_storage.auth.sigv4"),
    Violation(
        "the S3 language", "nimbus_storage.bucket_config.acl", "nimbus_storage.gateway.naming"
    ),
    Violation(
        "storage below the gateway", "nimbus_storage.meta.listing", "nimbus_storage.s3errors"
    ),
    Violation("storage below the gateway", "nimbus_storage.node.pacing", "nimbus_storage.s3xml"),
    # skipped: a handler opening the disk store or a node connection itself
    Violation(
        "the gateway reaches storage",
        "nimbus_storage.gateway.objects",
        "nimbus_storage.blobs.diskfile",
    ),
    Violation(
        "the gateway reaches storage",
        "nimbus_storage.gateway.handlers.listing",
        "nimbus_storage.protocol.client",
    ),
    Violation("the ring is pure", "nimbus_storage.ring.ring", "aiohttp"),
    Violation("the data on disk", "nimbus_storage.blobs.reader", "aiohttp"),
    Violation("the data on disk", "nimbus_storage.sse.segments", "aiohttp"),
    Violation("the S3 language", "nimbus_storage.sse.keys", "nimbus_storage.auth.sigv4"),
    Violation(
        "storage below the gateway", "nimbus_storage.blobs.reader", "nimbus_storage.sse.segments"
    ),
]


def contract_names() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [c["name"] for c in config["tool"]["importlinter"]["contracts"]]


def broken_sections(output: str) -> dict[str, str]:
    """The text under each broken contract's heading in lint-imports' report."""
    _, _, report = output.partition("Broken contracts")
    starts = sorted((report.index(name), name) for name in contract_names() if name in report)
    ends = [start for start, _ in starts[1:]] + [len(report)]
    return {name: report[start:end] for (start, name), end in zip(starts, ends, strict=True)}


@pytest.fixture(scope="module")
def lint_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    copy = tmp_path_factory.mktemp("contracts")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "storage-node", copy / "storage-node", ignore=ignore)
    shutil.copytree(ROOT / "operator", copy / "operator", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    for violation in VIOLATIONS:
        with (copy / violation.path).open("a") as module:
            module.write(f"\nimport {violation.imported}  # injected by test_import_contracts\n")
    env = {
        **os.environ,
        "PYTHONPATH": f"{copy / 'storage-node'}{os.pathsep}{copy / 'operator'}",
        "COLUMNS": "400",
    }
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        check=False,
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0, result.stdout
    return broken_sections(result.stdout)


def test_every_contract_has_a_violation_here() -> None:
    for name in contract_names():
        assert any(name.startswith(v.contract) for v in VIOLATIONS), name


@pytest.mark.parametrize("violation", VIOLATIONS, ids=lambda v: f"{v.module}->{v.imported}")
def test_the_contract_rejects_the_import(lint_report: dict[str, str], violation: Violation) -> None:
    matching = [name for name in lint_report if name.startswith(violation.contract)]
    assert matching, f"no broken contract starts with {violation.contract!r}"
    pattern = rf"{re.escape(violation.module)} -> {re.escape(violation.imported)}\b"
    assert any(re.search(pattern, lint_report[name]) for name in matching), lint_report
