"""The bytes of an encrypted blob: plaintext in fixed segments, each sealed with AES-256-GCM.

Format (version 1)::

    blob    = sealed_0 || sealed_1 || ... || sealed_{n-1}
    sealed_i = AES-256-GCM(data_key, nonce_i, plaintext_i, ad_i)      # ciphertext || 16-byte tag
    nonce_i  = nonce_prefix (8 random bytes, per stream) || i as 4 bytes big-endian
    ad_i     = b"nimbus-sse/1 segment" || i as 8 bytes big-endian || final_i (1 byte, 0 or 1)

Every segment holds ``segment_size`` plaintext bytes but the last, which holds 1 to
``segment_size`` (an empty plaintext is one empty final segment: 16 bytes, so even an empty
object proves it is complete). ``final_i`` is 1 on the last segment only. Binding the index
and the final flag as associated data detects reordering, duplication, splicing and
truncation at a segment boundary; a segment of another stream (another data key or nonce
prefix) does not open. Nothing else is in the blob: the nonce prefix, the segment size and the
plaintext size are in the object's metadata (``envelope.py``).

Sizes are pure arithmetic (``ciphertext_size``, ``plain_size``), so a range of plaintext maps to
the ciphertext range of the segments covering it (``map_range``) and a range read decrypts those
segments only. Encryption and decryption stream: memory holds one segment (plus the chunk being
read), never the object.

A (data key, nonce prefix) pair must never seal two different plaintexts (GCM loses both
confidentiality and integrity when a nonce repeats): ``SegmentEncryptor`` draws a fresh random
prefix for every stream unless a caller passes one, which only tests should do.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from nimbus_storage.sse.errors import CiphertextCorrupt, CiphertextSizeInvalid

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "MAX_SEGMENT_SIZE",
    "MIN_SEGMENT_SIZE",
    "NONCE_PREFIX_SIZE",
    "TAG_SIZE",
    "CipherRange",
    "SegmentEncryptor",
    "ciphertext_size",
    "decrypt_range",
    "encrypt_stream",
    "full_range",
    "map_range",
    "new_nonce_prefix",
    "plain_size",
    "segment_count",
]

DEFAULT_SEGMENT_SIZE = 64 * 1024
MIN_SEGMENT_SIZE = 16  # tiny segments only make tests of boundaries cheap
MAX_SEGMENT_SIZE = 16 * 1024 * 1024
TAG_SIZE = 16
NONCE_PREFIX_SIZE = 8
DATA_KEY_SIZE = 32
MAX_SEGMENTS = 2**32  # the index is 4 bytes of the nonce: 256 TiB at 64 KiB segments

_AD_LABEL = b"nimbus-sse/1 segment"
_AD_TAIL = struct.Struct(">QB")
_NONCE_INDEX = struct.Struct(">I")


def new_nonce_prefix() -> bytes:
    """A fresh random nonce prefix for one stream."""
    return os.urandom(NONCE_PREFIX_SIZE)


def _check_segment_size(segment_size: int) -> None:
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(
            f"segment size {segment_size} is outside {MIN_SEGMENT_SIZE}..{MAX_SEGMENT_SIZE}"
        )


def segment_count(plain_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """How many segments seal ``plain_size`` bytes: at least one (an empty final segment)."""
    _check_segment_size(segment_size)
    if plain_size < 0:
        raise ValueError(f"negative plaintext size {plain_size}")
    return max(1, -(-plain_size // segment_size))


def ciphertext_size(plain_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """The size of the blob sealing ``plain_size`` bytes."""
    return plain_size + TAG_SIZE * segment_count(plain_size, segment_size)


def plain_size(cipher_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """The plaintext size of a blob of ``cipher_size`` bytes; ``CiphertextSizeInvalid`` for a
    size no blob of this segment size has (a torn or truncated blob)."""
    _check_segment_size(segment_size)
    sealed = segment_size + TAG_SIZE
    if cipher_size < TAG_SIZE:
        raise CiphertextSizeInvalid(f"{cipher_size} bytes cannot hold one sealed segment")
    full, rest = divmod(cipher_size, sealed)
    if rest == 0:
        return full * segment_size
    if rest < TAG_SIZE or (rest == TAG_SIZE and full > 0):
        raise CiphertextSizeInvalid(
            f"{cipher_size} bytes is not a whole number of sealed {segment_size}-byte segments"
        )
    return full * segment_size + rest - TAG_SIZE


@dataclass(frozen=True, slots=True)
class CipherRange:
    """The ciphertext to read for a plaintext range, and how to cut its decryption.

    ``cipher_start..cipher_end`` (inclusive) covers the sealed segments ``first_segment`` to
    ``last_segment``; their decryption yields the plaintext range once ``skip`` bytes are
    dropped from the first and ``length`` bytes kept.
    """

    plain_size: int
    segment_size: int
    first_segment: int
    last_segment: int
    cipher_start: int
    cipher_end: int
    skip: int
    length: int

    @property
    def cipher_length(self) -> int:
        return self.cipher_end - self.cipher_start + 1

    @property
    def segments(self) -> int:
        """How many segments the range touches."""
        return self.last_segment - self.first_segment + 1

    @property
    def final_segment(self) -> int:
        """The index of the object's last segment."""
        return segment_count(self.plain_size, self.segment_size) - 1


def _covering(plain_size: int, segment_size: int, start: int, end: int) -> CipherRange:
    """The range of plaintext ``start..end`` (``end`` is ``start - 1`` for an empty object)."""
    sealed = segment_size + TAG_SIZE
    first, last = start // segment_size, max(start, end) // segment_size
    return CipherRange(
        plain_size=plain_size,
        segment_size=segment_size,
        first_segment=first,
        last_segment=last,
        cipher_start=first * sealed,
        cipher_end=min((last + 1) * sealed, ciphertext_size(plain_size, segment_size)) - 1,
        skip=start - first * segment_size,
        length=end - start + 1,
    )


def map_range(
    start: int, end: int, plain_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE
) -> CipherRange:
    """The ciphertext covering plaintext bytes ``start..end`` (inclusive) of an object of
    ``plain_size`` bytes; ``ValueError`` unless ``0 <= start <= end < plain_size`` (the caller
    has resolved the HTTP range against the plaintext size already)."""
    _check_segment_size(segment_size)
    if not 0 <= start <= end < plain_size:
        raise ValueError(f"range {start}-{end} is not within {plain_size} bytes")
    return _covering(plain_size, segment_size, start, end)


def full_range(plain_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> CipherRange:
    """The whole blob, an empty object included (its one empty segment is still checked)."""
    _check_segment_size(segment_size)
    if plain_size < 0:
        raise ValueError(f"negative plaintext size {plain_size}")
    return _covering(plain_size, segment_size, 0, plain_size - 1)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + _NONCE_INDEX.pack(index)


def _ad(index: int, final: bool) -> bytes:
    return _AD_LABEL + _AD_TAIL.pack(index, 1 if final else 0)


def _check_key(data_key: bytes, nonce_prefix: bytes) -> None:
    if len(data_key) != DATA_KEY_SIZE:
        raise ValueError(f"a data key is {DATA_KEY_SIZE} bytes, not {len(data_key)}")
    if len(nonce_prefix) != NONCE_PREFIX_SIZE:
        raise ValueError(f"a nonce prefix is {NONCE_PREFIX_SIZE} bytes, not {len(nonce_prefix)}")


class SegmentEncryptor:
    """Seals one stream of plaintext; ``encrypt`` is iterated once.

    Once the stream is exhausted, ``plain_size`` and ``cipher_size`` are final, and so are
    ``plain_md5`` / ``cipher_md5`` (hex) when asked for with ``md5_plain`` / ``md5_cipher``.
    """

    def __init__(
        self,
        data_key: bytes,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        *,
        nonce_prefix: bytes | None = None,
        md5_plain: bool = False,
        md5_cipher: bool = False,
    ) -> None:
        _check_segment_size(segment_size)
        self.nonce_prefix = new_nonce_prefix() if nonce_prefix is None else nonce_prefix
        _check_key(data_key, self.nonce_prefix)
        self.segment_size = segment_size
        self.plain_size = 0
        self.cipher_size = 0
        self.finished = False
        self._aead = AESGCM(data_key)
        self._index = 0
        self._started = False
        self._plain_md5 = hashlib.md5(usedforsecurity=False) if md5_plain else None
        self._cipher_md5 = hashlib.md5(usedforsecurity=False) if md5_cipher else None

    @property
    def plain_md5(self) -> str:
        return self._digest(self._plain_md5, "md5_plain")

    @property
    def cipher_md5(self) -> str:
        return self._digest(self._cipher_md5, "md5_cipher")

    def _digest(self, md5: hashlib._Hash | None, flag: str) -> str:
        if md5 is None:
            raise RuntimeError(f"this encryptor was made without {flag}=True")
        if not self.finished:
            raise RuntimeError("the stream has not ended yet")
        return md5.hexdigest()

    def _seal(self, plain: bytes | bytearray | memoryview, final: bool) -> bytes:
        if self._index >= MAX_SEGMENTS:
            raise ValueError("the stream is too long for one nonce prefix")
        sealed = self._aead.encrypt(
            _nonce(self.nonce_prefix, self._index), plain, _ad(self._index, final)
        )
        self._index += 1
        self.plain_size += len(plain)
        self.cipher_size += len(sealed)
        if self._plain_md5 is not None:
            self._plain_md5.update(plain)
        if self._cipher_md5 is not None:
            self._cipher_md5.update(sealed)
        return sealed

    async def encrypt(self, chunks: AsyncIterable[bytes]) -> AsyncGenerator[bytes, None]:
        """Yield the sealed segments of ``chunks`` (plaintext chunks of any size)."""
        if self._started:
            raise RuntimeError("a SegmentEncryptor seals one stream only")
        self._started = True
        size = self.segment_size
        # Plaintext not sealed yet, at most one segment. A full segment stays pending until
        # more plaintext arrives: only the end of the stream tells that it is the final one.
        pending = bytearray()
        async for chunk in chunks:
            view = memoryview(chunk)
            pos = 0
            if pending:
                pos = min(size - len(pending), len(view))
                pending += view[:pos]
                if pos == len(view):
                    continue
                yield self._seal(pending, final=False)
                pending.clear()
            while len(view) - pos > size:
                yield self._seal(view[pos : pos + size], final=False)
                pos += size
            pending += view[pos:]
        yield self._seal(pending, final=True)
        self.finished = True


async def encrypt_stream(
    chunks: AsyncIterable[bytes],
    data_key: bytes,
    nonce_prefix: bytes,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
) -> AsyncGenerator[bytes, None]:
    """Seal ``chunks`` under ``data_key`` and ``nonce_prefix`` (which must be fresh for this
    key: see the module's docstring); ``SegmentEncryptor`` also counts and hashes."""
    encryptor = SegmentEncryptor(data_key, segment_size, nonce_prefix=nonce_prefix)
    async for sealed in encryptor.encrypt(chunks):
        yield sealed


async def decrypt_range(
    chunks: AsyncIterable[bytes],
    data_key: bytes,
    nonce_prefix: bytes,
    plan: CipherRange,
) -> AsyncGenerator[bytes, None]:
    """Yield exactly the plaintext ``plan`` describes, from ``chunks``: the ciphertext bytes
    ``plan.cipher_start..plan.cipher_end`` of the blob, in chunks of any size.

    Each segment is authenticated before any of its plaintext is yielded; a segment that does
    not open, a stream that ends early or brings more than the range raise
    ``CiphertextCorrupt`` (plaintext of the segments before it may have been yielded already).
    """
    _check_key(data_key, nonce_prefix)
    aead = AESGCM(data_key)
    seg = plan.segment_size
    final = plan.final_segment
    index = plan.first_segment
    skip, remaining = plan.skip, plan.length

    def sealed_length(i: int) -> int:
        return min(seg, plan.plain_size - i * seg) + TAG_SIZE

    def open_segment(sealed: bytes | bytearray | memoryview) -> bytes:
        try:
            return aead.decrypt(_nonce(nonce_prefix, index), sealed, _ad(index, index == final))
        except InvalidTag:
            raise CiphertextCorrupt(
                f"segment {index} of the encrypted blob does not authenticate"
            ) from None

    def cut(plain: bytes) -> bytes | memoryview:
        nonlocal skip, remaining
        begin, skip = skip, 0
        out = memoryview(plain)[begin : begin + remaining]
        remaining -= len(out)
        return out if len(out) < len(plain) else plain

    need = sealed_length(index)
    pending = bytearray()
    async for chunk in chunks:
        view = memoryview(chunk)
        pos = 0
        while pos < len(view):
            if index > plan.last_segment:
                raise CiphertextCorrupt("the encrypted blob is longer than its range")
            if not pending and len(view) - pos >= need:
                sealed: bytes | bytearray | memoryview = view[pos : pos + need]
                pos += need
            else:
                take = min(need - len(pending), len(view) - pos)
                pending += view[pos : pos + take]
                pos += take
                if len(pending) < need:
                    break
                sealed = pending
            plain = cut(open_segment(sealed))
            pending = bytearray()
            index += 1
            if index <= plan.last_segment:
                need = sealed_length(index)
            if plain:
                yield bytes(plain) if isinstance(plain, memoryview) else plain
    if index <= plan.last_segment:
        raise CiphertextCorrupt(
            f"the encrypted blob ends inside segment {index} (its metadata says"
            f" {plan.plain_size} plaintext bytes)"
        )
