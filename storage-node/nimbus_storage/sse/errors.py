"""Every error of server-side encryption, each named for what happened.

They are ``StorageError``s, so the gateway turns them into S3 errors in its one table
(``gateway/storage_errors.py``), by exact class. Each docstring names the AWS error the class
stands for; the messages of the request errors are AWS's own words, so ``e.message`` can be
answered as is. No message ever holds key material (a customer key, a data key, a master key).

Request errors (400), raised while reading a request's SSE headers:

=============================== ===============================================================
class                           AWS error
=============================== ===============================================================
CustomerAlgorithmMissing        400 InvalidArgument
CustomerAlgorithmUnsupported    400 InvalidEncryptionAlgorithmError
CustomerKeyMissing              400 InvalidArgument
CustomerKeyInvalid              400 InvalidArgument
CustomerKeyMD5Missing           400 InvalidArgument
CustomerKeyMD5Mismatch          400 InvalidArgument
EncryptionMethodUnsupported     400 InvalidArgument
EncryptionMethodsConflict       400 InvalidArgument
KmsKeyIdWithoutKms              400 InvalidArgument
EncryptionContextInvalid        400 InvalidArgument
BucketKeyEnabledInvalid         400 InvalidArgument
KmsKeyNotFound                  400 KMS.NotFoundException
EncryptionNotConfigured         501 NotImplemented
=============================== ===============================================================

Read errors, raised when an encrypted object is opened:

=============================== ===============================================================
CustomerKeyRequired             400 InvalidRequest
CustomerKeyNotApplicable        400 InvalidRequest
CustomerKeyMismatch             403 AccessDenied
=============================== ===============================================================

Server errors (500 InternalError; logged, never the client's fault): ``EnvelopeInvalid``,
``WrappedKeyInvalid``, ``KeyUnavailable``, ``CiphertextCorrupt``, ``CiphertextSizeInvalid``.
A ``CiphertextCorrupt`` met after the response headers were sent cannot become an error
document: the gateway must abort the connection so the client sees a short body.
``KeyStoreInvalid`` is a configuration error, raised when a key file is loaded (at start-up,
or kept aside on a reload).
"""

from __future__ import annotations

from nimbus_storage.storage_errors import StorageError

__all__ = [
    "BucketKeyEnabledInvalid",
    "CiphertextCorrupt",
    "CiphertextSizeInvalid",
    "CustomerAlgorithmMissing",
    "CustomerAlgorithmUnsupported",
    "CustomerKeyInvalid",
    "CustomerKeyMD5Mismatch",
    "CustomerKeyMD5Missing",
    "CustomerKeyMismatch",
    "CustomerKeyMissing",
    "CustomerKeyNotApplicable",
    "CustomerKeyRequired",
    "EncryptionContextInvalid",
    "EncryptionError",
    "EncryptionHeaderError",
    "EncryptionMethodUnsupported",
    "EncryptionMethodsConflict",
    "EncryptionNotConfigured",
    "EnvelopeInvalid",
    "KeyStoreInvalid",
    "KeyUnavailable",
    "KmsKeyIdWithoutKms",
    "KmsKeyNotFound",
    "WrappedKeyInvalid",
]


class EncryptionError(StorageError):
    """The base of every server-side encryption error."""


# --- request headers (400) -------------------------------------------------------------------


class EncryptionHeaderError(EncryptionError):
    """An SSE request header is missing, malformed or contradicts another one.

    ``header``: the header at fault, lower case (AWS's ``ArgumentName``); ``value``: its value
    when it is safe to repeat (never a key), else None (AWS's ``ArgumentValue``).
    """

    default_message = "The encryption parameters are not valid."

    def __init__(self, header: str, message: str | None = None, value: str | None = None):
        super().__init__(message or self.default_message)
        self.header = header
        self.value = value


class CustomerAlgorithmMissing(EncryptionHeaderError):
    """An SSE-C key (or its MD5) without ``...-customer-algorithm``: 400 InvalidArgument."""

    default_message = (
        "Requests specifying Server Side Encryption with Customer provided keys must provide"
        " a valid encryption algorithm."
    )


class CustomerAlgorithmUnsupported(EncryptionHeaderError):
    """``...-customer-algorithm`` is not ``AES256``: 400 InvalidEncryptionAlgorithmError."""

    default_message = "The Encryption request you specified is not valid. Supported value: AES256."


class CustomerKeyMissing(EncryptionHeaderError):
    """An SSE-C algorithm without ``...-customer-key``: 400 InvalidArgument."""

    default_message = (
        "Requests specifying Server Side Encryption with Customer provided keys must provide"
        " an appropriate secret key."
    )


class CustomerKeyInvalid(EncryptionHeaderError):
    """``...-customer-key`` is not base64 of exactly 32 bytes: 400 InvalidArgument."""

    default_message = "The secret key was invalid for the specified algorithm."


class CustomerKeyMD5Missing(EncryptionHeaderError):
    """An SSE-C key without ``...-customer-key-MD5``: 400 InvalidArgument."""

    default_message = (
        "Requests specifying Server Side Encryption with Customer provided keys must provide"
        " the client calculated MD5 of the secret key."
    )


class CustomerKeyMD5Mismatch(EncryptionHeaderError):
    """``...-customer-key-MD5`` is not the MD5 of the key sent: 400 InvalidArgument."""

    default_message = "The calculated MD5 hash of the key did not match the hash that was provided."


class EncryptionMethodUnsupported(EncryptionHeaderError):
    """``x-amz-server-side-encryption`` is neither ``AES256`` nor ``aws:kms``:
    400 InvalidArgument."""

    default_message = "The encryption method specified is not supported"


class EncryptionMethodsConflict(EncryptionHeaderError):
    """SSE-C headers together with ``x-amz-server-side-encryption``: 400 InvalidArgument."""

    default_message = (
        "Server Side Encryption with Customer provided key is incompatible with the"
        " encryption method specified"
    )


class KmsKeyIdWithoutKms(EncryptionHeaderError):
    """A KMS key id or encryption context without ``x-amz-server-side-encryption: aws:kms``:
    400 InvalidArgument."""

    default_message = (
        "Server Side Encryption with AWS KMS managed key requires HTTP header"
        " x-amz-server-side-encryption : aws:kms"
    )


class EncryptionContextInvalid(EncryptionHeaderError):
    """``x-amz-server-side-encryption-context`` is not base64 of a JSON object of strings:
    400 InvalidArgument."""

    default_message = "The encryption context must be a base64-encoded JSON object of strings."


class BucketKeyEnabledInvalid(EncryptionHeaderError):
    """``x-amz-server-side-encryption-bucket-key-enabled`` is not ``true`` or ``false``:
    400 InvalidArgument."""

    default_message = "The bucket key enabled value must be true or false."


class KmsKeyNotFound(EncryptionError):
    """The KMS key named by ``x-amz-server-side-encryption-aws-kms-key-id`` is not in the key
    store (or is not a key id at all): 400 KMS.NotFoundException, ``message`` as is."""

    def __init__(self, key_id: str):
        super().__init__(f"Invalid keyId '{key_id}'")
        self.key_id = key_id


class EncryptionNotConfigured(EncryptionError):
    """SSE-S3 or SSE-KMS asked of a gateway that has no key store: 501 NotImplemented."""

    def __init__(self) -> None:
        super().__init__("Server side encryption specified but no key store is configured.")


# --- opening an encrypted object ---------------------------------------------------------------


class CustomerKeyRequired(EncryptionError):
    """An SSE-C object read without the SSE-C headers: 400 InvalidRequest."""

    def __init__(self) -> None:
        super().__init__(
            "The object was stored using a form of Server Side Encryption. The correct"
            " parameters must be provided to retrieve the object."
        )


class CustomerKeyNotApplicable(EncryptionError):
    """SSE-C headers on a read of an object that is not SSE-C: 400 InvalidRequest."""

    def __init__(self) -> None:
        super().__init__("The encryption parameters are not applicable to this object.")


class CustomerKeyMismatch(EncryptionError):
    """The SSE-C key of a read is not the one the object was written with: 403 AccessDenied."""

    def __init__(self) -> None:
        super().__init__(
            "The provided customer key does not match the key the object was encrypted with."
        )


# --- the server's own faults (500) ---------------------------------------------------------


class EnvelopeInvalid(EncryptionError):
    """The encryption metadata stored with an object is missing a field or malformed:
    500 InternalError."""


class WrappedKeyInvalid(EncryptionError):
    """A wrapped data key does not open under its key-encryption key for this object (the
    metadata was altered, or copied from another object): 500 InternalError."""


class KeyUnavailable(EncryptionError):
    """The master key id or version an object was wrapped with is no longer in the key store:
    500 InternalError (put the retired version back in the key file)."""

    def __init__(self, key_id: str, version: int | None = None):
        which = f"'{key_id}'" if version is None else f"'{key_id}' version {version}"
        super().__init__(f"the encryption key {which} is not in the key store")
        self.key_id = key_id
        self.version = version


class CiphertextCorrupt(EncryptionError):
    """A segment of an encrypted blob fails authentication, or the blob is shorter or longer
    than its metadata says: tampering or undetected corruption. 500 InternalError (or an
    aborted connection once the response has started)."""


class CiphertextSizeInvalid(EncryptionError):
    """A size that no encrypted blob of this segment size can have: 500 InternalError."""


class KeyStoreInvalid(EncryptionError):
    """A key file or directory cannot be loaded; ``message`` says which file and why."""
