"""The store's SSE key Secret (spec.encryption.keySecretName): the user's, only ever read.

The gateways mount it whole. While it is missing or empty they are not rolled out: pods that
mount a missing Secret stay in ContainerCreating (and a rolling update would stall behind
them), and a gateway whose key store does not load refuses to start. Gateways already running
keep what they mounted. The store says so (Ready=False, reason ``KeySecretMissing`` or
``KeySecretEmpty``) with an Event when that begins and ends; the resync notices the Secret once
it is made.

A key rotation is a change of the Secret's data: the kubelet rewrites the mounted files in place
and each gateway reloads its key store when they change, so nothing here restarts anything (the
pod template does not depend on the Secret's content).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nimbus_operator.clients.kube import Kube
from nimbus_operator.render.store_design import StoreDesign

KEY_SECRET_MISSING = "KeySecretMissing"
KEY_SECRET_EMPTY = "KeySecretEmpty"
KEY_SECRET_FOUND = "KeySecretFound"
REASONS = (KEY_SECRET_MISSING, KEY_SECRET_EMPTY)

Event = tuple[str, str, str]


@dataclass(frozen=True)
class KeySecretProblem:
    """Why the gateways cannot have their key store: a condition's reason and message."""

    secret: str
    reason: str
    message: str


def _how_to_create(name: str, namespace: str) -> str:
    return (
        "python -m nimbus_storage.sse.keystore generate keys/ --dir && "
        f"kubectl create secret generic {name} -n {namespace} --from-file=keys/"
    )


def key_secret_problem(kube: Kube, design: StoreDesign) -> KeySecretProblem | None:
    """None when the store asks for no key store, or its Secret exists and holds keys."""
    name, namespace = design.sse_key_secret, design.namespace
    if name is None:
        return None
    found = kube.get("v1", "Secret", name, namespace)
    if found is None:
        return KeySecretProblem(
            name,
            KEY_SECRET_MISSING,
            f'Secret "{name}" not found in namespace "{namespace}": create it with '
            f"{_how_to_create(name, namespace)} (or point spec.encryption.keySecretName at "
            "an existing one); the gateways are rolled out once it exists.",
        )
    if not (found.get("data") or {}):
        return KeySecretProblem(
            name,
            KEY_SECRET_EMPTY,
            f'Secret "{name}" in namespace "{namespace}" holds no keys: fill it with '
            f"{_how_to_create(name, namespace)} --dry-run=client -o yaml | kubectl apply -f -; "
            "the gateways are rolled out once it holds keys.",
        )
    return None


def key_secret_events(
    problem: KeySecretProblem | None,
    previous_conditions: Iterable[Mapping[str, Any]],
    secret: str | None,
) -> list[Event]:
    """A Warning when a problem begins (or changes), a Normal Event when it ends; nothing when
    the last status already said the same (a resync must not repeat it)."""
    ready = next((c for c in previous_conditions if c.get("type") == "Ready"), {})
    was_problem = ready.get("status") == "False" and ready.get("reason") in REASONS
    if problem is not None:
        if was_problem and ready.get("message") == problem.message:
            return []
        return [("Warning", problem.reason, problem.message)]
    if was_problem and secret is not None:
        return [
            (
                "Normal",
                KEY_SECRET_FOUND,
                f'Secret "{secret}" holds keys: rolling out the gateways with it.',
            )
        ]
    return []
