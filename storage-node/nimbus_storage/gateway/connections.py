"""The gateway's HTTP connections: what aiohttp answers itself, and how long it waits.

aiohttp answers a request it cannot parse (a malformed request line, a bad Content-Length, no or
two Host headers, headers over its limits) before any handler runs, with a text/plain 400 it
logs as an ERROR with a traceback. Here that answer is the S3 error document S3 sends:
``400 RequestHeaderSectionTooLarge`` for oversized headers, else ``400 BadRequest`` ("An error
occurred when parsing the HTTP request."). Such a request, or a client closing its connection
mid-request, is the client's doing: one INFO line, no traceback.

A connection that has not sent a complete request head ``client_header_timeout`` seconds after
it opened (or after the previous answer, when kept alive) is closed; that is aiohttp's keep-alive
timer, which only closes a connection while it waits for a request head. A body that stalls is
body.py's (``client_body_timeout``).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from nimbus_storage.gateway.responses import error_response, new_request_id
from nimbus_storage.s3errors import (
    BadRequest,
    InternalError,
    RequestHeaderSectionTooLarge,
    S3Error,
)

log = logging.getLogger("nimbus.gateway")
# aiohttp's limits for a request line or header line, and for the number of headers.
MAX_LINE_SIZE = 8190
MAX_HEADERS = 128


def parse_error(exc: BaseException | None) -> S3Error:
    """The S3 error for a request aiohttp could not parse."""
    if isinstance(exc, LineTooLong):
        return RequestHeaderSectionTooLarge(MaxSizeAllowed=str(MAX_LINE_SIZE))
    if isinstance(exc, BadHttpMessage) and exc.message.startswith("Too many headers"):
        return RequestHeaderSectionTooLarge()
    return BadRequest()


def _log(remote: str | None, status: int, exc: BaseException | None, message: str | None) -> None:
    if isinstance(exc, ConnectionError):
        log.info("client %s closed its connection mid-request (%s)", remote, exc)
    elif status == 400:
        log.info("refused a request it could not parse from %s: %s", remote, _reason(exc, message))
    elif isinstance(exc, S3Error) and exc.status < 500:
        log.info("answer to %s cut short: %s", remote, exc)
    else:
        log.error("error handling a request from %s", remote, exc_info=exc)


def _reason(exc: BaseException | None, message: str | None) -> str:
    """aiohttp's reason on one line (its messages quote the offending bytes on more)."""
    text = str(getattr(exc, "message", None) or message or exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


class S3RequestHandler(web.RequestHandler):
    """One client connection: aiohttp's, with its own errors answered the S3 way, and uploads
    in flight at shutdown read to their end."""

    _draining = False

    def close(self) -> None:
        self._draining = True  # graceful shutdown begins with close(), then shutdown()
        super().close()

    def data_received(self, data: bytes) -> None:
        # From the start of a graceful shutdown aiohttp (3.14) drops every byte that arrives
        # (close() and shutdown() set the flags data_received checks), so an upload whose body
        # was still coming could only time out: keep feeding the request in progress. The
        # connection still closes once it is answered.
        if self._draining and self._request_in_progress:
            flags = self._close, self._force_close
            self._close = self._force_close = False
            try:
                super().data_received(data)
            finally:
                self._close, self._force_close = flags
            return
        super().data_received(data)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        _log(request.remote, status, exc, message)
        if request.writer.output_size > 0:
            # aiohttp's contract: no error document can follow bytes of an answer.
            raise ConnectionError("an answer was already started: the connection is dropped")
        error = parse_error(exc) if status == 400 else InternalError()
        response = error_response(error, None, new_request_id(), head=False)
        response.headers["Server"] = "Nimbus"
        response.force_close()
        return response


class S3Server(web.Server):
    """aiohttp's low-level server, making S3RequestHandler connections."""

    def __call__(self) -> web.RequestHandler:
        return S3RequestHandler(self, loop=self._loop, **self._kwargs)


class S3AppRunner(web.AppRunner):
    """An AppRunner whose server is an S3Server."""

    async def _make_server(self) -> web.Server:
        # aiohttp (3.14) offers no public way to choose the connection class: take the server
        # it builds for the application and make the same one as an S3Server.
        built = await super()._make_server()
        return S3Server(
            built.request_handler,
            request_factory=built.request_factory,
            handler_cancellation=built.handler_cancellation,
            loop=built._loop,
            **built._kwargs,
        )
