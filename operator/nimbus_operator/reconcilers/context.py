"""What every reconcile shares: the operator's Kubernetes client and settings (made once)."""

from __future__ import annotations

import functools

from nimbus_operator.clients.kube import Kube
from nimbus_operator.settings import OperatorSettings


@functools.cache
def kube() -> Kube:
    """The operator's client, made on first use (after kopf has started)."""
    return Kube()


@functools.cache
def settings() -> OperatorSettings:
    return OperatorSettings.from_environment()
