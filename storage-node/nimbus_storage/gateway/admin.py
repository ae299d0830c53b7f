"""The admin API the operator drives: buckets, quotas, policies, credentials, usage.

JSON over HTTP under ``/_nimbus/admin/v1/`` on the S3 port. Requests are signed with SigV4
(service ``s3``) by an admin credential, the way MinIO's admin API works, so any AWS signer
(botocore's ``SigV4Auth``) can call it. Every call is idempotent: PUT creates or updates.
The full reference is docs/admin-api.md.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from nimbus_storage.bucket_config.acl import parse_canned_acl
from nimbus_storage.bucket_config.bucket_policy import parse_policy
from nimbus_storage.gateway import objects, uploads
from nimbus_storage.gateway.addressing import split_raw_path
from nimbus_storage.gateway.authentication import authenticate_request
from nimbus_storage.gateway.context import Services
from nimbus_storage.gateway.naming import bucket_name_problem
from nimbus_storage.gateway.storage_errors import to_s3
from nimbus_storage.meta.api import Bucket, ObjectVersion
from nimbus_storage.s3errors import AccessDenied, S3Error
from nimbus_storage.storage_errors import StorageError

PREFIX = "/_nimbus/admin/v1/"
GRANT_PERMISSIONS = ("RO", "RW", "WO")
MAX_ADMIN_BODY = 1024 * 1024


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(payload, indent=2, sort_keys=True) + "\n",
        status=status,
        content_type="application/json",
    )


def _bad_request(message: str) -> AdminError:
    return AdminError(400, "InvalidRequest", message)


async def _bucket_view(services: Services, bucket: Bucket) -> dict[str, Any]:
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
    }


async def _body(http: web.Request) -> dict[str, Any]:
    if (http.content_length or 0) > MAX_ADMIN_BODY:
        raise _bad_request("request body too large")
    raw = await http.read()
    signed_hash = http.headers.get("x-amz-content-sha256", "")
    if len(signed_hash) == 64 and hashlib.sha256(raw).hexdigest() != signed_hash.lower():
        raise AdminError(
            400, "XAmzContentSHA256Mismatch", "the body does not match its signed hash"
        )
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise _bad_request(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise _bad_request("body must be a JSON object")
    return document


def _optional_int(document: Mapping[str, Any], field: str) -> int | None:
    value = document.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _bad_request(f"quota.{field} must be a non-negative integer or null")
    return value


def _storage_policy(services: Services, document: Mapping[str, Any]) -> str:
    """The policy ``storagePolicy`` names (absent or null: the default), checked."""
    name = document.get("storagePolicy") or ""
    if not isinstance(name, str):
        raise _bad_request("storagePolicy must be the name of a storage policy")
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
        raise _bad_request("owner (an access key id) is required")
    existing = await catalog.get_bucket(name)
    storage_policy = _storage_policy(services, document)
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
            raise _bad_request("versioning must be Enabled or Suspended")
        await catalog.set_versioning(name, versioning)
    if "quota" in document:
        quota = document["quota"] or {}
        if not isinstance(quota, dict):
            raise _bad_request("quota must be an object with maxBytes and maxObjects")
        await catalog.set_quota(
            name, _optional_int(quota, "maxBytes"), _optional_int(quota, "maxObjects")
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
    return _json(await _bucket_view(services, bucket), 201 if existing is None else 200)


async def purge_bucket(services: Services, bucket: Bucket) -> int:
    """Delete every version and upload of a bucket; returns how many versions went."""
    index = services.catalog.index(bucket.name)
    removed = 0
    while True:
        page = await index.list_versions("", "", "", "", 1000)
        if not page.entries:
            break
        for version in page.entries:
            gone: ObjectVersion | None = await index.delete_version(version.key, version.version_id)
            if gone is not None:
                await objects.delete_version_data(services, bucket, gone)
                removed += 1
    await uploads.abort_every_upload(services, bucket)
    return removed


async def delete_bucket(services: Services, name: str, purge: bool) -> web.Response:
    bucket = await services.catalog.get_bucket(name)
    if bucket is None:
        return _json({"deleted": False, "reason": "no such bucket"}, 200)
    removed = await purge_bucket(services, bucket) if purge else 0
    try:
        await services.catalog.delete_bucket(name)
    except StorageError as failure:
        answer = to_s3(failure)
        raise AdminError(answer.status, answer.code, answer.message) from None
    return _json({"deleted": True, "purgedVersions": removed})


def _credential_view(credential: Any) -> dict[str, Any]:
    return {
        "accessKey": credential.access_key,
        "admin": credential.is_admin,
        "grants": dict(credential.grants or {}),
        "description": credential.description,
    }


async def put_credential(
    services: Services, access_key: str, document: dict[str, Any]
) -> web.Response:
    if not 3 <= len(access_key) <= 128 or not access_key.isascii() or "/" in access_key:
        raise _bad_request("access keys are 3-128 ASCII characters without '/'")
    grants = document.get("grants") or {}
    if not isinstance(grants, dict) or any(p not in GRANT_PERMISSIONS for p in grants.values()):
        raise _bad_request("grants maps bucket names to one of RO, RW, WO")
    secret = document.get("secretKey") or secrets.token_urlsafe(30)
    if not isinstance(secret, str) or len(secret) < 8:
        raise _bad_request("secretKey must be a string of at least 8 characters")
    catalog = services.catalog
    existed = await catalog.get_credential(access_key) is not None
    if existed:
        await catalog.delete_credential(access_key)
    await catalog.create_credential(
        access_key,
        secret,
        is_admin=bool(document.get("admin", False)),
        description=str(document.get("description", "")),
        grants={str(bucket): str(permission) for bucket, permission in grants.items()},
    )
    credential = await catalog.get_credential(access_key)
    view = _credential_view(credential)
    view["secretKey"] = secret
    return _json(view, 200 if existed else 201)


async def route(http: web.Request, services: Services, path: str) -> web.Response:
    parts = [part for part in path.split("/") if part]
    method = http.method
    catalog = services.catalog
    if parts == ["buckets"] and method == "GET":
        return _json([await _bucket_view(services, b) for b in await catalog.list_buckets(None)])
    if len(parts) == 2 and parts[0] == "buckets":
        name = parts[1]
        if method == "PUT":
            return await put_bucket(services, name, await _body(http))
        if method == "GET":
            bucket = await catalog.get_bucket(name)
            if bucket is None:
                raise AdminError(404, "NoSuchBucket", f"bucket {name} does not exist")
            return _json(await _bucket_view(services, bucket))
        if method == "DELETE":
            return await delete_bucket(services, name, http.query.get("purge") == "true")
    if parts == ["credentials"] and method == "GET":
        return _json([_credential_view(c) for c in await catalog.list_credentials()])
    if len(parts) == 2 and parts[0] == "credentials":
        if method == "PUT":
            return await put_credential(services, parts[1], await _body(http))
        if method == "DELETE":
            await catalog.delete_credential(parts[1])
            return _json({"deleted": True})
    if parts == ["usage"] and method == "GET":
        return _json(
            {
                b.name: (await _bucket_view(services, b))["usage"]
                for b in await catalog.list_buckets(None)
            }
        )
    raise AdminError(404, "NotFound", f"no admin endpoint {method} {PREFIX}{path}")


async def _require_admin(http: web.Request, services: Services) -> None:
    raw_path, raw_query = split_raw_path(http.raw_path)
    # The signing credential is fetched before the (synchronous) signature check: see
    # authentication.py. It is the one ``context.access_key`` names.
    context, credential = await authenticate_request(
        services.catalog, http.method, raw_path, raw_query, http.headers
    )
    if context is None:
        raise AccessDenied("The admin API needs a request signed with an admin credential")
    if credential is None or not credential.is_admin:
        raise AccessDenied(f"{context.access_key} is not an admin credential")


async def handle(http: web.Request, services: Services) -> web.StreamResponse:
    path = http.path
    if not path.startswith(PREFIX):
        return _json({"error": "NotFound", "message": f"no endpoint {path}"}, 404)
    try:
        await _require_admin(http, services)
        return await route(http, services, path[len(PREFIX) :])
    except S3Error as error:
        return _json({"error": error.code, "message": error.message}, error.status)
    except StorageError as failure:
        answer = to_s3(failure)
        return _json({"error": answer.code, "message": answer.message}, answer.status)
    except AdminError as error:
        return _json({"error": error.code, "message": error.message}, error.status)
