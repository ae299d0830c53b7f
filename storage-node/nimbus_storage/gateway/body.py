"""The request body as a verified byte stream.

aws-chunked bodies are decoded (chunk signatures and trailing checksums checked on the way);
Content-MD5, a hex ``x-amz-content-sha256`` and ``x-amz-checksum-*`` are verified when the
stream ends, before the last chunk reaches the store, so a bad body is never committed. A
body whose client stops sending for ``client_body_timeout`` seconds ends in RequestTimeout, just
as unstored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from typing import TypeVar

from aiohttp import StreamReader

from nimbus_storage.auth.checksums import PayloadVerifier, checksum_header_name
from nimbus_storage.auth.chunked import AwsChunkedDecoder
from nimbus_storage.auth.sigv4 import STREAMING_PAYLOADS, UNSIGNED_PAYLOAD
from nimbus_storage.blobs.trailer import BodyTrailer
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.s3errors import (
    EntityTooLarge,
    InvalidArgument,
    MaxMessageLengthExceeded,
    MissingContentLength,
    RequestTimeout,
)

READ_CHUNK = 256 * 1024
T = TypeVar("T")


def _parse_length(raw: str, header: str) -> int:
    try:
        size = int(raw)
    except ValueError:
        raise InvalidArgument(f"{header} is not a number", ArgumentName=header) from None
    if size < 0:
        raise InvalidArgument(f"{header} is negative", ArgumentName=header)
    return size


def declared_size(request: S3Request) -> int | None:
    """The object size the client announced: the decoded length for aws-chunked bodies."""
    headers = request.headers
    decoded = headers.get("x-amz-decoded-content-length")
    if decoded is not None:
        return _parse_length(decoded, "x-amz-decoded-content-length")
    if request.http.content_length is None:
        return None
    return _parse_length(headers["Content-Length"], "Content-Length")


def require_size(request: S3Request, limit: int) -> int:
    size = declared_size(request)
    if size is None:
        raise MissingContentLength()
    if size > limit:
        raise EntityTooLarge(ProposedSize=str(size), MaxSizeAllowed=str(limit))
    return size


class ClientStream:
    """The request body as the client sends it. Waiting longer than ``stall_timeout`` seconds
    for its next bytes is RequestTimeout: a stalled client must not hold its connection, nor the
    storage nodes' writes behind it, for ever."""

    def __init__(self, stream: StreamReader, stall_timeout: float) -> None:
        self._stream = stream
        self._stall_timeout = stall_timeout

    async def read(self, n: int) -> bytes:
        """Up to ``n`` bytes, as soon as some arrive; b"" at the end of the body."""
        return await self._waiting(self._stream.read(n))

    async def readline(self) -> bytes:
        return await self._waiting(self._stream.readline())

    async def readexactly(self, n: int) -> bytes:
        """``n`` bytes; the stall timeout applies to each wait, not to the whole read."""
        parts: list[bytes] = []
        missing = n
        while missing:
            part = await self.read(missing)
            if not part:
                raise asyncio.IncompleteReadError(b"".join(parts), n)
            parts.append(part)
            missing -= len(part)
        return b"".join(parts)

    async def _waiting(self, read: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._stall_timeout):
                return await read
        except TimeoutError:
            raise RequestTimeout() from None


def client_stream(request: S3Request) -> ClientStream:
    return ClientStream(request.http.content, request.services.config.client_body_timeout)


async def _raw_chunks(stream: ClientStream) -> AsyncIterator[bytes]:
    while chunk := await stream.read(READ_CHUNK):
        yield chunk


class RequestBody:
    """The body of one request, decoded and verified; iterate it exactly once.

    After iteration, :meth:`checksum_headers` gives the ``x-amz-checksum-*`` the client asked
    for, computed over the data (from a header or from an aws-chunked trailer). ``trailer``
    holds the same once the body has been read to its end and verified, for a blob store to
    store with the object (``BlobStore.put(..., trailer=body.trailer)``).
    """

    def __init__(self, request: S3Request, *, checksum_of_body: bool = True) -> None:
        headers = request.headers
        payload_hash = (
            request.auth.payload_hash
            if request.auth is not None
            else headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
        )
        source: AsyncIterable[bytes]
        self._decoder: AwsChunkedDecoder | None = None
        stream = client_stream(request)
        if payload_hash in STREAMING_PAYLOADS:
            decoded = headers.get("x-amz-decoded-content-length")
            self._decoder = AwsChunkedDecoder(
                stream,
                request.auth,
                payload_hash,
                headers.get("x-amz-trailer"),
                decoded_length=(
                    _parse_length(decoded, "x-amz-decoded-content-length") if decoded else None
                ),
            )
            source = self._decoder
        else:
            source = _raw_chunks(stream)
        self._verifier = PayloadVerifier.from_headers(
            source, headers, payload_hash=payload_hash, checksum_of_body=checksum_of_body
        )
        self.trailer = BodyTrailer()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks_then_trailer()

    async def _chunks_then_trailer(self) -> AsyncIterator[bytes]:
        """The verified chunks; at their end (a checksum from an aws-chunked trailer is in and
        checked by then) the trailer is set, before the consumer sees the end."""
        async for chunk in self._verifier:
            yield chunk
        self.trailer.set(self.checksum_headers())

    def checksum_headers(self) -> dict[str, str]:
        for origin in (self._decoder, self._verifier):
            if origin is not None and origin.checksum_algorithm and origin.checksum_b64:
                return {checksum_header_name(origin.checksum_algorithm): origin.checksum_b64}
        return {}


def verified_payload(request: S3Request) -> RequestBody:
    return RequestBody(request)


async def read_small_body(
    request: S3Request, limit: int, *, checksum_of_body: bool = True
) -> bytes:
    """A whole (XML or JSON) request body, verified, refused beyond ``limit`` bytes.
    ``checksum_of_body`` False: an ``x-amz-checksum-*`` header is not the body's to check."""
    if request.small_body is not None:
        if len(request.small_body) > limit:
            raise MaxMessageLengthExceeded()
        return request.small_body
    parts: list[bytes] = []
    total = 0
    async for chunk in RequestBody(request, checksum_of_body=checksum_of_body):
        total += len(chunk)
        if total > limit:
            raise MaxMessageLengthExceeded()
        parts.append(chunk)
    request.small_body = b"".join(parts)
    return request.small_body
