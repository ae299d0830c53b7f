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
from typing import Any

from aiohttp import web

from nimbus_storage.gateway.addressing import split_raw_path
from nimbus_storage.gateway.admin_answers import AdminError, bad_request, json_answer
from nimbus_storage.gateway.admin_buckets import bucket_view, delete_bucket, put_bucket
from nimbus_storage.gateway.authentication import authenticate_request
from nimbus_storage.gateway.context import Services
from nimbus_storage.gateway.storage_errors import to_s3
from nimbus_storage.s3errors import AccessDenied, S3Error
from nimbus_storage.storage_errors import StorageError

PREFIX = "/_nimbus/admin/v1/"
GRANT_PERMISSIONS = ("RO", "RW", "WO")
MAX_ADMIN_BODY = 1024 * 1024


async def _body(http: web.Request) -> dict[str, Any]:
    if (http.content_length or 0) > MAX_ADMIN_BODY:
        raise bad_request("request body too large")
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
        raise bad_request(f"body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise bad_request("body must be a JSON object")
    return document


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
        raise bad_request("access keys are 3-128 ASCII characters without '/'")
    grants = document.get("grants") or {}
    if not isinstance(grants, dict) or any(p not in GRANT_PERMISSIONS for p in grants.values()):
        raise bad_request("grants maps bucket names to one of RO, RW, WO")
    secret = document.get("secretKey") or secrets.token_urlsafe(30)
    if not isinstance(secret, str) or len(secret) < 8:
        raise bad_request("secretKey must be a string of at least 8 characters")
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
    return json_answer(view, 200 if existed else 201)


async def route(http: web.Request, services: Services, path: str) -> web.Response:
    parts = [part for part in path.split("/") if part]
    method = http.method
    catalog = services.catalog
    if parts == ["buckets"] and method == "GET":
        return json_answer(
            [await bucket_view(services, b) for b in await catalog.list_buckets(None)]
        )
    if len(parts) == 2 and parts[0] == "buckets":
        name = parts[1]
        if method == "PUT":
            return await put_bucket(services, name, await _body(http))
        if method == "GET":
            bucket = await catalog.get_bucket(name)
            if bucket is None:
                raise AdminError(404, "NoSuchBucket", f"bucket {name} does not exist")
            return json_answer(await bucket_view(services, bucket))
        if method == "DELETE":
            return await delete_bucket(services, name, http.query.get("purge") == "true")
    if parts == ["credentials"] and method == "GET":
        return json_answer([_credential_view(c) for c in await catalog.list_credentials()])
    if len(parts) == 2 and parts[0] == "credentials":
        if method == "PUT":
            return await put_credential(services, parts[1], await _body(http))
        if method == "DELETE":
            await catalog.delete_credential(parts[1])
            return json_answer({"deleted": True})
    if parts == ["usage"] and method == "GET":
        return json_answer(
            {
                b.name: (await bucket_view(services, b))["usage"]
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
        return json_answer({"error": "NotFound", "message": f"no endpoint {path}"}, 404)
    try:
        await _require_admin(http, services)
        return await route(http, services, path[len(PREFIX) :])
    except S3Error as error:
        return json_answer({"error": error.code, "message": error.message}, error.status)
    except StorageError as failure:
        answer = to_s3(failure)
        return json_answer({"error": answer.code, "message": answer.message}, answer.status)
    except AdminError as error:
        return json_answer({"error": error.code, "message": error.message}, error.status)
