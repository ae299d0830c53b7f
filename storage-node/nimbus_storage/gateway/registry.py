"""One handler per AWS operation, registered under the operation's name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from nimbus_storage.gateway.context import S3Request

Handler = Callable[[S3Request], Awaitable[web.StreamResponse]]
HANDLERS: dict[str, Handler] = {}


def s3_operation(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in HANDLERS:
            raise RuntimeError(f"two handlers for {name}")
        HANDLERS[name] = handler
        return handler

    return register
