"""The checksums of a multipart upload, as S3 keeps them: what the S3 handlers of uploads share.

CreateMultipartUpload may choose an algorithm (``x-amz-checksum-algorithm``) and a type
(``x-amz-checksum-type``: ``COMPOSITE`` or, for CRCs, ``FULL_OBJECT``), kept in the upload's
meta. Each part of such an upload then has its checksum, verified when the request carries one
(a composite upload's parts must), computed otherwise, and kept in the part's index row
(``Part.checksum``). CompleteMultipartUpload gives the object its checksum
(gateway/object_checksums.py).

An upload without an algorithm is as it always was: its parts keep no checksum, and its object
has none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from nimbus_storage.auth.checksums import (
    ALGORITHMS,
    Checksum,
    announced_algorithm,
    checksum_header_name,
    new_checksum,
)
from nimbus_storage.auth.multipart_checksums import (
    CHECKSUM_TYPES,
    COMPOSITE,
    default_checksum_type,
    type_allows,
)
from nimbus_storage.meta.api import Part, Upload
from nimbus_storage.s3errors import InvalidRequest

ALGORITHM_HEADER = "x-amz-checksum-algorithm"
TYPE_HEADER = "x-amz-checksum-type"
META_ALGORITHM = "x-nimbus-checksum-algorithm"
META_TYPE = "x-nimbus-checksum-type"


@dataclass(frozen=True, slots=True)
class UploadChecksum:
    """The checksum algorithm and type an upload was created with."""

    algorithm: str  # upper-case: CRC32, CRC32C, CRC64NVME, SHA1, SHA256
    type: str  # COMPOSITE or FULL_OBJECT

    @property
    def element(self) -> str:
        """``ChecksumCRC32``: the XML element of a value of this algorithm."""
        return f"Checksum{self.algorithm}"

    @property
    def header(self) -> str:
        return checksum_header_name(self.algorithm)

    def to_meta(self) -> dict[str, str]:
        return {META_ALGORITHM: self.algorithm, META_TYPE: self.type}

    def response_headers(self) -> dict[str, str]:
        return {ALGORITHM_HEADER: self.algorithm, TYPE_HEADER: self.type}

    def xml(self) -> dict[str, str]:
        """ListParts' and ListMultipartUploads' elements."""
        return {"ChecksumAlgorithm": self.algorithm, "ChecksumType": self.type}


def upload_checksum(upload: Upload) -> UploadChecksum | None:
    algorithm = upload.meta.get(META_ALGORITHM)
    if algorithm is None:
        return None
    return UploadChecksum(algorithm, upload.meta.get(META_TYPE, default_checksum_type(algorithm)))


def without_checksum_meta(meta: Mapping[str, str]) -> dict[str, str]:
    """An upload's meta less what this module keeps in it (for the completed object's)."""
    return {name: value for name, value in meta.items() if name not in (META_ALGORITHM, META_TYPE)}


def requested_checksum(headers: Mapping[str, str]) -> UploadChecksum | None:
    """The checksum a CreateMultipartUpload asks for; InvalidRequest as AWS answers."""
    raw_algorithm = headers.get(ALGORITHM_HEADER)
    raw_type = headers.get(TYPE_HEADER)
    if raw_algorithm is None:
        if raw_type is not None:
            raise InvalidRequest(
                f"The {TYPE_HEADER} header can only be used with the {ALGORITHM_HEADER} header."
            )
        return None
    algorithm = raw_algorithm.strip().upper()
    if algorithm not in ALGORITHMS:
        raise InvalidRequest(
            "Checksum algorithm provided is unsupported. Please try again with any of the valid"
            f" types: [{', '.join(sorted(ALGORITHMS))}]"
        )
    if raw_type is None:
        return UploadChecksum(algorithm, default_checksum_type(algorithm))
    checksum_type = raw_type.strip().upper()
    if checksum_type not in CHECKSUM_TYPES:
        raise InvalidRequest(f"Value for {TYPE_HEADER} header is invalid.")
    if not type_allows(checksum_type, algorithm):
        raise InvalidRequest(
            f"The {checksum_type} checksum type cannot be used with the {algorithm.lower()}"
            " checksum algorithm."
        )
    return UploadChecksum(algorithm, checksum_type)


def type_mismatch(expected: str, actual: str | None) -> InvalidRequest:
    return InvalidRequest(
        f"Checksum Type mismatch occurred, expected checksum Type: {expected.lower()},"
        f" actual checksum Type: {actual.lower() if actual else 'null'}"
    )


# --- parts -----------------------------------------------------------------------------------


def new_part_checksum(checksum: UploadChecksum) -> Checksum:
    return new_checksum(checksum.algorithm)


def part_checksum_to_compute(
    checksum: UploadChecksum | None, headers: Mapping[str, str]
) -> Checksum | None:
    """Check the checksum an UploadPart (or UploadPartCopy) of an upload with ``checksum``
    carries; the checksum to compute over the part when the request carries none.

    A composite upload's parts must carry a checksum of its algorithm; a full-object upload's
    parts may carry none (S3 computes it). Another algorithm's is an InvalidRequest.
    """
    announced = announced_algorithm(headers)
    if checksum is None:
        return None
    if announced is None:
        if checksum.type == COMPOSITE:
            raise type_mismatch(checksum.algorithm, None)
        return new_checksum(checksum.algorithm)
    if announced != checksum.algorithm:
        raise type_mismatch(checksum.algorithm, announced)
    return None


async def hashing(chunks: AsyncIterator[bytes], checksum: Checksum) -> AsyncIterator[bytes]:
    """``chunks``, each added to ``checksum`` on the way."""
    async for chunk in chunks:
        checksum.update(chunk)
        yield chunk


def part_checksum(part: Part) -> str | None:
    return part.checksum or None
