"""Where storage errors become S3 errors: the one table from each ``StorageError`` to its answer.

Storage raises errors named for what happened (``nimbus_storage/storage_errors.py``); the
gateway answers S3 clients, and the admin API, with AWS's codes. ``to_s3`` is applied where
storage calls return to the gateway: the request dispatch (``app.py``), the admin API, and the
few handlers that answer a storage error their own way. An error missing from the table is a
bug: it is logged and answered as InternalError, never a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from nimbus_storage import s3errors as s3
from nimbus_storage.blobs import errors as blobs
from nimbus_storage.meta import errors as meta
from nimbus_storage.s3errors import S3Error
from nimbus_storage.sse import errors as sse
from nimbus_storage.storage_errors import StorageError, StorageUnavailable

__all__ = ["TRANSLATIONS", "to_s3"]

log = logging.getLogger("nimbus.gateway")


def _bucket_exists(error: meta.BucketExists) -> S3Error:
    if error.owned_by_caller:
        return s3.BucketAlreadyOwnedByYou(BucketName=error.bucket)
    return s3.BucketAlreadyExists(BucketName=error.bucket)


def _sse_argument(error: sse.EncryptionHeaderError) -> S3Error:
    """An SSE header at fault: AWS names it (and its value, unless it is a key)."""
    extra = {"ArgumentName": error.header}
    if error.value is not None:
        extra["ArgumentValue"] = error.value
    return s3.InvalidArgument(error.message, **extra)


def _sse_algorithm(error: sse.CustomerAlgorithmUnsupported) -> S3Error:
    return s3.InvalidEncryptionAlgorithmError(
        error.message, ArgumentName=error.header, ArgumentValue=error.value or ""
    )


def _sse_server_fault(error: sse.EncryptionError) -> S3Error:
    """Encryption metadata, keys or ciphertext that do not open: never the client's fault."""
    log.error("server-side encryption: %s: %s", type(error).__name__, error.message)
    return s3.InternalError()


# Each storage error class -> the S3 error answering it. The S3 message is the storage error's
# own where it helps the client (what was short, how many nodes answered), else AWS's default.
TRANSLATIONS: dict[type[StorageError], Callable[[Any], S3Error]] = {
    StorageUnavailable: lambda e: s3.ServiceUnavailable(e.message),
    blobs.BodySizeMismatch: lambda e: s3.IncompleteBody(e.message),
    blobs.BodySizeUnknown: lambda e: s3.IncompleteBody(e.message),
    blobs.NotEnoughStorage: lambda e: s3.InsufficientStorage(e.message),
    blobs.CopiesDiffer: lambda e: s3.InternalError(e.message),
    blobs.SegmentUndecodable: lambda e: s3.ServiceUnavailable(e.message),
    meta.NoBucket: lambda e: s3.NoSuchBucket(BucketName=e.bucket),
    meta.BucketExists: _bucket_exists,
    meta.BucketNotEmpty: lambda e: s3.BucketNotEmpty(BucketName=e.bucket),
    meta.BadBucketName: lambda e: s3.InvalidBucketName(BucketName=e.bucket),
    meta.NoUpload: lambda e: s3.NoSuchUpload(UploadId=e.upload_id),
    meta.BadVersioningState: lambda _e: s3.IllegalVersioningConfiguration(),
    meta.CredentialExists: lambda e: s3.EntityAlreadyExists(e.message),
    meta.BadGrant: lambda e: s3.InvalidArgument(e.message),
    # Server-side encryption (docs/encryption.md): the request's SSE headers ...
    sse.EncryptionHeaderError: _sse_argument,
    sse.CustomerAlgorithmMissing: _sse_argument,
    sse.CustomerAlgorithmUnsupported: _sse_algorithm,
    sse.CustomerKeyMissing: _sse_argument,
    sse.CustomerKeyInvalid: _sse_argument,
    sse.CustomerKeyMD5Missing: _sse_argument,
    sse.CustomerKeyMD5Mismatch: _sse_argument,
    sse.EncryptionMethodUnsupported: _sse_argument,
    sse.EncryptionMethodsConflict: _sse_argument,
    sse.KmsKeyIdWithoutKms: _sse_argument,
    sse.EncryptionContextInvalid: _sse_argument,
    sse.BucketKeyEnabledInvalid: _sse_argument,
    sse.KmsKeyNotFound: lambda e: s3.KMSNotFoundException(e.message),
    sse.EncryptionNotConfigured: lambda e: s3.NotImplementedError_(
        e.message, Header="x-amz-server-side-encryption"
    ),
    # ... the key a read of an encrypted object brings ...
    sse.CustomerKeyRequired: lambda e: s3.InvalidRequest(e.message),
    sse.CustomerKeyNotApplicable: lambda e: s3.InvalidRequest(e.message),
    sse.CustomerKeyMismatch: lambda e: s3.AccessDenied(e.message),
    # ... and the server's own faults.
    sse.EncryptionError: _sse_server_fault,
    sse.EnvelopeInvalid: _sse_server_fault,
    sse.WrappedKeyInvalid: _sse_server_fault,
    sse.KeyUnavailable: _sse_server_fault,
    sse.CiphertextCorrupt: _sse_server_fault,
    sse.CiphertextSizeInvalid: _sse_server_fault,
    sse.KeyStoreInvalid: _sse_server_fault,
}


def to_s3(error: StorageError) -> S3Error:
    """The S3 error answering ``error``: its class's entry in the table, else InternalError."""
    translate = TRANSLATIONS.get(type(error))
    if translate is None:
        log.error("no S3 error for storage error %s: %s", type(error).__name__, error.message)
        return s3.InternalError()
    return translate(error)
