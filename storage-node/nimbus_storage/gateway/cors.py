"""CORS on actual requests: add the bucket's Access-Control-* headers when a rule matches."""

from __future__ import annotations

from aiohttp import web

from nimbus_storage.bucket_config import cors
from nimbus_storage.gateway.context import S3Request


async def add_actual_request_headers(request: S3Request, response: web.StreamResponse) -> None:
    # Called from the app's prepare hook: the head is not written yet, though ``prepared``.
    if request.bucket is None:
        return
    stored = await request.services.catalog.get_config(request.bucket.name, "cors")
    if stored is None:
        return
    origin = request.headers["Origin"]
    method = request.http.method
    rule = cors.match(cors.from_json(stored), origin, method, [])
    if rule is None:
        return
    response.headers.update(cors.response_headers(rule, origin, method, [], preflight=False))
