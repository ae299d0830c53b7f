"""Server-side encryption of the writes: which encryption a write gets, what it stores and how
its ETag is made, the headers AWS answers.

The core is ``nimbus_storage/sse`` (docs/encryption.md); the bytes move through
``sse_stream``; the keys reads bring are ``sse_reads``'. A write (PutObject, CopyObject's
destination, CreateMultipartUpload) gets the encryption its SSE headers ask for, else its
bucket's default encryption (PutBucketEncryption), else none: ``write_encryption``. Its data
key is drawn, and wrapped, before any of the body is read. A CopyObject keeps its source's
ciphertext when it can, re-wrapping the data key for its destination: ``copy_outgoing``.

The key store (``--sse-keys``) is reloaded when its file changes, checked at most every few
seconds as requests use it. Without one, SSE-S3 and SSE-KMS are 501 NotImplemented.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from nimbus_storage.blobs.trailer import BodyTrailer
from nimbus_storage.bucket_config import encryption as bucket_encryption
from nimbus_storage.gateway.context import S3Request, Services
from nimbus_storage.gateway.object_body import ObjectBody
from nimbus_storage.gateway.sse_stream import READ_CHUNK, SealedBody
from nimbus_storage.sse import envelope
from nimbus_storage.sse.envelope import STREAM_FIELDS, KeySeal, Kind, SseRequest
from nimbus_storage.sse.keys import KeyContext
from nimbus_storage.sse.keystore import KeyStore

__all__ = [
    "ENCRYPTION_CONFIG",
    "Outgoing",
    "WriteEncryption",
    "bucket_default",
    "copy_outgoing",
    "keystore",
    "requests_encryption",
    "seal_write",
    "write_encryption",
    "write_request",
]

ENCRYPTION_CONFIG = "encryption"  # the catalog's name of a bucket's default encryption
SSE_HEADER = "x-amz-server-side-encryption"


def keystore(services: Services) -> KeyStore | None:
    """The key store, reloaded first if its file changed (looked at every few seconds)."""
    store = services.keystore
    if store is not None:
        store.maybe_reload()
    return store


async def bucket_default(services: Services, bucket: str) -> SseRequest | None:
    """The encryption a bucket's writes get when they ask for none."""
    stored = await services.catalog.get_config(bucket, ENCRYPTION_CONFIG)
    if stored is None:
        return None
    default = bucket_encryption.from_json(stored)
    if default.algorithm == "aws:kms":
        return SseRequest.sse_kms(default.kms_key_id)
    return SseRequest.sse_s3()


def requests_encryption(headers: Mapping[str, str]) -> bool:
    """Whether a write's headers ask for an encryption (a copy onto itself may then keep its
    metadata: it changes the encryption)."""
    return any(name.lower().startswith(SSE_HEADER) for name in headers)


@dataclass(frozen=True, slots=True)
class WriteEncryption:
    """How a write is encrypted: what it asked for, the seal it stores, its data key."""

    request: SseRequest
    seal: KeySeal
    data_key: bytes = field(repr=False)

    def response_headers(self, *, include_context: bool = True) -> dict[str, str]:
        customer = self.request.customer
        return envelope.response_headers(self.seal, customer, include_context=include_context)


async def write_request(request: S3Request, bucket: str) -> SseRequest | None:
    """The encryption a write to ``bucket`` gets: its SSE headers', else the bucket's default;
    None for none. A fault of the headers raises its ``EncryptionHeaderError``."""
    sse = envelope.parse_sse_request(request.headers)
    return sse if sse is not None else await bucket_default(request.services, bucket)


def seal_write(
    services: Services, sse: SseRequest, bucket: str, key: str, data_key: bytes | None = None
) -> WriteEncryption:
    """A write's data key (a new one unless ``data_key``: a copy keeping its source's
    ciphertext) wrapped as ``sse`` asks: ``KmsKeyNotFound``, ``EncryptionNotConfigured`` (no
    key store) are raised here, before any of the body is read."""
    context, store = KeyContext(bucket, key), keystore(services)
    if data_key is None:
        seal, data_key = envelope.seal_new_key(sse, context, store)
    else:
        seal = envelope.seal_data_key(sse, data_key, context, store)
    return WriteEncryption(sse, seal, data_key)


async def write_encryption(request: S3Request, bucket: str, key: str) -> WriteEncryption | None:
    """The encryption of a write to ``bucket``/``key`` (``write_request``), its new data key
    drawn and wrapped (``seal_write``); None for none."""
    sse = await write_request(request, bucket)
    return None if sse is None else seal_write(request.services, sse, bucket, key)


@dataclass
class Outgoing:
    """What a write hands the blob store: its chunks, the size they make, the metadata and
    trailer to store with them; then the ETag of what was stored."""

    chunks: AsyncIterator[bytes]
    stored_size: int
    meta: dict[str, str]
    trailer: BodyTrailer | None
    sealed: SealedBody | None = None
    plain_etag: str | None = None  # a copy keeping SSE-S3 ciphertext: its source's ETag

    @classmethod
    def of(
        cls,
        encryption: WriteEncryption | None,
        chunks: AsyncIterator[bytes],
        size: int,
        trailer: BodyTrailer | None = None,
    ) -> Outgoing:
        """``size`` bytes of plaintext ``chunks``, sealed when ``encryption`` says so."""
        if encryption is None:
            return cls(chunks, size, {}, trailer)
        sealed = SealedBody(encryption.data_key, chunks, encryption.seal.kind, trailer)
        meta = encryption.seal.to_meta()
        return cls(aiter(sealed), sealed.stored_size(size), meta, sealed.trailer, sealed)

    def etag(self, stored_md5: str) -> str:
        """The ETag of the stored blob whose MD5 is ``stored_md5``."""
        if self.plain_etag is not None:
            return self.plain_etag
        return stored_md5 if self.sealed is None else self.sealed.etag(stored_md5)


async def copy_outgoing(
    request: S3Request, bucket: str, key: str, source: ObjectBody, source_etag: str
) -> tuple[Outgoing, WriteEncryption | None]:
    """What CopyObject stores from ``source`` (its data key opened: ``unlock_source``), and
    the destination's encryption. The ciphertext of a single-blob source is copied as it is,
    its data key re-wrapped for the destination, when the destination is encrypted and its
    ETag is known without the plaintext (not SSE-S3, or from an SSE-S3 source); anything else
    is decrypted (if it was encrypted) and sealed again (if the destination is)."""
    sse = await write_request(request, bucket)
    seal = source.seal
    if (
        sse is not None
        and seal is not None
        and source.parts is None
        and source.data_key is not None
        and (sse.kind is not Kind.SSE_S3 or seal.kind is Kind.SSE_S3)
    ):
        kept = seal_write(request.services, sse, bucket, key, source.data_key)
        info = source.head.info
        stream = {name: value for name, value in info.meta.items() if name in STREAM_FIELDS}
        out = Outgoing(
            source.head.iter_range(0, info.size - 1, READ_CHUNK),
            info.size,
            kept.seal.to_meta() | stream,
            None,
            plain_etag=source_etag if sse.kind is Kind.SSE_S3 else None,  # from SSE-S3
        )
        return out, kept
    encryption = None if sse is None else seal_write(request.services, sse, bucket, key)
    chunks = source.stream(0, source.size - 1) if source.size else _empty()
    return Outgoing.of(encryption, chunks, source.size), encryption


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""
