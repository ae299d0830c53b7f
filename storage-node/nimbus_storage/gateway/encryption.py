"""Server-side encryption is not implemented: every request that asks for it is refused.

Nimbus stores objects unencrypted. Accepting an SSE header would store plaintext while the client
believes the object encrypted (and an SSE-C object readable without its key), so:

* any request but a read carrying one of these headers is ``501 NotImplemented`` naming the
  header, before its body is read: nothing is stored;
* a read (GetObject, HeadObject) of an object that exists is answered as AWS answers reads of an
  object stored without that encryption: SSE-C headers are ``400 InvalidRequest`` ("The
  encryption parameters are not applicable to this object."), the other SSE headers
  ``400 InvalidArgument`` ("... header is not supported for this operation."). A missing key
  stays ``404 NoSuchKey``, so reads are checked by their handler once the object is found.
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


def requested_encryption(headers: Mapping[str, str]) -> str | None:
    """The first SSE header of the request (lower case), if it has one."""
    for name in headers:
        lowered = name.lower()
        if lowered.startswith((SSE_PREFIX, COPY_SOURCE_SSE_PREFIX)):
            return lowered
    return None


def refuse_encryption(operation: str, headers: Mapping[str, str]) -> None:
    """Raise the error AWS-compatible clients get when ``operation`` asks for encryption."""
    header = requested_encryption(headers)
    if header is None:
        return
    if operation not in OBJECT_READS:
        raise NotImplementedError_(
            "A header you provided implies functionality that is not implemented: server-side"
            f" encryption ({header}). Nimbus stores objects unencrypted.",
            Header=header,
        )
    if header.startswith(_CUSTOMER_KEY_PREFIXES):
        raise InvalidRequest("The encryption parameters are not applicable to this object.")
    raise InvalidArgument(
        f"{header} header is not supported for this operation.",
        ArgumentName=header,
        ArgumentValue=headers.get(header, ""),
    )
