"""Checking a request's signature against a credential the catalog holds.

The signature check (``auth.sigv4.authenticate``) is synchronous and asks for the secret of the
access key the request claims part-way through, while the catalog is awaited. So the credential
is fetched first, for the key a SigV4 ``Authorization`` header names (read cheaply: only a
guess), and the check runs once with it. When there is no guess, or the check asks for another
key, that run stops at the lookup (everything it rejects before, it has rejected), the key it
asked for is fetched, and the check runs again. Every run sees the same ``now``.

Only a catalog that answers for sure that a key does not exist makes it InvalidAccessKeyId. One
that cannot tell (too few replicas reachable, as right after a cluster starts) raises
``StorageUnavailable``: the client gets a 503 and retries, and a valid key is never refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from nimbus_storage.auth.sigv4 import AuthContext, authenticate
from nimbus_storage.meta.api import Credential
from nimbus_storage.meta.services import CatalogService


class _OtherKey(Exception):
    """The check asked for the secret of a key not fetched beforehand."""

    def __init__(self, access_key: str) -> None:
        super().__init__(access_key)
        self.access_key = access_key


def _key_in_header(headers: Mapping[str, str]) -> str | None:
    """The access key in ``Authorization: AWS4-HMAC-SHA256 Credential=<key>/...``, if any."""
    _, found, rest = headers.get("Authorization", "").partition("Credential=")
    if not found:
        return None
    return rest.partition("/")[0].strip() or None


async def authenticate_request(
    catalog: CatalogService,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    *,
    virtual_host_bucket: str | None = None,
) -> tuple[AuthContext | None, Credential | None]:
    """``authenticate`` with the secret looked up in ``catalog``: the verified context and the
    credential that signed (both None for an unsigned request); S3Error when it fails, and
    StorageUnavailable when the catalog cannot tell whether the key exists."""
    now = datetime.now(UTC)

    def check(
        access_key: str | None, credential: Credential | None
    ) -> tuple[AuthContext | None, Credential | None]:
        def lookup_secret(key: str) -> str | None:
            if key != access_key:
                raise _OtherKey(key)
            return credential.secret_key if credential is not None else None

        context = authenticate(
            method,
            raw_path,
            raw_query,
            headers,
            lookup_secret,
            now,
            virtual_host_bucket=virtual_host_bucket,
        )
        return context, (credential if context is not None else None)

    access_key = _key_in_header(headers)
    credential = await catalog.get_credential(access_key) if access_key else None
    try:
        return check(access_key, credential)
    except _OtherKey as other:
        access_key = other.access_key
    return check(access_key, await catalog.get_credential(access_key))
