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
from nimbus_storage.storage_errors import StorageError, StorageUnavailable

__all__ = ["TRANSLATIONS", "to_s3"]

log = logging.getLogger("nimbus.gateway")


def _bucket_exists(error: meta.BucketExists) -> S3Error:
    if error.owned_by_caller:
        return s3.BucketAlreadyOwnedByYou(BucketName=error.bucket)
    return s3.BucketAlreadyExists(BucketName=error.bucket)


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
}


def to_s3(error: StorageError) -> S3Error:
    """The S3 error answering ``error``: its class's entry in the table, else InternalError."""
    translate = TRANSLATIONS.get(type(error))
    if translate is None:
        log.error("no S3 error for storage error %s: %s", type(error).__name__, error.message)
        return s3.InternalError()
    return translate(error)
