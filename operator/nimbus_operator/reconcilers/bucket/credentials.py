"""Credentials the operator keeps in a store for apps: owner keys of Buckets, access keys of
BucketAccesses.

The secret key lives only in the Kubernetes Secret handed to apps (and in the store). A key
whose secret is already in its Secret is written to the store only when the store lacks it or
holds other grants, so a resync never replaces a working key; a newly generated secret is
always written (a PUT replaces the credential, which is how keys are (re)issued).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import Any

from nimbus_operator.clients.admin import AdminClient

SECRET_KEY_LENGTH = 40
_SECRET_ALPHABET = string.ascii_letters + string.digits


def new_secret_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_KEY_LENGTH))


def _matches(found: Mapping[str, Any] | None, grants: Mapping[str, str]) -> bool:
    return (
        found is not None
        and not found.get("admin")
        and dict(found.get("grants") or {}) == dict(grants)
    )


def ensure_credential(
    admin: AdminClient,
    access_key: str,
    secret_key: str,
    *,
    grants: Mapping[str, str],
    description: str,
    fresh: bool,
) -> bool:
    """Make ``access_key`` exist with ``secret_key`` and exactly ``grants`` (none: a full
    user); ``fresh`` says the secret was just generated. True when the store was written."""
    if not fresh:
        found = next((c for c in admin.credentials() if c.get("accessKey") == access_key), None)
        if _matches(found, grants):
            return False
    admin.put_credential(
        access_key, secret_key=secret_key, grants=dict(grants), description=description
    )
    return True
