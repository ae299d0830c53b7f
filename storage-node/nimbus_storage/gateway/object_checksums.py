"""The checksum of an object uploaded in parts, as CompleteMultipartUpload gives it.

The request may list each part's checksum (a composite upload's must), which must be the
part's own; it may state the object's (``x-amz-checksum-<algorithm>``) and the upload's type
(``x-amz-checksum-type``). The object's checksum is computed from its parts' checksums alone
(``auth/multipart_checksums``), kept in its meta (answered by HEAD and GET with
``x-amz-checksum-mode``), and its parts' are kept in its manifest (for GetObjectAttributes).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nimbus_storage.auth.checksums import ALGORITHMS, CHECKSUM_HEADER_PREFIX, digest_size
from nimbus_storage.auth.multipart_checksums import (
    COMPOSITE,
    composite_checksum,
    full_object_checksum,
)
from nimbus_storage.gateway import object_body
from nimbus_storage.gateway.object_body import ObjectBody
from nimbus_storage.gateway.upload_checksums import TYPE_HEADER, UploadChecksum, type_mismatch
from nimbus_storage.s3errors import (
    BadDigest,
    InvalidArgument,
    InvalidChecksum,
    InvalidPartOrder,
    InvalidRequest,
)

_COMPOSITE_VALUE = re.compile(r"(?P<digest>[^-]*)(?:-(?P<parts>[0-9]+))?")


@dataclass(frozen=True, slots=True)
class ListedPart:
    """A ``<Part>`` of a CompleteMultipartUpload document."""

    number: int
    etag: str
    checksums: Mapping[str, str]  # algorithm -> the value of its Checksum<ALGORITHM> element


def part_checksums_in(element_text: Mapping[str, str]) -> dict[str, str]:
    """The ``Checksum<ALGORITHM>`` values of a ``<Part>`` (element name -> text)."""
    return {
        algorithm: element_text[f"Checksum{algorithm}"].strip()
        for algorithm in ALGORITHMS
        if f"Checksum{algorithm}" in element_text
    }


@dataclass(frozen=True, slots=True)
class ObjectClaim:
    """The object checksum a CompleteMultipartUpload's header states."""

    digest: bytes
    parts: int | None  # a composite value's ``-N``


def check_completion_request(
    checksum: UploadChecksum | None, headers: Mapping[str, str], listed: Sequence[ListedPart]
) -> ObjectClaim | None:
    """Check a CompleteMultipartUpload's checksum headers and listed parts against the upload's
    checksum (before anything is stored); the object checksum the request states, if any.

    An upload without a checksum algorithm ignores the parts' and the object's checksums, as
    it always did (AWS would have given it a CRC64NVME; Nimbus gives it none to check).
    """
    requested_type = headers.get(TYPE_HEADER)
    if requested_type is not None and (
        checksum is None or requested_type.strip().upper() != checksum.type
    ):
        mode = checksum.type if checksum is not None else "null"
        raise InvalidRequest(
            f"The upload was created using the {mode} checksum mode. The complete request must"
            " use the same checksum mode."
        )
    if checksum is None:
        return None
    claim = _object_claim(checksum, headers)
    numbers = [part.number for part in listed]
    if numbers != list(range(1, len(listed) + 1)):
        raise InvalidPartOrder()  # S3: with checksums, parts are numbered 1, 2, 3 ...
    for part in listed:
        if len(part.checksums) > 1 or any(
            _digest(algorithm, value) is None for algorithm, value in part.checksums.items()
        ):
            raise InvalidArgument(
                "Invalid Base64 or multiple checksums present in request",
                ArgumentName="Checksum",
                ArgumentValue="".join(f"{a}:{v};" for a, v in part.checksums.items()),
            )
        if not part.checksums and checksum.type == COMPOSITE:
            raise InvalidRequest(
                f"The upload was created using a {checksum.algorithm.lower()} checksum. The"
                " complete request must include the checksum for each part. It was missing for"
                f" part {part.number} in the request."
            )
    if claim is not None and checksum.type == COMPOSITE:
        # S3 computes a composite checksum from the checksums the request lists (each is then
        # checked against its part's): a wrong one fails the object's checksum first.
        listed_digests = [
            _digest(a, v) or b"" for part in listed for a, v in part.checksums.items()
        ]
        check_claim(checksum, claim, composite_checksum(checksum.algorithm, listed_digests))
    return claim


def _object_claim(checksum: UploadChecksum, headers: Mapping[str, str]) -> ObjectClaim | None:
    lowered = {name.lower(): value for name, value in headers.items()}
    named = [
        name
        for name in lowered
        if name.startswith(CHECKSUM_HEADER_PREFIX)
        and name.removeprefix(CHECKSUM_HEADER_PREFIX).upper() in ALGORITHMS
    ]
    if not named:
        return None
    if len(named) > 1:
        raise InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    header = named[0]
    algorithm = header.removeprefix(CHECKSUM_HEADER_PREFIX).upper()
    if algorithm != checksum.algorithm:
        raise type_mismatch(checksum.algorithm, algorithm)
    value = _COMPOSITE_VALUE.fullmatch(lowered[header].strip())
    digest = _digest(algorithm, value["digest"]) if value is not None else None
    if value is None or digest is None or (value["parts"] and checksum.type != COMPOSITE):
        raise InvalidChecksum(f"Value for {header} header is invalid.")
    return ObjectClaim(digest, int(value["parts"]) if value["parts"] else None)


def _digest(algorithm: str, value: str) -> bytes | None:
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest if len(digest) == digest_size(algorithm) else None


def check_claim(checksum: UploadChecksum, claim: ObjectClaim | None, computed: str) -> None:
    """BadDigest unless the object checksum ``computed`` is what ``claim`` states."""
    if claim is None:
        return
    digest, _, parts = computed.partition("-")
    if base64.b64decode(digest) != claim.digest or (
        claim.parts is not None and str(claim.parts) != parts
    ):
        raise BadDigest(
            f"The {checksum.algorithm.lower()} you specified did not match the calculated checksum."
        )


def object_checksum(checksum: UploadChecksum, parts: Sequence[tuple[str, int]]) -> str:
    """The object's checksum from its parts' (base64 checksum, plaintext size), in order."""
    digests = [(base64.b64decode(value), size) for value, size in parts]
    if checksum.type == COMPOSITE:
        return composite_checksum(checksum.algorithm, [digest for digest, _size in digests])
    return full_object_checksum(checksum.algorithm, digests)


def object_meta(checksum: UploadChecksum, value: str) -> dict[str, str]:
    """What the completed object keeps (and GET / HEAD answer with ``x-amz-checksum-mode``)."""
    return {checksum.header: value, TYPE_HEADER: checksum.type}


def object_xml(checksum: UploadChecksum, value: str) -> dict[str, str]:
    """CompleteMultipartUploadResult's checksum elements."""
    return {checksum.element: value, "ChecksumType": checksum.type}


# --- the manifest ----------------------------------------------------------------------------


def manifest_body(parts: Sequence[tuple[str, int]], checksums: Sequence[str] | None) -> bytes:
    """A multipart object's manifest (``object_body.manifest_body``), each part's checksum a third
    element of its entry when the upload had an algorithm (``object_body`` reads the first two)."""
    if checksums is None:
        return object_body.manifest_body(list(parts))
    entries = [[blob, size, value] for (blob, size), value in zip(parts, checksums, strict=True)]
    return json.dumps(entries).encode()


async def manifest_checksums(body: ObjectBody) -> list[str] | None:
    """The parts' checksums in an opened multipart object's manifest; None without any."""
    head = body.head
    raw = b"".join([chunk async for chunk in head.iter_range(0, head.info.size - 1)])
    checksums = [entry[2] for entry in json.loads(raw) if len(entry) > 2]
    return checksums or None
