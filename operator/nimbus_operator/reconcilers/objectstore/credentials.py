"""The store's admin Secret: made once with random keys, then only ever read.

Regenerating it would lock the operator out of its own store (gateways take the root key at
start), so an existing Secret is kept as it is; a Secret missing a key is repaired with a new
value for that key only.
"""

from __future__ import annotations

import base64
import secrets
import string
from dataclasses import dataclass

from nimbus_operator.clients.kube import Kube
from nimbus_operator.render.store_design import StoreDesign
from nimbus_operator.render.store_secrets import (
    ACCESS_KEY,
    CLUSTER_TOKEN,
    SECRET_KEY,
    build_admin_secret,
)

ACCESS_KEY_LENGTH = 20
SECRET_KEY_LENGTH = 40


@dataclass(frozen=True)
class AdminCredentials:
    access_key: str
    secret_key: str
    cluster_token: str


def _random(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def ensure_admin_secret(kube: Kube, design: StoreDesign) -> AdminCredentials:
    found = kube.get("v1", "Secret", design.admin_secret, design.namespace)
    data = {
        key: base64.b64decode(value).decode()
        for key, value in ((found or {}).get("data") or {}).items()
    }
    wanted = AdminCredentials(
        access_key=data.get(ACCESS_KEY)
        or "NIMBUS" + _random(ACCESS_KEY_LENGTH - 6, string.ascii_uppercase + string.digits),
        secret_key=data.get(SECRET_KEY)
        or _random(SECRET_KEY_LENGTH, string.ascii_letters + string.digits),
        cluster_token=data.get(CLUSTER_TOKEN) or secrets.token_urlsafe(32),
    )
    if found is None or any(key not in data for key in (ACCESS_KEY, SECRET_KEY, CLUSTER_TOKEN)):
        kube.apply(
            build_admin_secret(design, wanted.access_key, wanted.secret_key, wanted.cluster_token)
        )
    return wanted
