"""SSE headers on the operations that do not encrypt or decrypt anything.

Server-side encryption is done by the object operations that write or read an object's bytes
(``SSE_OPERATIONS``: their handlers read the SSE headers through ``gateway/sse_objects.py``).
Any other operation carrying one of these headers is refused before its body is read, so that
no client believes an encryption was applied that was not:

* a write (or any operation but a read) is ``501 NotImplemented`` naming the header;
* a read of one object (an ``object_read`` operation other than GetObject and HeadObject) is
  answered as AWS answers reads of an object stored without that encryption: SSE-C headers are
  ``400 InvalidRequest`` ("The encryption parameters are not applicable to this object."), the
  other SSE headers ``400 InvalidArgument`` ("... header is not supported for this
  operation.").
"""

from __future__ import annotations

from collections.abc import Mapping

from nimbus_storage.s3errors import InvalidArgument, InvalidRequest, NotImplementedError_

# Every SSE request header starts with one of these: x-amz-server-side-encryption,
# ...-aws-kms-key-id, ...-context, ...-bucket-key-enabled, ...-customer-algorithm,
# ...-customer-key, ...-customer-key-MD5, and the copy source's ...-customer-* (SSE-C).
SSE_PREFIX = "x-amz-server-side-encryption"
COPY_SOURCE_SSE_PREFIX = "x-amz-copy-source-server-side-encryption"
_CUSTOMER_KEY_PREFIXES = (f"{SSE_PREFIX}-customer-", f"{COPY_SOURCE_SSE_PREFIX}-customer-")
OBJECT_READS = frozenset({"GetObject", "HeadObject"})
SSE_OPERATIONS = frozenset(
    {
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        *OBJECT_READS,
    }
)


def requested_encryption(headers: Mapping[str, str]) -> str | None:
    """The first SSE header of the request (lower case), if it has one."""
    for name in headers:
        lowered = name.lower()
        if lowered.startswith((SSE_PREFIX, COPY_SOURCE_SSE_PREFIX)):
            return lowered
    return None


def refuse_encryption(operation: str, headers: Mapping[str, str], *, read: bool = False) -> None:
    """Raise the error AWS-compatible clients get when ``operation``, which does no encryption,
    carries an SSE header (``read``: it reads one object). The ``SSE_OPERATIONS`` pass: their
    handlers take the headers."""
    if operation in SSE_OPERATIONS:
        return
    header = requested_encryption(headers)
    if header is None:
        return
    if not read:
        raise NotImplementedError_(
            "A header you provided implies functionality that is not implemented: server-side"
            f" encryption ({header}) on {operation}.",
            Header=header,
        )
    if header.startswith(_CUSTOMER_KEY_PREFIXES):
        raise InvalidRequest("The encryption parameters are not applicable to this object.")
    raise InvalidArgument(
        f"{header} header is not supported for this operation.",
        ArgumentName=header,
        ArgumentValue=headers.get(header, ""),
    )
