"""The operator's own settings, read once from its environment (the Helm chart sets them)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_IMAGE = "ghcr.io/nimbus-cloud/nimbus:0.1.0"


@dataclass(frozen=True)
class OperatorSettings:
    image: str = DEFAULT_IMAGE
    """Image of storage nodes and gateways when an ObjectStore names none (``NIMBUS_IMAGE``):
    the operator's own, so a release upgrades them together."""
    image_pull_policy: str = "IfNotPresent"
    """``NIMBUS_IMAGE_PULL_POLICY``."""
    resync_seconds: float = 10.0
    """How often every object is reconciled even when nothing told the operator of a change
    (``NIMBUS_RESYNC_SECONDS``)."""
    log_format: str = "text"
    """``NIMBUS_LOG_FORMAT``: the operator's, and that of the gateways and nodes it runs."""

    @classmethod
    def from_environment(cls) -> OperatorSettings:
        return cls(
            image=os.environ.get("NIMBUS_IMAGE", DEFAULT_IMAGE),
            image_pull_policy=os.environ.get("NIMBUS_IMAGE_PULL_POLICY", "IfNotPresent"),
            resync_seconds=float(os.environ.get("NIMBUS_RESYNC_SECONDS", "10")),
            log_format=os.environ.get("NIMBUS_LOG_FORMAT") or "text",
        )
