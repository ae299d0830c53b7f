"""What every admin API answer is made of: JSON documents, and errors as ``{"error", "message"}``
with their HTTP status."""

from __future__ import annotations

import json

from aiohttp import web


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def json_answer(payload: object, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(payload, indent=2, sort_keys=True) + "\n",
        status=status,
        content_type="application/json",
    )


def bad_request(message: str) -> AdminError:
    return AdminError(400, "InvalidRequest", message)
