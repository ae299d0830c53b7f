"""The client side of a request: a body that stops coming is RequestTimeout, whatever reads it;
what aiohttp cannot parse is the S3 error S3 answers it with."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from aiohttp import StreamReader
from aiohttp.http_exceptions import BadHttpMessage, BadStatusLine, LineTooLong
from nimbus_storage.gateway.body import ClientStream
from nimbus_storage.gateway.connections import parse_error
from nimbus_storage.s3errors import RequestTimeout

STALL = 0.05  # seconds: any stall will do, the data never comes


def stream(data: bytes, *, eof: bool) -> StreamReader:
    reader = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def test_reads_of_a_whole_body() -> None:
    body = ClientStream(stream(b"line\r\n0123456789", eof=True), STALL)
    assert await body.readline() == b"line\r\n"
    assert await body.readexactly(4) == b"0123"
    assert await body.read(100) == b"456789"
    assert await body.read(100) == b""


async def test_a_body_ending_early_is_an_incomplete_read() -> None:
    body = ClientStream(stream(b"0123", eof=True), STALL)
    with pytest.raises(asyncio.IncompleteReadError) as caught:
        await body.readexactly(10)
    assert caught.value.partial == b"0123"


async def test_a_stalled_body_is_request_timeout() -> None:
    """Each way of reading, waiting for bytes that never come."""
    nothing = ClientStream(stream(b"", eof=False), STALL)
    with pytest.raises(RequestTimeout):
        await nothing.read(100)
    no_line_end = ClientStream(stream(b"no end of line", eof=False), STALL)
    with pytest.raises(RequestTimeout):
        await no_line_end.readline()
    short = ClientStream(stream(b"ten bytes.", eof=False), STALL)
    with pytest.raises(RequestTimeout):
        await short.readexactly(100)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (LineTooLong("header line", "8190", "9000"), "RequestHeaderSectionTooLarge"),
        (BadHttpMessage("Too many headers received"), "RequestHeaderSectionTooLarge"),
        (BadHttpMessage("Missing 'Host' header in request."), "BadRequest"),
        (BadHttpMessage("Invalid character in Content-Length"), "BadRequest"),
        (BadStatusLine("GET / HTTP/9.9"), "BadRequest"),
        (None, "BadRequest"),
    ],
)
def test_what_aiohttp_cannot_parse_is_an_s3_error(error: Exception | None, code: str) -> None:
    assert (parse_error(error).status, parse_error(error).code) == (400, code)
