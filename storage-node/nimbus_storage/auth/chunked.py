"""Decoding ``aws-chunked`` request bodies (``x-amz-content-sha256: STREAMING-...``).

The wire format, per chunk::

    <hex size>[;chunk-signature=<64 hex>]\\r\\n<size bytes>\\r\\n

ending with a zero-size chunk, then optional trailing headers (``name:value\\r\\n`` lines,
``x-amz-trailer-signature`` last when signed) and an empty line.

Signed variants chain signatures: chunk *n* is signed over the signature of chunk *n-1*,
starting from the request's own (seed) signature; the final empty chunk and the trailer are
signed too, so truncating or reordering the body breaks the chain.

Data flows through in slices of at most :data:`READ_SLICE` bytes; a chunk's last slice is held
back until its signature checks (see :func:`~nimbus_storage.auth.streams.one_step_behind`),
so a consumer that commits only at the end never commits a body that fails verification.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from typing import Protocol

from nimbus_storage.auth.checksums import (
    CHECKSUM_HEADER_PREFIX,
    Checksum,
    checksum_mismatch,
    decode_checksum,
    new_checksum,
)
from nimbus_storage.auth.sigv4 import (
    EMPTY_SHA256,
    STREAMING_PAYLOADS,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    AuthContext,
    chunk_string_to_sign,
    sign,
    trailer_string_to_sign,
)
from nimbus_storage.auth.streams import one_step_behind
from nimbus_storage.s3errors import (
    IncompleteBody,
    InvalidRequest,
    MalformedTrailerError,
    SignatureDoesNotMatch,
)

READ_SLICE = 1 << 20  # the most a single yielded piece of data can be
MAX_LINE = 4096  # a chunk header or trailer line longer than this is malformed
TRAILER_SIGNATURE = "x-amz-trailer-signature"
_HEX_SIZE = re.compile(r"[0-9a-fA-F]{1,16}")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")


class ChunkReader(Protocol):
    """The subset of ``aiohttp.StreamReader`` the decoder needs."""

    async def readline(self) -> bytes: ...

    async def readexactly(self, n: int) -> bytes: ...


def decode_aws_chunked(
    reader: ChunkReader,
    ctx: AuthContext | None,
    content_sha256: str,
    trailer_header: str | None,
    *,
    decoded_length: int | None = None,
) -> AsyncIterator[bytes]:
    """The decoded body of an aws-chunked request, verified as it streams.

    ``content_sha256`` is the request's ``x-amz-content-sha256`` (one of the three STREAMING
    values), ``trailer_header`` its ``x-amz-trailer`` and ``decoded_length`` its
    ``x-amz-decoded-content-length``. ``ctx`` may be None only for the unsigned variant. Use
    :class:`AwsChunkedDecoder` directly to read the trailing headers afterwards.
    """
    return aiter(
        AwsChunkedDecoder(
            reader, ctx, content_sha256, trailer_header, decoded_length=decoded_length
        )
    )


class AwsChunkedDecoder:
    """Async-iterable decoded body; after iteration, :attr:`trailers` holds the trailing
    headers (verified) and :attr:`checksum_b64` the trailing checksum, if any."""

    def __init__(
        self,
        reader: ChunkReader,
        ctx: AuthContext | None,
        content_sha256: str,
        trailer_header: str | None,
        *,
        decoded_length: int | None = None,
    ) -> None:
        if content_sha256 not in STREAMING_PAYLOADS:
            raise ValueError(f"not an aws-chunked payload: {content_sha256!r}")
        self._signed = content_sha256 != STREAMING_UNSIGNED_TRAILER
        if self._signed and (ctx is None or ctx.signature_version != 4):
            raise InvalidRequest(f"{content_sha256} requires a request signed with SigV4.")
        self._reader = reader
        self._ctx = ctx
        self._trailer_signed = content_sha256 == STREAMING_SIGNED_TRAILER
        self._declared = _parse_trailer_names(trailer_header)
        if self._declared and content_sha256 == STREAMING_SIGNED:
            raise InvalidRequest(f"x-amz-trailer is not allowed with {STREAMING_SIGNED}.")
        self._checksum = _trailing_checksum(self._declared)
        self._decoded_length = decoded_length
        self.decoded_size = 0
        self.trailers: dict[str, str] = {}

    def __aiter__(self) -> AsyncIterator[bytes]:
        return one_step_behind(self._decode())

    @property
    def checksum_algorithm(self) -> str | None:
        return self._checksum.algorithm if self._checksum else None

    @property
    def checksum_b64(self) -> str | None:
        """The trailing checksum (verified against the data) once the body is decoded."""
        return self._checksum.b64digest() if self._checksum else None

    async def _decode(self) -> AsyncIterator[bytes]:
        previous = self._ctx.seed_signature if self._ctx else ""
        while True:
            size, signature = await self._read_chunk_header()
            if self._decoded_length is not None and self.decoded_size + size > self._decoded_length:
                raise InvalidRequest("The aws-chunked body exceeds x-amz-decoded-content-length.")
            if size == 0:
                break
            chunk_hash = hashlib.sha256()
            remaining = size
            while remaining:
                piece = await self._read_exactly(min(remaining, READ_SLICE))
                remaining -= len(piece)
                chunk_hash.update(piece)
                if self._checksum:
                    self._checksum.update(piece)
                yield piece
            if await self._read_exactly(2) != b"\r\n":
                raise InvalidRequest("An aws-chunked chunk is longer than its declared size.")
            previous = self._verify_chunk(previous, signature, chunk_hash.hexdigest())
            self.decoded_size += size
        previous = self._verify_chunk(previous, signature, EMPTY_SHA256)
        await self._read_trailers(previous)
        if self._decoded_length is not None and self.decoded_size < self._decoded_length:
            raise IncompleteBody(
                "You did not provide the number of bytes specified by"
                " the x-amz-decoded-content-length"
            )

    async def _read_chunk_header(self) -> tuple[int, str | None]:
        line = await self._read_line()
        size_text, *extensions = line.split(";")
        if not _HEX_SIZE.fullmatch(size_text.strip()):
            raise InvalidRequest(f"Invalid aws-chunked chunk size {size_text[:32]!r}.")
        signature = None
        for extension in extensions:
            name, _, value = extension.partition("=")
            if name.strip() == "chunk-signature":
                signature = value.strip()
        return int(size_text, 16), signature

    def _verify_chunk(self, previous: str, signature: str | None, data_sha256: str) -> str:
        """Check one chunk's signature; return it, as the next chunk signs over it."""
        if not self._signed or self._ctx is None:
            return previous
        if signature is None or not _HEX_SIGNATURE.fullmatch(signature):
            raise SignatureDoesNotMatch("A chunk of the aws-chunked body has no valid signature.")
        expected = sign(
            self._ctx.signing_key, chunk_string_to_sign(self._ctx, previous, data_sha256)
        )
        if not hmac.compare_digest(expected, signature):
            raise SignatureDoesNotMatch()
        return signature

    async def _read_trailers(self, previous: str) -> None:
        received: dict[str, str] = {}
        skipped_separator = False
        while True:
            try:
                line = await self._read_line()
            except IncompleteBody:
                if self._declared or self._trailer_signed:
                    raise
                return  # tolerated: the body ended right after the final chunk header
            if not line:
                # Some clients put an empty line between the final chunk and the trailers.
                if self._declared and not received and not skipped_separator:
                    skipped_separator = True
                    continue
                break
            name, sep, value = line.partition(":")
            name = name.strip().lower()
            if not sep or not name or name in received:
                raise MalformedTrailerError()
            received[name] = value.strip()
        signature = received.pop(TRAILER_SIGNATURE, None)
        if set(received) != set(self._declared):
            raise MalformedTrailerError()
        if self._trailer_signed:
            self._verify_trailer_signature(previous, received, signature)
        elif signature is not None:
            raise MalformedTrailerError()
        if self._checksum:
            name = CHECKSUM_HEADER_PREFIX + self._checksum.algorithm.lower()
            expected = decode_checksum(
                self._checksum.algorithm, received[name], where="trailing header"
            )
            if not hmac.compare_digest(self._checksum.digest(), expected):
                raise checksum_mismatch(self._checksum.algorithm)
        self.trailers = received

    def _verify_trailer_signature(
        self, previous: str, trailers: dict[str, str], signature: str | None
    ) -> None:
        if self._ctx is None or signature is None or not _HEX_SIGNATURE.fullmatch(signature):
            raise SignatureDoesNotMatch("The trailing headers have no valid signature.")
        canonical = "".join(f"{name}:{value}\n" for name, value in sorted(trailers.items()))
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        expected = sign(self._ctx.signing_key, trailer_string_to_sign(self._ctx, previous, digest))
        if not hmac.compare_digest(expected, signature):
            raise SignatureDoesNotMatch()

    async def _read_line(self) -> str:
        """One CRLF-terminated line, without the CRLF."""
        try:
            line = await self._reader.readline()
        except ValueError:  # aiohttp: the line exceeds the stream's buffer limit
            raise InvalidRequest("An aws-chunked header line is too long.") from None
        if not line.endswith(b"\n"):
            raise IncompleteBody()
        if len(line) > MAX_LINE:
            raise InvalidRequest("An aws-chunked header line is too long.")
        if not line.endswith(b"\r\n"):
            raise InvalidRequest("aws-chunked lines must end with CRLF.")
        try:
            return line[:-2].decode("ascii")
        except UnicodeDecodeError:
            raise InvalidRequest("An aws-chunked header line is not ASCII.") from None

    async def _read_exactly(self, n: int) -> bytes:
        try:
            return await self._reader.readexactly(n)
        except asyncio.IncompleteReadError:
            raise IncompleteBody() from None


def _parse_trailer_names(trailer_header: str | None) -> tuple[str, ...]:
    if not trailer_header:
        return ()
    names = tuple(name.strip().lower() for name in trailer_header.split(",") if name.strip())
    if TRAILER_SIGNATURE in names or len(set(names)) != len(names):
        raise InvalidRequest("Invalid x-amz-trailer header.")
    return names


def _trailing_checksum(declared: tuple[str, ...]) -> Checksum | None:
    algorithms = [
        name.removeprefix(CHECKSUM_HEADER_PREFIX)
        for name in declared
        if name.startswith(CHECKSUM_HEADER_PREFIX)
    ]
    if len(algorithms) > 1:
        raise InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    return new_checksum(algorithms[0]) if algorithms else None
