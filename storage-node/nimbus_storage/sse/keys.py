"""Data keys, how they are wrapped, and the SSE-C customer key.

Every encrypted object has its own random 256-bit *data key* (``new_data_key``), which seals
its segments (``segments.py``). The data key is stored only *wrapped* by a key-encryption key
(KEK): a master key of the key store for SSE-S3 and SSE-KMS (``keystore.py``), or a key derived
from the client's key for SSE-C. Wrapping binds the object (``KeyContext``: bucket, key, and
a version id or KMS encryption context when the gateway has them) as associated data: a
wrapped key copied into another object's metadata does not open there. So a CopyObject, even
one that copies the ciphertext byte for byte, re-wraps the data key for its destination.

Wrapped key format (version 1, 77 bytes)::

    0x01 || salt (16) || nonce (12) || AES-256-GCM(wrap_key, nonce, data_key, ad)  # 32 + 16 tag
    wrap_key = HKDF-SHA256(kek, salt, info=b"nimbus-sse/1 wrap")

A fresh wrapping key per wrap keeps a master key far from GCM's limit on random nonces
(2^32 messages per key), however many objects it wraps.

SSE-C: the client's key is never stored. Each object draws a random salt; from the client's key
and that salt come the KEK (HKDF-SHA256) and a *verifier* (HMAC-SHA256), which is stored with
the salt to tell a wrong key (403) apart from damaged metadata (500) before any data is read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from nimbus_storage.sse.errors import (
    CustomerAlgorithmMissing,
    CustomerAlgorithmUnsupported,
    CustomerKeyInvalid,
    CustomerKeyMD5Mismatch,
    CustomerKeyMD5Missing,
    CustomerKeyMismatch,
    CustomerKeyMissing,
    WrappedKeyInvalid,
)

__all__ = [
    "CUSTOMER_ALGORITHM",
    "DATA_KEY_SIZE",
    "WRAPPED_KEY_SIZE",
    "CustomerKey",
    "CustomerSeal",
    "KeyContext",
    "customer_key_from_bytes",
    "new_data_key",
    "open_for_customer",
    "parse_customer_key",
    "requests_customer_key",
    "seal_for_customer",
    "unwrap_data_key",
    "verify_customer_key",
    "wrap_data_key",
]

DATA_KEY_SIZE = 32
CUSTOMER_ALGORITHM = "AES256"
SSE_C_PREFIX = "x-amz-server-side-encryption-customer-"
COPY_SOURCE_SSE_C_PREFIX = "x-amz-copy-source-server-side-encryption-customer-"

_WRAP_FORMAT = 1
_SALT_SIZE = 16
_NONCE_SIZE = 12
WRAPPED_KEY_SIZE = 1 + _SALT_SIZE + _NONCE_SIZE + DATA_KEY_SIZE + 16
CUSTOMER_SALT_SIZE = 16
CUSTOMER_VERIFIER_SIZE = 32

_WRAP_INFO = b"nimbus-sse/1 wrap"
_CONTEXT_LABEL = b"nimbus-sse/1 data key"
_CUSTOMER_KEK_INFO = b"nimbus-sse/1 sse-c kek"
_CUSTOMER_VERIFIER_LABEL = b"nimbus-sse/1 sse-c verifier"


def new_data_key() -> bytes:
    """A fresh random 256-bit data key, for one object (or one multipart upload)."""
    return os.urandom(DATA_KEY_SIZE)


def _field(value: str) -> bytes:
    raw = value.encode("utf-8", "surrogatepass")
    return struct.pack(">I", len(raw)) + raw


@dataclass(frozen=True, slots=True)
class KeyContext:
    """What a wrapped data key is bound to: the object it belongs to.

    Everything here must be known, identically, when the object is written and whenever it is
    read: bucket and object key always; ``version_id`` only if the gateway fixes it before the
    envelope is written (else leave it None); ``encryption_context``: the SSE-KMS encryption
    context the client gave (``x-amz-server-side-encryption-context``), stored in the envelope.
    """

    bucket: str
    key: str
    version_id: str | None = None
    encryption_context: Mapping[str, str] = field(default_factory=dict)

    def associated_data(self) -> bytes:
        """The canonical, unambiguous bytes bound to the wrapped key: length-prefixed fields,
        the encryption context sorted by name."""
        parts = [_CONTEXT_LABEL, _field(self.bucket), _field(self.key)]
        parts.append(b"\x00" if self.version_id is None else b"\x01" + _field(self.version_id))
        parts.append(struct.pack(">I", len(self.encryption_context)))
        for name in sorted(self.encryption_context):
            parts += [_field(name), _field(self.encryption_context[name])]
        return b"".join(parts)


def _hkdf(secret: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(secret)


def wrap_data_key(kek: bytes, data_key: bytes, context: KeyContext) -> bytes:
    """``data_key`` wrapped by the 256-bit ``kek`` and bound to ``context``."""
    if len(kek) != 32 or len(data_key) != DATA_KEY_SIZE:
        raise ValueError("a key-encryption key and a data key are 32 bytes each")
    salt, nonce = os.urandom(_SALT_SIZE), os.urandom(_NONCE_SIZE)
    aead = AESGCM(_hkdf(kek, salt, _WRAP_INFO))
    sealed = aead.encrypt(nonce, data_key, context.associated_data())
    return bytes([_WRAP_FORMAT]) + salt + nonce + sealed


def unwrap_data_key(kek: bytes, wrapped: bytes, context: KeyContext) -> bytes:
    """The data key ``wrapped`` holds; ``WrappedKeyInvalid`` when it does not open under
    ``kek`` for ``context`` (another object's key, another KEK, altered bytes)."""
    if len(kek) != 32:
        raise ValueError("a key-encryption key is 32 bytes")
    if len(wrapped) != WRAPPED_KEY_SIZE or wrapped[0] != _WRAP_FORMAT:
        raise WrappedKeyInvalid(
            f"a wrapped data key is {WRAPPED_KEY_SIZE} bytes of format {_WRAP_FORMAT}"
        )
    salt = wrapped[1 : 1 + _SALT_SIZE]
    nonce = wrapped[1 + _SALT_SIZE : 1 + _SALT_SIZE + _NONCE_SIZE]
    sealed = wrapped[1 + _SALT_SIZE + _NONCE_SIZE :]
    aead = AESGCM(_hkdf(kek, salt, _WRAP_INFO))
    try:
        return aead.decrypt(nonce, sealed, context.associated_data())
    except InvalidTag:
        raise WrappedKeyInvalid(
            "the wrapped data key does not open for this object under its key"
        ) from None


# --- SSE-C ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerKey:
    """An SSE-C key from a request, checked: 32 bytes, and the base64 MD5 the client sent
    (echoed in responses as ``x-amz-server-side-encryption-customer-key-MD5``)."""

    key: bytes = field(repr=False)
    key_md5: str

    def __repr__(self) -> str:
        return f"CustomerKey(key_md5={self.key_md5!r})"


def customer_key_from_bytes(key: bytes) -> CustomerKey:
    """A ``CustomerKey`` for raw key bytes (what a client computes before sending headers)."""
    if len(key) != 32:
        raise ValueError("an SSE-C key is 32 bytes")
    return CustomerKey(
        key, base64.b64encode(hashlib.md5(key, usedforsecurity=False).digest()).decode()
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for candidate, found in headers.items():  # a plain dict: match the name case-insensitively
        if candidate.lower() == name:
            return found
    return None


def requests_customer_key(headers: Mapping[str, str]) -> bool:
    """Whether a request brings an SSE-C key: any ``x-amz-server-side-encryption-customer-*``
    or ``x-amz-copy-source-server-side-encryption-customer-*`` header (or form field), whole
    or not, names matched without regard to case (as MinIO's ``SSEC.IsRequested`` and
    ``SSECopy.IsRequested``)."""
    prefixes = (SSE_C_PREFIX, COPY_SOURCE_SSE_C_PREFIX)
    return any(name.lower().startswith(prefixes) for name in headers)


def parse_customer_key(
    headers: Mapping[str, str], *, copy_source: bool = False
) -> CustomerKey | None:
    """The SSE-C key of a request, or None when it sends none of the three SSE-C headers.

    ``copy_source``: read the ``x-amz-copy-source-server-side-encryption-customer-*`` headers
    (the key of a CopyObject's or UploadPartCopy's source) instead. ``headers`` may be any
    mapping; names are matched without regard to case. Raises, in this order of checks,
    ``CustomerAlgorithmMissing``, ``CustomerAlgorithmUnsupported``, ``CustomerKeyMissing``,
    ``CustomerKeyInvalid``, ``CustomerKeyMD5Missing``, ``CustomerKeyMD5Mismatch``.
    """
    prefix = COPY_SOURCE_SSE_C_PREFIX if copy_source else SSE_C_PREFIX
    names = (f"{prefix}algorithm", f"{prefix}key", f"{prefix}key-md5")
    algorithm, key_b64, md5_b64 = (_header(headers, name) for name in names)
    if algorithm is None and key_b64 is None and md5_b64 is None:
        return None
    if not algorithm:
        raise CustomerAlgorithmMissing(names[0])
    if algorithm != CUSTOMER_ALGORITHM:
        raise CustomerAlgorithmUnsupported(names[0], value=algorithm)
    if not key_b64:
        raise CustomerKeyMissing(names[1])
    try:
        key = base64.b64decode(key_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CustomerKeyInvalid(names[1]) from None
    if len(key) != 32:
        raise CustomerKeyInvalid(names[1])
    if not md5_b64:
        raise CustomerKeyMD5Missing(names[2])
    expected = hashlib.md5(key, usedforsecurity=False).digest()
    try:
        given = base64.b64decode(md5_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        given = b""
    if not hmac.compare_digest(given, expected):
        raise CustomerKeyMD5Mismatch(names[2])
    return CustomerKey(key, base64.b64encode(expected).decode())


@dataclass(frozen=True, slots=True)
class CustomerSeal:
    """What SSE-C stores of a data key: the salt, the key's verifier, the wrapped data key."""

    salt: bytes
    verifier: bytes
    wrapped_key: bytes


def _customer_verifier(customer: CustomerKey, salt: bytes) -> bytes:
    return hmac.new(customer.key, _CUSTOMER_VERIFIER_LABEL + salt, hashlib.sha256).digest()


def _customer_kek(customer: CustomerKey, salt: bytes) -> bytes:
    return _hkdf(customer.key, salt, _CUSTOMER_KEK_INFO)


def seal_for_customer(
    customer: CustomerKey, data_key: bytes, context: KeyContext, *, salt: bytes | None = None
) -> CustomerSeal:
    """Wrap ``data_key`` under a KEK derived from the client's key (new random salt unless
    given); the client's key itself is in none of the result."""
    salt = os.urandom(CUSTOMER_SALT_SIZE) if salt is None else salt
    if len(salt) != CUSTOMER_SALT_SIZE:
        raise ValueError(f"an SSE-C salt is {CUSTOMER_SALT_SIZE} bytes")
    return CustomerSeal(
        salt=salt,
        verifier=_customer_verifier(customer, salt),
        wrapped_key=wrap_data_key(_customer_kek(customer, salt), data_key, context),
    )


def verify_customer_key(customer: CustomerKey, seal: CustomerSeal) -> bool:
    """Whether ``customer`` is the key ``seal`` was made with (constant time)."""
    return hmac.compare_digest(_customer_verifier(customer, seal.salt), seal.verifier)


def open_for_customer(customer: CustomerKey, seal: CustomerSeal, context: KeyContext) -> bytes:
    """The data key of an SSE-C object: ``CustomerKeyMismatch`` (403) for another key than the
    one it was written with; ``WrappedKeyInvalid`` (500) when the key is right but the wrapped
    key does not open (altered metadata, or metadata of another object)."""
    if not verify_customer_key(customer, seal):
        raise CustomerKeyMismatch()
    return unwrap_data_key(_customer_kek(customer, seal.salt), seal.wrapped_key, context)
