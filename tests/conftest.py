"""Fixtures shared by every tier: the helm binary (chart tests need no cluster, only helm)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from e2e.cluster import BinaryPaths, build_all


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build helm before the first test that needs it, outside the per-test timeout."""
    wants_helm = any("helm" in getattr(item, "fixturenames", ()) for item in session.items)
    if not wants_helm or os.access(BinaryPaths.from_cache().helm, os.X_OK):
        return
    capture = session.config.pluginmanager.getplugin("capturemanager")
    handler = logging.StreamHandler(sys.stderr)
    build_logger = logging.getLogger("e2e.cluster")
    with capture.global_and_fixture_disabled():
        print("\nbuilding helm from the Go module proxy (cold: a few minutes)", file=sys.stderr)
        build_logger.addHandler(handler)
        build_logger.setLevel(logging.INFO)
        try:
            build_all(["helm"])
        finally:
            build_logger.removeHandler(handler)


@pytest.fixture(scope="session")
def helm() -> Path:
    """The pinned helm binary (e2e/cluster/catalog.py), built before the session if missing."""
    return BinaryPaths.from_cache().helm
