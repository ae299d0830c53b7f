"""What is stored beside an encrypted object, what a write asks for, and what AWS answers.

The *envelope* of an encrypted object is a string map stored with its blob (``BlobInfo.meta``),
in two parts:

* the ``KeySeal``: how the data key is kept (kind, master key id and version or the SSE-C salt
  and verifier, the wrapped data key, the SSE-KMS encryption context). One per object; a
  multipart upload draws one data key, so one seal, at CreateMultipartUpload;
* the ``StreamParams``: how the blob's bytes are laid out (nonce prefix, segment size,
  plaintext size). One per blob: every part of a multipart upload is a stream of its own.

Stored keys (all ``x-nimbus-sse-*``; a value is decimal or standard base64)::

    x-nimbus-sse-format        "1"
    x-nimbus-sse-kind          "sse-c" | "aes256" | "aws:kms"
    x-nimbus-sse-wrapped-key   base64, 77 bytes (keys.py)
    x-nimbus-sse-key-id        SSE-S3/SSE-KMS: the master key id
    x-nimbus-sse-key-version   SSE-S3/SSE-KMS: the master key version that wrapped it
    x-nimbus-sse-c-salt        SSE-C: base64, 16 bytes
    x-nimbus-sse-c-verifier    SSE-C: base64, 32 bytes (HMAC-SHA256 of the client's key)
    x-nimbus-sse-context       SSE-KMS, when given: base64 of the canonical JSON context
    x-nimbus-sse-nonce-prefix  base64, 8 bytes
    x-nimbus-sse-segment-size  decimal
    x-nimbus-sse-plain-size    decimal

Parsing is strict: a missing, unknown or malformed field is ``EnvelopeInvalid``, never an
exception of another kind. The plaintext size is known only once the body has ended: a writer
that streams stores ``StreamParams.to_meta()`` through the blob's trailer.

ETag (``etag_for``): SSE-S3 answers the MD5 of the plaintext, as AWS does for a single-part
object. SSE-C and SSE-KMS answer the MD5 of the stored ciphertext: AWS documents only that it
is *not* the MD5 of the plaintext; this value is deterministic for the object, changes with
every write, tells nothing of the plaintext, and is what the blob store computes anyway
(``BlobInfo.md5_hex``). A re-wrap (copy, key rotation) keeps the ciphertext, so the ETag.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from nimbus_storage.sse import segments
from nimbus_storage.sse.errors import (
    BucketKeyEnabledInvalid,
    CustomerKeyNotApplicable,
    CustomerKeyRequired,
    EncryptionContextInvalid,
    EncryptionMethodsConflict,
    EncryptionMethodUnsupported,
    EncryptionNotConfigured,
    EnvelopeInvalid,
    KeyUnavailable,
    KmsKeyIdWithoutKms,
)
from nimbus_storage.sse.keys import (
    CUSTOMER_SALT_SIZE,
    CUSTOMER_VERIFIER_SIZE,
    WRAPPED_KEY_SIZE,
    CustomerKey,
    CustomerSeal,
    KeyContext,
    new_data_key,
    open_for_customer,
    parse_customer_key,
    seal_for_customer,
)
from nimbus_storage.sse.keystore import KEY_ID, KeyStore, WrappedKey

__all__ = [
    "META_PREFIX",
    "Envelope",
    "KeySeal",
    "Kind",
    "SseRequest",
    "StreamParams",
    "etag_for",
    "is_encrypted",
    "open_data_key",
    "parse_sse_request",
    "reseal_data_key",
    "response_headers",
    "rotate_seal",
    "seal_data_key",
    "seal_new_key",
]

META_PREFIX = "x-nimbus-sse-"
FORMAT = "x-nimbus-sse-format"
KIND = "x-nimbus-sse-kind"
WRAPPED = "x-nimbus-sse-wrapped-key"
KEY_ID_META = "x-nimbus-sse-key-id"
KEY_VERSION = "x-nimbus-sse-key-version"
CUSTOMER_SALT = "x-nimbus-sse-c-salt"
CUSTOMER_VERIFIER = "x-nimbus-sse-c-verifier"
CONTEXT = "x-nimbus-sse-context"
NONCE_PREFIX = "x-nimbus-sse-nonce-prefix"
SEGMENT_SIZE = "x-nimbus-sse-segment-size"
PLAIN_SIZE = "x-nimbus-sse-plain-size"
FORMAT_VERSION = "1"
SEAL_FIELDS = frozenset({FORMAT, KIND, WRAPPED, KEY_ID_META, KEY_VERSION})
SEAL_FIELDS |= {CUSTOMER_SALT, CUSTOMER_VERIFIER, CONTEXT}
STREAM_FIELDS = frozenset({NONCE_PREFIX, SEGMENT_SIZE, PLAIN_SIZE})

# Request and response headers.
SSE = "x-amz-server-side-encryption"
SSE_KMS_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
SSE_CONTEXT = "x-amz-server-side-encryption-context"
SSE_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
SSE_C_ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"
SSE_C_KEY_MD5 = "x-amz-server-side-encryption-customer-key-MD5"
MAX_CONTEXT_BYTES = 4096
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")


class Kind(StrEnum):
    """How an object's data key is kept."""

    SSE_C = "sse-c"  # wrapped by a key derived from the client's key
    SSE_S3 = "aes256"  # wrapped by the key store's default key
    SSE_KMS = "aws:kms"  # wrapped by a named key of the key store

    @property
    def header_value(self) -> str | None:
        """``x-amz-server-side-encryption``'s value for this kind (none for SSE-C)."""
        return {Kind.SSE_S3: "AES256", Kind.SSE_KMS: "aws:kms"}.get(self)


# --- field parsing ----------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(meta: Mapping[str, str], name: str, size: int | None) -> bytes:
    text = meta.get(name)
    if text is None:
        raise EnvelopeInvalid(f"encryption metadata lacks {name}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeInvalid(f"encryption metadata {name} is not base64") from None
    if _b64(raw) != text:
        raise EnvelopeInvalid(f"encryption metadata {name} is not canonical base64")
    if size is not None and len(raw) != size:
        raise EnvelopeInvalid(f"encryption metadata {name} is {len(raw)} bytes, not {size}")
    return raw


def _decimal(meta: Mapping[str, str], name: str) -> int:
    text = meta.get(name)
    if text is None:
        raise EnvelopeInvalid(f"encryption metadata lacks {name}")
    if not _DECIMAL.fullmatch(text):
        raise EnvelopeInvalid(f"encryption metadata {name} is not a decimal number: {text!r}")
    return int(text)


def _context_to_text(context: Mapping[str, str]) -> str:
    canonical = json.dumps(dict(context), sort_keys=True, separators=(",", ":"))
    return _b64(canonical.encode("utf-8"))


def _context_from_text(text: str) -> dict[str, str] | None:
    """The encryption context base64 ``text`` holds, None when it is not one."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        document = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if (
        len(raw) > MAX_CONTEXT_BYTES
        or not isinstance(document, dict)
        or not all(isinstance(k, str) and k and isinstance(v, str) for k, v in document.items())
    ):
        return None
    return document


# --- the stored envelope ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeySeal:
    """How an object's data key is kept (see the module's docstring)."""

    kind: Kind
    wrapped_key: bytes
    key_id: str | None = None
    key_version: int | None = None
    customer_salt: bytes | None = None
    customer_verifier: bytes | None = None
    encryption_context: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if len(self.wrapped_key) != WRAPPED_KEY_SIZE:
            raise EnvelopeInvalid(f"a wrapped data key is {WRAPPED_KEY_SIZE} bytes")
        if self.kind is Kind.SSE_C:
            if self.key_id is not None or self.key_version is not None:
                raise EnvelopeInvalid("an SSE-C seal names no master key")
            if self.encryption_context is not None:
                raise EnvelopeInvalid("an SSE-C seal has no encryption context")
            if self.customer_salt is None or len(self.customer_salt) != CUSTOMER_SALT_SIZE:
                raise EnvelopeInvalid(f"an SSE-C seal has a {CUSTOMER_SALT_SIZE}-byte salt")
            if (
                self.customer_verifier is None
                or len(self.customer_verifier) != CUSTOMER_VERIFIER_SIZE
            ):
                raise EnvelopeInvalid(f"an SSE-C seal has a {CUSTOMER_VERIFIER_SIZE}-byte verifier")
            return
        if self.key_id is None or not KEY_ID.fullmatch(self.key_id):
            raise EnvelopeInvalid(f"a {self.kind.value} seal names a valid master key id")
        if self.key_version is None or self.key_version < 1:
            raise EnvelopeInvalid(f"a {self.kind.value} seal names a master key version")
        if self.customer_salt is not None or self.customer_verifier is not None:
            raise EnvelopeInvalid(f"a {self.kind.value} seal has no SSE-C salt or verifier")
        if self.kind is Kind.SSE_S3 and self.encryption_context is not None:
            raise EnvelopeInvalid("an SSE-S3 seal has no encryption context")

    @property
    def wrapped(self) -> WrappedKey:
        """The wrapped key as the key store takes it (SSE-S3, SSE-KMS)."""
        if self.key_id is None or self.key_version is None:
            raise EnvelopeInvalid("an SSE-C seal is not wrapped by the key store")
        return WrappedKey(self.key_id, self.key_version, self.wrapped_key)

    @property
    def customer_seal(self) -> CustomerSeal:
        if self.customer_salt is None or self.customer_verifier is None:
            raise EnvelopeInvalid(f"a {self.kind.value} seal has no SSE-C verifier")
        return CustomerSeal(self.customer_salt, self.customer_verifier, self.wrapped_key)

    def bound_context(self, context: KeyContext) -> KeyContext:
        """``context`` (bucket, key, version id) with this seal's encryption context."""
        return dataclasses.replace(context, encryption_context=dict(self.encryption_context or {}))

    def to_meta(self) -> dict[str, str]:
        meta = {FORMAT: FORMAT_VERSION, KIND: self.kind.value, WRAPPED: _b64(self.wrapped_key)}
        if self.key_id is not None and self.key_version is not None:
            meta[KEY_ID_META] = self.key_id
            meta[KEY_VERSION] = str(self.key_version)
        if self.customer_salt is not None and self.customer_verifier is not None:
            meta[CUSTOMER_SALT] = _b64(self.customer_salt)
            meta[CUSTOMER_VERIFIER] = _b64(self.customer_verifier)
        if self.encryption_context is not None:
            meta[CONTEXT] = _context_to_text(self.encryption_context)
        return meta

    @classmethod
    def from_meta(cls, meta: Mapping[str, str]) -> KeySeal | None:
        """The seal in ``meta``, None when ``meta`` holds none; ``EnvelopeInvalid`` when one is
        there but incomplete, malformed or of an unknown format."""
        fields = {name for name in meta if name.startswith(META_PREFIX)} - STREAM_FIELDS
        if not fields:
            return None
        unknown = fields - SEAL_FIELDS
        if unknown:
            raise EnvelopeInvalid(f"unknown encryption metadata {', '.join(sorted(unknown))}")
        if meta.get(FORMAT) != FORMAT_VERSION:
            raise EnvelopeInvalid(f"encryption metadata format {meta.get(FORMAT)!r} is not 1")
        try:
            kind = Kind(meta.get(KIND, ""))
        except ValueError:
            raise EnvelopeInvalid(f"unknown encryption kind {meta.get(KIND)!r}") from None
        present = fields & {KEY_ID_META, KEY_VERSION, CUSTOMER_SALT, CUSTOMER_VERIFIER, CONTEXT}
        expected = {
            Kind.SSE_C: {CUSTOMER_SALT, CUSTOMER_VERIFIER},
            Kind.SSE_S3: {KEY_ID_META, KEY_VERSION},
            Kind.SSE_KMS: {KEY_ID_META, KEY_VERSION, CONTEXT},
        }[kind]
        if present - expected:
            raise EnvelopeInvalid(
                f"{kind.value} encryption metadata has {', '.join(sorted(present - expected))}"
            )
        context = None
        if CONTEXT in meta:
            context = _context_from_text(meta[CONTEXT])
            if context is None or _context_to_text(context) != meta[CONTEXT]:
                raise EnvelopeInvalid(f"encryption metadata {CONTEXT} is not a canonical context")
        wrapped = _unb64(meta, WRAPPED, WRAPPED_KEY_SIZE)
        if kind is Kind.SSE_C:
            return cls(
                kind,
                wrapped,
                customer_salt=_unb64(meta, CUSTOMER_SALT, CUSTOMER_SALT_SIZE),
                customer_verifier=_unb64(meta, CUSTOMER_VERIFIER, CUSTOMER_VERIFIER_SIZE),
            )
        key_id = meta.get(KEY_ID_META)
        if key_id is None:
            raise EnvelopeInvalid(f"encryption metadata lacks {KEY_ID_META}")
        return cls(
            kind,
            wrapped,
            key_id=key_id,
            key_version=_decimal(meta, KEY_VERSION),
            encryption_context=context,
        )


@dataclass(frozen=True, slots=True)
class StreamParams:
    """How one encrypted blob's bytes are laid out (``segments.py``)."""

    nonce_prefix: bytes
    segment_size: int
    plain_size: int

    def __post_init__(self) -> None:
        if len(self.nonce_prefix) != segments.NONCE_PREFIX_SIZE:
            raise EnvelopeInvalid(f"a nonce prefix is {segments.NONCE_PREFIX_SIZE} bytes")
        if not segments.MIN_SEGMENT_SIZE <= self.segment_size <= segments.MAX_SEGMENT_SIZE:
            raise EnvelopeInvalid(f"segment size {self.segment_size} is out of bounds")
        if not 0 <= self.plain_size <= segments.MAX_SEGMENTS * self.segment_size:
            raise EnvelopeInvalid(f"plaintext size {self.plain_size} is out of bounds")

    @classmethod
    def of(cls, encryptor: segments.SegmentEncryptor) -> StreamParams:
        """The parameters of the stream ``encryptor`` sealed (once it has ended)."""
        if not encryptor.finished:
            raise RuntimeError("the stream has not ended yet")
        return cls(encryptor.nonce_prefix, encryptor.segment_size, encryptor.plain_size)

    @property
    def cipher_size(self) -> int:
        return segments.ciphertext_size(self.plain_size, self.segment_size)

    def map_range(self, start: int, end: int) -> segments.CipherRange:
        """The ciphertext covering plaintext ``start..end`` inclusive (``segments.map_range``)."""
        return segments.map_range(start, end, self.plain_size, self.segment_size)

    def full_range(self) -> segments.CipherRange:
        return segments.full_range(self.plain_size, self.segment_size)

    def to_meta(self) -> dict[str, str]:
        return {
            NONCE_PREFIX: _b64(self.nonce_prefix),
            SEGMENT_SIZE: str(self.segment_size),
            PLAIN_SIZE: str(self.plain_size),
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, str], stored_size: int | None = None) -> StreamParams:
        """The stream parameters in ``meta``; ``EnvelopeInvalid`` when one is missing or
        malformed, or when ``stored_size`` (the blob's size) is not their ciphertext size."""
        params = cls(
            _unb64(meta, NONCE_PREFIX, segments.NONCE_PREFIX_SIZE),
            _decimal(meta, SEGMENT_SIZE),
            _decimal(meta, PLAIN_SIZE),
        )
        if stored_size is not None and stored_size != params.cipher_size:
            raise EnvelopeInvalid(
                f"the blob is {stored_size} bytes, its encryption metadata says"
                f" {params.cipher_size} ({params.plain_size} plaintext bytes)"
            )
        return params


@dataclass(frozen=True, slots=True)
class Envelope:
    """The whole envelope of a single-blob encrypted object."""

    seal: KeySeal
    stream: StreamParams

    def to_meta(self) -> dict[str, str]:
        return {**self.seal.to_meta(), **self.stream.to_meta()}

    @classmethod
    def from_meta(cls, meta: Mapping[str, str], stored_size: int | None = None) -> Envelope | None:
        """The envelope in ``meta`` (None for an object stored unencrypted);
        ``EnvelopeInvalid`` for any fault, ``stored_size`` checked as ``StreamParams`` does."""
        seal = KeySeal.from_meta(meta)
        if seal is None:
            if any(name in meta for name in STREAM_FIELDS):
                raise EnvelopeInvalid("encryption stream metadata without a key seal")
            return None
        return cls(seal, StreamParams.from_meta(meta, stored_size))


def is_encrypted(meta: Mapping[str, str]) -> bool:
    """Whether ``meta`` holds any encryption metadata (well-formed or not)."""
    return any(name.startswith(META_PREFIX) for name in meta)


# --- what a write asks for --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SseRequest:
    """The encryption a write asks for (its headers, or the bucket's default encryption)."""

    kind: Kind
    kms_key_id: str | None = None  # as the request named it; resolved by the key store
    encryption_context: Mapping[str, str] | None = None
    customer: CustomerKey | None = None
    bucket_key_enabled: bool | None = None  # validated, not supported: never echoed

    @classmethod
    def sse_s3(cls) -> SseRequest:
        return cls(Kind.SSE_S3)

    @classmethod
    def sse_kms(cls, key_id: str | None = None) -> SseRequest:
        return cls(Kind.SSE_KMS, kms_key_id=key_id)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for candidate, found in headers.items():
        if candidate.lower() == lowered:
            return found
    return None


def parse_sse_request(headers: Mapping[str, str]) -> SseRequest | None:
    """The encryption the headers of a write (PutObject, CopyObject's destination,
    CreateMultipartUpload) ask for; None when they ask for none. Raises the
    ``EncryptionHeaderError`` of the first fault, and the SSE-C errors of
    ``keys.parse_customer_key``. The KMS key id is resolved later, by the key store."""
    customer = parse_customer_key(headers)
    method = _header(headers, SSE)
    kms_key_id = _header(headers, SSE_KMS_KEY_ID)
    context_text = _header(headers, SSE_CONTEXT)
    bucket_key = _header(headers, SSE_BUCKET_KEY)
    bucket_key_enabled = None
    if bucket_key is not None:
        if bucket_key.strip().lower() not in ("true", "false"):
            raise BucketKeyEnabledInvalid(SSE_BUCKET_KEY, value=bucket_key)
        bucket_key_enabled = bucket_key.strip().lower() == "true"
    if customer is not None and method is not None:
        raise EncryptionMethodsConflict(SSE, value=method)
    if method != "aws:kms":
        for name, value in ((SSE_KMS_KEY_ID, kms_key_id), (SSE_CONTEXT, context_text)):
            if value is not None:
                raise KmsKeyIdWithoutKms(name)
    if customer is not None:
        return SseRequest(Kind.SSE_C, customer=customer, bucket_key_enabled=bucket_key_enabled)
    if method is None:
        return None
    if method == "AES256":
        return SseRequest(Kind.SSE_S3, bucket_key_enabled=bucket_key_enabled)
    if method != "aws:kms":
        raise EncryptionMethodUnsupported(SSE, value=method)
    context = None
    if context_text is not None:
        context = _context_from_text(context_text)
        if context is None:
            raise EncryptionContextInvalid(SSE_CONTEXT)
    return SseRequest(
        Kind.SSE_KMS,
        kms_key_id=(kms_key_id or "").strip() or None,
        encryption_context=context,
        bucket_key_enabled=bucket_key_enabled,
    )


# --- keeping and opening data keys ------------------------------------------------------------


def _store(keystore: KeyStore | None) -> KeyStore:
    if keystore is None:
        raise EncryptionNotConfigured()
    return keystore


def seal_data_key(
    request: SseRequest, data_key: bytes, context: KeyContext, keystore: KeyStore | None
) -> KeySeal:
    """Keep ``data_key`` as ``request`` asks, bound to ``context`` (bucket, key, version id;
    the request's encryption context is added here). ``KmsKeyNotFound`` for a KMS key id the
    store lacks, ``EncryptionNotConfigured`` for SSE-S3/SSE-KMS without a key store."""
    if request.kind is Kind.SSE_C:
        if request.customer is None:
            raise ValueError("an SSE-C request carries its customer key")
        sealed = seal_for_customer(
            request.customer, data_key, dataclasses.replace(context, encryption_context={})
        )
        return KeySeal(
            Kind.SSE_C,
            sealed.wrapped_key,
            customer_salt=sealed.salt,
            customer_verifier=sealed.verifier,
        )
    store = _store(keystore)
    if request.kind is Kind.SSE_S3:
        key_id, encryption_context = store.default_key_id, None
    else:
        key_id = store.resolve_kms_key_id(request.kms_key_id)
        encryption_context = request.encryption_context
    bound = dataclasses.replace(context, encryption_context=dict(encryption_context or {}))
    wrapped = store.wrap(data_key, bound, key_id)
    return KeySeal(
        request.kind,
        wrapped.wrapped,
        key_id=wrapped.key_id,
        key_version=wrapped.version,
        encryption_context=None if encryption_context is None else dict(encryption_context),
    )


def seal_new_key(
    request: SseRequest, context: KeyContext, keystore: KeyStore | None
) -> tuple[KeySeal, bytes]:
    """A new data key for a new object (or multipart upload), and its seal."""
    data_key = new_data_key()
    return seal_data_key(request, data_key, context, keystore), data_key


def open_data_key(
    seal: KeySeal,
    context: KeyContext,
    keystore: KeyStore | None,
    customer: CustomerKey | None = None,
) -> bytes:
    """The data key of an encrypted object being read (GetObject, HeadObject, a copy's
    source), ``customer`` the SSE-C key of the request if it sent one.

    SSE-C: ``CustomerKeyRequired`` without a key, ``CustomerKeyMismatch`` with another key.
    Other kinds: ``CustomerKeyNotApplicable`` with an SSE-C key; ``KeyUnavailable`` when the
    master key version is gone (or no key store is configured). ``WrappedKeyInvalid`` when the
    wrapped key does not open for this object (metadata altered or moved).
    """
    if seal.kind is Kind.SSE_C:
        if customer is None:
            raise CustomerKeyRequired()
        return open_for_customer(customer, seal.customer_seal, seal.bound_context(context))
    if customer is not None:
        raise CustomerKeyNotApplicable()
    if keystore is None:
        raise KeyUnavailable(seal.key_id or "?", seal.key_version)
    return keystore.unwrap(seal.wrapped, seal.bound_context(context))


def reseal_data_key(
    seal: KeySeal,
    source: KeyContext,
    destination: KeyContext,
    request: SseRequest,
    *,
    keystore: KeyStore | None,
    source_customer: CustomerKey | None = None,
) -> KeySeal:
    """CopyObject keeping the ciphertext: the source's data key kept as ``request`` (the
    destination's encryption) asks, for ``destination``. The blob's bytes and its
    ``StreamParams`` are copied unchanged. (A copy to an unencrypted destination, or
    UploadPartCopy of a range, decrypts and re-encrypts instead.)"""
    data_key = open_data_key(seal, source, keystore, source_customer)
    return seal_data_key(request, data_key, destination, keystore)


def rotate_seal(seal: KeySeal, context: KeyContext, keystore: KeyStore) -> KeySeal | None:
    """The seal re-wrapped under the newest version of its master key, or None when it is
    already (or is SSE-C: a client rotates its key by copying the object onto itself)."""
    if seal.kind is Kind.SSE_C or not keystore.needs_rewrap(seal.wrapped):
        return None
    bound = seal.bound_context(context)
    wrapped = keystore.rewrap(seal.wrapped, bound)
    return dataclasses.replace(seal, wrapped_key=wrapped.wrapped, key_version=wrapped.version)


# --- what AWS answers -------------------------------------------------------------------------


def response_headers(
    seal: KeySeal, customer: CustomerKey | None = None, *, include_context: bool = False
) -> dict[str, str]:
    """The SSE headers of a response about an object with this seal: PutObject, CopyObject,
    multipart calls, GetObject, HeadObject. SSE-C echoes the request's key MD5 (``customer``:
    the key the request sent; the object stores no MD5 of it). ``include_context``: add the
    SSE-KMS encryption context, as AWS does on PutObject, CopyObject and
    CreateMultipartUpload. Bucket keys are not supported: their header is never sent."""
    if seal.kind is Kind.SSE_C:
        headers = {SSE_C_ALGORITHM: "AES256"}
        if customer is not None:
            headers[SSE_C_KEY_MD5] = customer.key_md5
        return headers
    headers = {SSE: seal.kind.header_value or ""}
    if seal.kind is Kind.SSE_KMS:
        headers[SSE_KMS_KEY_ID] = seal.key_id or ""
        if include_context and seal.encryption_context is not None:
            headers[SSE_CONTEXT] = _context_to_text(seal.encryption_context)
    return headers


def etag_for(kind: Kind | None, *, plain_md5: str, cipher_md5: str) -> str:
    """The ETag (hex, unquoted) of a single-part object or of one part: the plaintext's MD5
    unencrypted or SSE-S3, the ciphertext's MD5 for SSE-C and SSE-KMS (module docstring)."""
    if kind is None or kind is Kind.SSE_S3:
        return plain_md5
    return cipher_md5
