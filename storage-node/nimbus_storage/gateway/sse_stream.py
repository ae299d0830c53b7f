"""The bytes of encrypted objects as the gateway moves them: a write's body sealed on its way to
the blob store, a blob's range opened on its way to the client (docs/encryption.md).

An encrypted object's blob holds the segmented AES-256-GCM stream of ``sse/segments.py``; its
metadata holds the envelope (``sse/envelope.py``): the ``KeySeal`` from the start of the write,
the ``StreamParams`` (nonce prefix, segment size, plaintext size) through the blob's trailer once
the body has ended. A multipart object's manifest holds the upload's seal; each part blob holds
its own stream parameters. The plaintext size is the object's size everywhere a client sees one.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping

from nimbus_storage.blobs.api import BlobInfo, BlobReader
from nimbus_storage.blobs.trailer import BodyTrailer
from nimbus_storage.sse import segments
from nimbus_storage.sse.envelope import Envelope, KeySeal, Kind, StreamParams, etag_for

__all__ = ["SealedBody", "envelope_of", "manifest_seal", "open_range"]

READ_CHUNK = 1024 * 1024  # ciphertext read from the blob store at a time
OUT_CHUNK = 256 * 1024  # sealed or opened segments are passed on in chunks of about this size


def envelope_of(info: BlobInfo) -> tuple[KeySeal | None, int]:
    """The seal of a single-blob object (None: stored in clear) and its size as clients see
    it; ``EnvelopeInvalid`` when its encryption metadata is damaged or does not fit the blob."""
    envelope = Envelope.from_meta(info.meta, stored_size=info.size)
    if envelope is None:
        return None, info.size
    return envelope.seal, envelope.stream.plain_size


def manifest_seal(meta: Mapping[str, str]) -> KeySeal | None:
    """The seal of a multipart object, from its manifest's metadata (None: in clear)."""
    return KeySeal.from_meta(meta)


async def _coalesced(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` joined into pieces of at least ``OUT_CHUNK`` bytes (but the last): one
    segment at a time is too small a write for a socket or a node connection."""
    pending: list[bytes] = []
    size = 0
    async for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= OUT_CHUNK:
            yield pending[0] if len(pending) == 1 else b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


class SealedBody:
    """A write's plaintext, sealed under ``data_key`` as it streams to the blob store; iterate
    it once. Its ``trailer`` holds, once the plaintext has ended, the blob's ``StreamParams``
    and the facts of ``inner`` (the trailer of the request body: a trailing checksum)."""

    def __init__(
        self,
        data_key: bytes,
        chunks: AsyncIterable[bytes],
        kind: Kind,
        inner: BodyTrailer | None = None,
    ) -> None:
        self.kind = kind
        self.trailer = BodyTrailer()
        self._chunks = chunks
        self._inner = inner
        # Only SSE-S3's ETag is the plaintext's MD5; the others are the ciphertext's.
        self._encryptor = segments.SegmentEncryptor(data_key, md5_plain=kind is Kind.SSE_S3)

    @staticmethod
    def stored_size(plain_size: int) -> int:
        """The size of the blob sealing ``plain_size`` bytes."""
        return segments.ciphertext_size(plain_size)

    @property
    def plain_size(self) -> int:
        return self._encryptor.plain_size

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._sealed()

    async def _sealed(self) -> AsyncIterator[bytes]:
        async for chunk in _coalesced(self._encryptor.encrypt(self._chunks)):
            yield chunk
        facts = dict(self._inner.facts()) if self._inner is not None else {}
        self.trailer.set({**facts, **StreamParams.of(self._encryptor).to_meta()})

    def etag(self, cipher_md5: str) -> str:
        """The ETag of what was sealed (``cipher_md5``: the stored blob's MD5)."""
        plain_md5 = self._encryptor.plain_md5 if self.kind is Kind.SSE_S3 else ""
        return etag_for(self.kind, plain_md5=plain_md5, cipher_md5=cipher_md5)


async def open_range(
    reader: BlobReader, data_key: bytes, start: int, end: int
) -> AsyncIterator[bytes]:
    """Plaintext bytes ``start..end`` (inclusive) of an encrypted blob: only the segments
    covering them are read, each authenticated before any of it is yielded
    (``CiphertextCorrupt`` otherwise, ``EnvelopeInvalid`` for damaged metadata)."""
    params = StreamParams.from_meta(reader.info.meta, stored_size=reader.info.size)
    plan = params.map_range(start, end)
    cipher = reader.iter_range(plan.cipher_start, plan.cipher_end, READ_CHUNK)
    opened = segments.decrypt_range(cipher, data_key, params.nonce_prefix, plan)
    async for chunk in _coalesced(opened):
        yield chunk
