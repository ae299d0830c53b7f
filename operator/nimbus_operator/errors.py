"""The operator's error hierarchy: every failure a reconciler can meet is one of these.

Handlers map them onto kopf: ``RetryLater`` becomes ``kopf.TemporaryError`` (retried after its
delay), ``InvalidSpec`` a ``Ready=False`` condition with the message (the user must act; no
retry until the object changes). Nothing else escapes a reconciler.
"""

from __future__ import annotations


class NimbusError(Exception):
    """Base of every error the operator raises on purpose."""

    reason = "Error"


class RetryLater(NimbusError):
    """Transient: the API server, a gateway or a dependency is not ready; try again later."""

    reason = "Waiting"

    def __init__(self, message: str, *, delay: float = 10.0, reason: str | None = None) -> None:
        super().__init__(message)
        self.delay = delay
        if reason:
            self.reason = reason


class InvalidSpec(NimbusError):
    """The object asks for something that cannot be done as written; the message says why."""

    reason = "InvalidSpec"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason:
            self.reason = reason


class ApiFailure(RetryLater):
    """The Kubernetes API answered with an error that may pass (5xx, 429, conflicts)."""

    reason = "KubernetesApiError"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, delay=5.0)
        self.status = status


class NotFound(NimbusError):
    """An object the reconciler needs does not exist (callers decide whether that is fatal)."""

    reason = "NotFound"
