"""The admin API's buckets: their views, create-or-update, delete (with purge). docs/admin-api.md
is the reference."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from nimbus_storage.bucket_config.acl import parse_canned_acl
from nimbus_storage.bucket_config.bucket_policy import parse_policy
from nimbus_storage.gateway import objects, uploads
from nimbus_storage.gateway.admin_answers import AdminError, bad_request, json_answer
from nimbus_storage.gateway.context import Services
from nimbus_storage.gateway.naming import bucket_name_problem
from nimbus_storage.gateway.object_lock import bucket_lock, keep_locked
from nimbus_storage.gateway.storage_errors import to_s3
from nimbus_storage.meta.api import Bucket
from nimbus_storage.s3errors import AccessDenied, S3Error
from nimbus_storage.storage_errors import StorageError


async def bucket_view(services: Services, bucket: Bucket) -> dict[str, Any]:
    used_bytes, used_objects = await services.catalog.index(bucket.name).usage()
    policy = await services.catalog.get_config(bucket.name, "policy")
    return {
        "name": bucket.name,
        "owner": bucket.owner,
        "created": bucket.created,
        "versioning": bucket.versioning or "Disabled",
        "acl": bucket.acl,
        "quota": {"maxBytes": bucket.quota_bytes, "maxObjects": bucket.quota_objects},
        "usage": {"bytes": used_bytes, "objects": used_objects},
        "policy": json.loads(policy) if policy else None,
        "storagePolicy": bucket.storage_policy or services.policies.default,
        "objectLock": await bucket_lock(services, bucket) is not None,
    }


def optional_int(document: Mapping[str, Any], field: str) -> int | None:
    value = document.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise bad_request(f"quota.{field} must be a non-negative integer or null")
    return value


def storage_policy_of(services: Services, document: Mapping[str, Any]) -> str:
    """The policy ``storagePolicy`` names (absent or null: the default), checked."""
    name = document.get("storagePolicy") or ""
    if not isinstance(name, str):
        raise bad_request("storagePolicy must be the name of a storage policy")
    try:
        return services.policies.resolve(name)
    except S3Error as error:
        raise AdminError(400, error.code, error.message) from None


async def put_bucket(services: Services, name: str, document: dict[str, Any]) -> web.Response:
    problem = bucket_name_problem(name)
    if problem is not None:
        raise AdminError(400, "InvalidBucketName", problem)
    catalog = services.catalog
    owner = document.get("owner")
    if not isinstance(owner, str) or not owner:
        raise bad_request("owner (an access key id) is required")
    existing = await catalog.get_bucket(name)
    storage_policy = storage_policy_of(services, document)
    if existing is None:
        await catalog.create_bucket(name, owner, storage_policy=storage_policy)
    elif existing.owner != owner:
        raise AdminError(409, "BucketAlreadyExists", f"bucket {name} is owned by {existing.owner}")
    elif document.get("storagePolicy") and storage_policy != (
        # Absent or null: no opinion on an existing bucket's policy.
        existing.storage_policy or services.policies.default
    ):
        raise AdminError(
            409,
            "InvalidBucketState",
            f"bucket {name} stores its data in policy"
            f" {existing.storage_policy or services.policies.default!r}; a bucket's storage"
            " policy is fixed at creation",
        )
    versioning = document.get("versioning")
    if versioning is not None:
        if versioning not in ("Enabled", "Suspended"):
            raise bad_request("versioning must be Enabled or Suspended")
        current = await catalog.get_bucket(name)
        locked = current is not None and await bucket_lock(services, current) is not None
        if locked and versioning != "Enabled":
            raise AdminError(
                409,
                "InvalidBucketState",
                f"bucket {name} has Object Lock: its versioning stays Enabled",
            )
        await catalog.set_versioning(name, versioning)
    if "quota" in document:
        quota = document["quota"] or {}
        if not isinstance(quota, dict):
            raise bad_request("quota must be an object with maxBytes and maxObjects")
        await catalog.set_quota(
            name, optional_int(quota, "maxBytes"), optional_int(quota, "maxObjects")
        )
    if "policy" in document:
        policy = document["policy"]
        text = json.dumps(policy) if policy is not None else None
        if text is not None:
            try:
                parse_policy(text, name)
            except S3Error as error:
                raise AdminError(400, error.code, error.message) from None
        await catalog.set_config(name, "policy", text)
    if "acl" in document:
        try:
            await catalog.set_acl(name, parse_canned_acl(str(document["acl"])))
        except S3Error as error:
            raise AdminError(400, error.code, error.message) from None
        except StorageError as failure:
            answer = to_s3(failure)
            raise AdminError(400, answer.code, answer.message) from None
    bucket = await catalog.get_bucket(name)
    assert bucket is not None
    return json_answer(await bucket_view(services, bucket), 201 if existing is None else 200)


async def purge_bucket(services: Services, bucket: Bucket) -> tuple[int, int]:
    """Delete every version and upload of a bucket but the versions Object Lock protects (no
    one may remove those, the admin neither); returns how many versions went and stayed."""
    index = services.catalog.index(bucket.name)
    check = keep_locked(bypass_governance=False)
    removed = kept = 0
    key_marker = version_marker = ""
    while True:
        page = await index.list_versions("", "", key_marker, version_marker, 1000)
        for version in page.entries:
            try:
                gone = await index.delete_version(version.key, version.version_id, check=check)
            except AccessDenied:
                kept += 1
                continue
            if gone is not None:
                await objects.delete_version_data(services, bucket, gone)
                removed += 1
        if not page.is_truncated:
            break
        key_marker, version_marker = page.next_marker or "", page.next_version_marker or ""
    await uploads.abort_every_upload(services, bucket)
    return removed, kept


async def delete_bucket(services: Services, name: str, purge: bool) -> web.Response:
    bucket = await services.catalog.get_bucket(name)
    if bucket is None:
        return json_answer({"deleted": False, "reason": "no such bucket"}, 200)
    removed, kept = await purge_bucket(services, bucket) if purge else (0, 0)
    if kept:
        raise AdminError(
            409,
            "BucketNotEmpty",
            f"{kept} versions of bucket {name} are protected by Object Lock (a legal hold or a"
            f" retention) and stay until released; {removed} other versions were purged",
        )
    try:
        await services.catalog.delete_bucket(name)
    except StorageError as failure:
        answer = to_s3(failure)
        raise AdminError(answer.status, answer.code, answer.message) from None
    return json_answer({"deleted": True, "purgedVersions": removed})
