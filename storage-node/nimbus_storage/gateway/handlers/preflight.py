"""CORS preflight: OPTIONS on a bucket or object, answered from the bucket's CORS rules."""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.bucket_config import cors
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.responses import empty_response
from nimbus_storage.s3errors import CORSForbidden, InvalidRequest, S3Error


class PreflightBadRequest(S3Error):
    """AWS answers a preflight without an Origin with the generic 400 BadRequest code."""

    code = "BadRequest"
    status = 400
    default_message = "Insufficient information. Origin request header needed."


async def preflight(request: S3Request) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    method = request.headers.get("Access-Control-Request-Method")
    if not origin:
        raise PreflightBadRequest()
    if not method:
        raise InvalidRequest(
            "Insufficient information. Access-Control-Request-Method header needed."
        )
    catalog = request.services.catalog
    bucket = await catalog.get_bucket(request.bucket_name)
    stored = await catalog.get_config(bucket.name, "cors") if bucket is not None else None
    if stored is None:
        raise CORSForbidden("CORSResponse: CORS is not enabled for this bucket.")
    asked_headers = [
        name.strip()
        for name in request.headers.get("Access-Control-Request-Headers", "").split(",")
        if name.strip()
    ]
    rule = cors.match(cors.from_json(stored), origin, method, asked_headers)
    if rule is None:
        raise CORSForbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the"
            " evaluation of Origin, request method / Access-Control-Request-Method or"
            " Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
        )
    headers = cors.response_headers(rule, origin, method, asked_headers, preflight=True)
    return empty_response(headers=headers)
