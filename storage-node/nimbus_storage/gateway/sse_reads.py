"""Server-side encryption of the reads: the key a request brings to open an encrypted object.

* a read (GetObject, HeadObject, a copy's source) opens its object's data key with the SSE-C
  key it brings, or the key store: ``unlock``, ``unlock_source``;
* an UploadPart (or UploadPartCopy) seals its part under its upload's data key, opened with the
  part's SSE-C key (it must be the upload's) or the key store: ``upload_encryption``.

A missing SSE-C key is 400 InvalidRequest, another key 403 AccessDenied, an SSE-C key for an
object not stored with SSE-C 400 InvalidRequest (``sse/errors.py``, ``storage_errors.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from nimbus_storage.gateway.context import S3Request, Services
from nimbus_storage.gateway.object_body import ObjectBody
from nimbus_storage.gateway.sse_objects import SSE_HEADER, WriteEncryption, keystore
from nimbus_storage.meta.api import Upload
from nimbus_storage.s3errors import InvalidArgument, InvalidRequest
from nimbus_storage.sse import envelope
from nimbus_storage.sse.envelope import KeySeal, Kind, SseRequest
from nimbus_storage.sse.errors import CustomerKeyNotApplicable
from nimbus_storage.sse.keys import CustomerKey, KeyContext, parse_customer_key

__all__ = [
    "check_completion",
    "completion_headers",
    "unlock",
    "unlock_source",
    "upload_encryption",
]

CUSTOMER_PREFIX = f"{SSE_HEADER}-customer-"
COPY_SOURCE_CUSTOMER_PREFIX = "x-amz-copy-source-server-side-encryption-customer-"


def _refuse_other_headers(headers: Mapping[str, str], *, copy_source: bool = False) -> None:
    """A read or an upload's part takes the SSE-C headers only (and a copy those of its
    source): the others are refused as AWS refuses them."""
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(COPY_SOURCE_CUSTOMER_PREFIX) and not copy_source:
            raise InvalidRequest("The encryption parameters are not applicable to this object.")
        if lowered.startswith(SSE_HEADER) and not lowered.startswith(CUSTOMER_PREFIX):
            raise InvalidArgument(
                f"{lowered} header is not supported for this operation.",
                ArgumentName=lowered,
                ArgumentValue=value,
            )


def _open(
    services: Services,
    body: ObjectBody,
    context: KeyContext,
    customer: CustomerKey | None,
    *,
    need_key: bool,
) -> dict[str, str]:
    """Open ``body``'s data key (if ``need_key`` or it is SSE-C: checking the client's key);
    the SSE headers of the response."""
    seal = body.seal
    if seal is None:
        if customer is not None:
            raise CustomerKeyNotApplicable()
        return {}
    if need_key or seal.kind is Kind.SSE_C:
        body.data_key = envelope.open_data_key(seal, context, keystore(services), customer)
    elif customer is not None:
        raise CustomerKeyNotApplicable()
    return envelope.response_headers(seal, customer)


def unlock(request: S3Request, body: ObjectBody, *, need_key: bool) -> dict[str, str]:
    """GetObject and HeadObject (``need_key`` False: no data is read, but an SSE-C key is
    still checked): open the object's data key; the SSE headers of the response."""
    _refuse_other_headers(request.headers)
    customer = parse_customer_key(request.headers)
    context = KeyContext(request.require_bucket().name, request.key)
    return _open(request.services, body, context, customer, need_key=need_key)


def unlock_source(request: S3Request, body: ObjectBody, bucket: str, key: str) -> None:
    """A copy's source (CopyObject, UploadPartCopy): open its data key with the
    ``x-amz-copy-source-server-side-encryption-customer-*`` key, or the key store."""
    customer = parse_customer_key(request.headers, copy_source=True)
    _open(request.services, body, KeyContext(bucket, key), customer, need_key=True)


# --- multipart uploads ------------------------------------------------------------------------


def upload_encryption(request: S3Request, upload: Upload) -> WriteEncryption | None:
    """UploadPart and UploadPartCopy: the encryption their upload fixed at its creation, its
    data key opened with the part's SSE-C key (the same key: else the errors of a read) or the
    key store. SSE headers other than SSE-C's are refused, as AWS refuses them."""
    _refuse_other_headers(request.headers, copy_source=True)
    customer = parse_customer_key(request.headers)
    seal = KeySeal.from_meta(upload.meta)
    if seal is None:
        if customer is not None:
            raise CustomerKeyNotApplicable()
        return None
    context = KeyContext(request.require_bucket().name, upload.key)
    data_key = envelope.open_data_key(seal, context, keystore(request.services), customer)
    return WriteEncryption(SseRequest(seal.kind, customer=customer), seal, data_key)


def check_completion(request: S3Request, upload: Upload) -> None:
    """CompleteMultipartUpload may repeat an SSE-C upload's key (AWS: needed only in some
    cases): when it does, it must be the upload's."""
    if any(name.lower().startswith(SSE_HEADER) for name in request.headers):
        upload_encryption(request, upload)


def completion_headers(upload: Upload) -> dict[str, str]:
    """The SSE headers of CompleteMultipartUpload's answer (no SSE-C key MD5: the request
    need not bring the key)."""
    seal = KeySeal.from_meta(upload.meta)
    return {} if seal is None else envelope.response_headers(seal)
