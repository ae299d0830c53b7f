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

from nimbus_operator.clients.kube import Kube
from nimbus_operator.reconcilers.objectstore.secrets import SecretProblem, WatchedSecret
from nimbus_operator.render.store_design import StoreDesign

KEY_SECRET_MISSING = "KeySecretMissing"
KEY_SECRET_EMPTY = "KeySecretEmpty"
KEY_SECRET_FOUND = "KeySecretFound"
REASONS = (KEY_SECRET_MISSING, KEY_SECRET_EMPTY)


def _how_to_create(name: str, namespace: str) -> str:
    return (
        "python -m nimbus_storage.sse.keystore generate keys/ --dir && "
        f"kubectl create secret generic {name} -n {namespace} --from-file=keys/"
    )


def key_secret_problem(kube: Kube, design: StoreDesign) -> SecretProblem | None:
    """None when the store asks for no key store, or its Secret exists and holds keys."""
    name, namespace = design.sse_key_secret, design.namespace
    if name is None:
        return None
    found = kube.get("v1", "Secret", name, namespace)
    if found is None:
        return SecretProblem(
            name,
            KEY_SECRET_MISSING,
            f'Secret "{name}" not found in namespace "{namespace}": create it with '
            f"{_how_to_create(name, namespace)} (or point spec.encryption.keySecretName at "
            "an existing one); the gateways are rolled out once it exists.",
        )
    if not (found.get("data") or {}):
        return SecretProblem(
            name,
            KEY_SECRET_EMPTY,
            f'Secret "{name}" in namespace "{namespace}" holds no keys: fill it with '
            f"{_how_to_create(name, namespace)} --dry-run=client -o yaml | kubectl apply -f -; "
            "the gateways are rolled out once it holds keys.",
        )
    return None


def watched_key_secret(design: StoreDesign) -> WatchedSecret:
    """The key Secret as `secret_events` follows it."""
    name = design.sse_key_secret
    return WatchedSecret(
        name,
        REASONS,
        KEY_SECRET_FOUND,
        f'Secret "{name}" holds keys: rolling out the gateways with it.',
    )
