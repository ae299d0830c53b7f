"""Fixtures for tests that boot real guests under QEMU (marker ``guest``).

The guest image is built before the first such test when it is not cached (outside the
per-test timeout; cold: about a minute, see e2e/guest/README.md). Missing host tools fail the
tests with the command that installs them (``make host-tools``): they are not skipped.
"""

from __future__ import annotations

import logging
import sys

import pytest

from e2e.guest import host_tools
from e2e.guest.image import GuestImage, ImageError, cached_image, ensure_image


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the guest image before any guest test starts, when it is missing."""
    wants_guest = any(item.get_closest_marker("guest") for item in session.items)
    if not wants_guest or host_tools.missing_packages() or cached_image() is not None:
        return
    capture = session.config.pluginmanager.getplugin("capturemanager")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    build_logger = logging.getLogger("e2e.guest")
    with capture.global_and_fixture_disabled():
        print("\nguest: building the guest image (cold: about a minute)", file=sys.stderr)
        build_logger.addHandler(handler)
        build_logger.setLevel(logging.INFO)
        try:
            ensure_image()
        except (ImageError, host_tools.HostToolsMissing) as error:
            # The fixture reports it again, on every test that needs the image.
            print(f"guest: image build failed: {error}", file=sys.stderr)
        finally:
            build_logger.removeHandler(handler)


@pytest.fixture(scope="session")
def guest_image() -> GuestImage:
    """The cached guest image (built here if the pre-build above did not run)."""
    host_tools.require()
    return ensure_image().image
