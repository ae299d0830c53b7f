"""Names the operator derives for buckets and credentials: never random, so a retry (or the
operator restarted mid-reconcile) finds what the last try made.

- A Bucket's S3 name: ``spec.bucketName``; else ``<generateBucketName>-<8 characters>`` whose
  suffix comes from the Bucket's uid (unique as a random one, yet the same on every reconcile);
  else ``<namespace>-<name>``, so that two namespaces sharing a store never ask for the same
  name by default (shortened with a digest when too long for S3).
- A bucket's owner: an access key derived from the Bucket's namespace and the S3 name. The
  store refuses (409 BucketAlreadyExists) a bucket that another key owns, so a Bucket of one
  namespace can never take over a bucket of another, while a Bucket re-created in the same
  namespace adopts the bucket its predecessor retained.
- A BucketAccess's key: derived from its uid and its rotation request (spec.rotation.requestedAt
  and the rotate annotation): a new request means a new key, a resync the same one.
"""

from __future__ import annotations

import base64
import hashlib
import re
import string

from nimbus_operator.models.bucket import BUCKET_NAME_RULES, GENERATED_SUFFIX_LENGTH
from nimbus_operator.models.schema import Rule

MAX_BUCKET_NAME = 63
MIN_BUCKET_NAME = 3
ACCESS_KEY_LENGTH = 20
OWNER_KEY_PREFIX = "NBO"
"""Access keys that own buckets (full users the operator hands out only in owner Secrets)."""
ACCESS_KEY_PREFIX = "NBA"
"""Access keys of BucketAccesses (app credentials limited to their grants)."""

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]")
_BASE36 = string.digits + string.ascii_lowercase


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _base36(text: str, length: int) -> str:
    number = int.from_bytes(_digest(text), "big")
    characters = []
    for _ in range(length):
        number, remainder = divmod(number, 36)
        characters.append(_BASE36[remainder])
    return "".join(characters)


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid S3 bucket name, or None when it is."""
    if not MIN_BUCKET_NAME <= len(name) <= MAX_BUCKET_NAME:
        return f"must be {MIN_BUCKET_NAME} to {MAX_BUCKET_NAME} characters long"
    if _BUCKET_NAME.fullmatch(name) is None:
        return (
            "must be lowercase letters, digits, '.' and '-', starting and ending with a "
            "letter or digit"
        )
    for rule in BUCKET_NAME_RULES:
        if isinstance(rule, Rule) and not rule.check(name):
            return rule.message
    return None


def default_bucket_name(namespace: str, name: str) -> str:
    """``<namespace>-<name>``, or when that is no valid S3 name (too long, say) its first
    characters and a digest of the whole: unique per namespace and name, stable."""
    candidate = f"{namespace}-{name}"
    if bucket_name_problem(candidate) is None:
        return candidate
    digest = _base36(f"{namespace}/{name}", 8)
    stem = candidate[: MAX_BUCKET_NAME - len(digest) - 1].rstrip(".-")
    shortened = f"{stem}-{digest}"
    if bucket_name_problem(shortened) is None:
        return shortened
    return f"bucket-{_base36(f'{namespace}/{name}', 16)}"


def generated_bucket_name(prefix: str, uid: str) -> str:
    """``<prefix>-<8 characters>``, the characters derived from the Bucket's uid."""
    return f"{prefix}-{_base36(f'generated:{uid}', GENERATED_SUFFIX_LENGTH)}"


def _access_key(prefix: str, text: str) -> str:
    encoded = base64.b32encode(_digest(text)).decode()
    return prefix + encoded[: ACCESS_KEY_LENGTH - len(prefix)]


def owner_access_key(namespace: str, bucket_name: str) -> str:
    """The access key that owns S3 bucket ``bucket_name`` for the Buckets of ``namespace``."""
    return _access_key(OWNER_KEY_PREFIX, f"owner:{namespace}/{bucket_name}")


def bucket_access_key(uid: str, rotation_request: str) -> str:
    """The access key of a BucketAccess (uid) for one rotation request."""
    return _access_key(ACCESS_KEY_PREFIX, f"access:{uid}:{rotation_request}")
