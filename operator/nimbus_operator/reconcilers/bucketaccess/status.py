"""COSI's status fields of a BucketAccess, kept in step with its Ready condition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def readiness(status: Mapping[str, Any]) -> dict[str, Any]:
    """``readyToUse`` and ``error`` as the Ready condition in ``status`` says (empty when the
    status has no Ready condition)."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            ready = condition.get("status") == "True"
            return {"readyToUse": ready, "error": None if ready else condition.get("message")}
    return {}
