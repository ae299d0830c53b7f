"""Body integrity: the S3 checksum algorithms and :class:`PayloadVerifier`.

S3 checksums travel as base64 of the big-endian digest, in an ``x-amz-checksum-<alg>``
header or trailer. :class:`PayloadVerifier` wraps a body stream and checks, when the stream
ends, every integrity claim the request headers make: ``Content-MD5``, a hex
``x-amz-content-sha256`` and an ``x-amz-checksum-*`` value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from typing import Protocol

import crc32c

from nimbus_storage.auth.canonical import lower_case_headers
from nimbus_storage.auth.crc64nvme import crc64nvme
from nimbus_storage.auth.streams import one_step_behind
from nimbus_storage.s3errors import (
    BadDigest,
    InvalidChecksum,
    InvalidDigest,
    InvalidRequest,
    XAmzContentSHA256Mismatch,
)

CHECKSUM_HEADER_PREFIX = "x-amz-checksum-"
SDK_ALGORITHM_HEADER = "x-amz-sdk-checksum-algorithm"
# x-amz-checksum-* headers that name no checksum value.
_NOT_CHECKSUM_VALUES = frozenset({"type", "algorithm", "mode"})
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


class Checksum(Protocol):
    algorithm: str

    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...

    def b64digest(self) -> str: ...


class _CrcChecksum:
    def __init__(self, algorithm: str, crc: Callable[[bytes, int], int], size: int) -> None:
        self.algorithm = algorithm
        self._crc = crc
        self._size = size
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._crc(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


class _HashChecksum:
    def __init__(self, algorithm: str, hashlib_name: str) -> None:
        self.algorithm = algorithm
        self._hash = hashlib.new(hashlib_name)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


_FACTORIES: dict[str, Callable[[], Checksum]] = {
    "CRC32": lambda: _CrcChecksum("CRC32", zlib.crc32, 4),
    "CRC32C": lambda: _CrcChecksum("CRC32C", crc32c.crc32c, 4),
    "CRC64NVME": lambda: _CrcChecksum("CRC64NVME", crc64nvme, 8),
    "SHA1": lambda: _HashChecksum("SHA1", "sha1"),
    "SHA256": lambda: _HashChecksum("SHA256", "sha256"),
}
ALGORITHMS = tuple(_FACTORIES)
_DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}


def new_checksum(algorithm: str) -> Checksum:
    """A fresh checksum for an S3 algorithm name (any case); InvalidRequest if unknown."""
    factory = _FACTORIES.get(algorithm.upper())
    if factory is None:
        raise InvalidRequest(f"Value for {SDK_ALGORITHM_HEADER} header is invalid.")
    return factory()


def checksum_header_name(algorithm: str) -> str:
    """``CRC32`` -> ``x-amz-checksum-crc32``."""
    return CHECKSUM_HEADER_PREFIX + algorithm.lower()


def decode_checksum(algorithm: str, value: str, *, where: str = "header") -> bytes:
    """The digest a base64 checksum value carries; InvalidChecksum if it cannot be one."""
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != _DIGEST_SIZES[algorithm.upper()]:
        raise InvalidChecksum(f"Value for {checksum_header_name(algorithm)} {where} is invalid.")
    return digest


def checksum_mismatch(algorithm: str) -> BadDigest:
    return BadDigest(
        f"The {algorithm.upper()} you specified did not match the calculated checksum."
    )


def header_algorithm(headers: Mapping[str, str]) -> str | None:
    """The checksum algorithm a request's headers ask for, upper-case, or None.

    A value header (``x-amz-checksum-crc32: ...``) wins; otherwise
    ``x-amz-sdk-checksum-algorithm`` (whose value then arrives in a trailer, or not at all).
    More than one value header, an unknown algorithm, or a value header that contradicts
    ``x-amz-sdk-checksum-algorithm`` is an InvalidRequest, as on AWS.
    """
    lowered = lower_case_headers(headers)
    named = [
        name.removeprefix(CHECKSUM_HEADER_PREFIX).upper()
        for name in lowered
        if _is_value_header(name)
    ]
    if len(named) > 1:
        raise InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    sdk_values = lowered.get(SDK_ALGORITHM_HEADER)
    sdk_algorithm = sdk_values[0].strip().upper() if sdk_values else None
    for algorithm in (*named, sdk_algorithm):
        if algorithm is not None and algorithm not in _FACTORIES:
            raise InvalidRequest(f"Value for {SDK_ALGORITHM_HEADER} header is invalid.")
    if named and sdk_algorithm is not None and named[0] != sdk_algorithm:
        raise InvalidRequest(f"Value for {SDK_ALGORITHM_HEADER} header is invalid.")
    return named[0] if named else sdk_algorithm


def announced_algorithm(headers: Mapping[str, str]) -> str | None:
    """The algorithm of the checksum a request carries or announces, upper-case, or None: a
    value header's, else the one its ``x-amz-trailer`` names, else
    ``x-amz-sdk-checksum-algorithm``'s (validated as :func:`header_algorithm` does)."""
    algorithm = header_algorithm(headers)
    lowered = lower_case_headers(headers)
    if any(_is_value_header(name) for name in lowered):
        return algorithm
    for trailer in lowered.get("x-amz-trailer", []):
        for trailed in (name.strip().lower() for name in trailer.split(",")):
            if _is_value_header(trailed):
                return trailed.removeprefix(CHECKSUM_HEADER_PREFIX).upper()
    return algorithm


def _is_value_header(name: str) -> bool:
    return (
        name.startswith(CHECKSUM_HEADER_PREFIX)
        and name.removeprefix(CHECKSUM_HEADER_PREFIX) not in _NOT_CHECKSUM_VALUES
    )


def digest_size(algorithm: str) -> int:
    """Bytes of an algorithm's digest (``CRC32``: 4)."""
    return _DIGEST_SIZES[algorithm.upper()]


class PayloadVerifier:
    """An async iterator over a body that verifies the body's integrity claims at its end.

    Malformed claims (a Content-MD5 that is not base64 of 16 bytes, an unparsable checksum)
    raise from the constructor, before any byte is read. Mismatches raise from the iteration
    once the source is exhausted and *before* the last chunk is handed on (see
    :func:`~nimbus_storage.auth.streams.one_step_behind`).

    After a complete iteration, :attr:`size` and :attr:`checksum_b64` describe the body (for
    the stored checksum). The ETag's md5 is the blob store's, which hashes what it writes: the
    md5 here is computed only to check a ``Content-MD5``, so a body is hashed once, not twice.
    """

    def __init__(
        self,
        source: AsyncIterable[bytes],
        *,
        content_md5: str | None = None,
        sha256_hex: str | None = None,
        checksum_algorithm: str | None = None,
        expected_checksum: str | None = None,
    ) -> None:
        self._source = source
        self._expected_md5 = _decode_content_md5(content_md5) if content_md5 is not None else None
        if sha256_hex is not None and not _HEX_SHA256.fullmatch(sha256_hex):
            raise ValueError(f"not a hex SHA-256 digest: {sha256_hex!r}")
        self._expected_sha256 = sha256_hex.lower() if sha256_hex is not None else None
        if expected_checksum is not None and checksum_algorithm is None:
            raise ValueError("expected_checksum needs checksum_algorithm")
        self._checksum = new_checksum(checksum_algorithm) if checksum_algorithm else None
        self._expected_checksum = (
            decode_checksum(checksum_algorithm, expected_checksum)
            if checksum_algorithm and expected_checksum is not None
            else None
        )
        self._md5 = hashlib.md5(usedforsecurity=False) if self._expected_md5 is not None else None
        self._sha256 = hashlib.sha256() if self._expected_sha256 is not None else None
        self._started = False
        self.size = 0
        self.finished = False

    @classmethod
    def from_headers(
        cls,
        source: AsyncIterable[bytes],
        headers: Mapping[str, str],
        *,
        payload_hash: str | None = None,
        checksum_of_body: bool = True,
    ) -> PayloadVerifier:
        """Verify what ``headers`` claim about ``source`` (the already de-chunked body).

        ``payload_hash`` is the signed ``x-amz-content-sha256`` (``AuthContext.payload_hash``);
        by default the header itself. Only a hex value is checked here. When the request
        carries its checksum in a trailer (``x-amz-trailer``), the aws-chunked decoder checks
        it and this verifier leaves the checksum alone; so it does when ``checksum_of_body``
        is False: the ``x-amz-checksum-*`` header is not the body's (CompleteMultipartUpload's
        is the object's).
        """
        lowered = lower_case_headers(headers)
        if payload_hash is None:
            payload_hash = (lowered.get("x-amz-content-sha256") or [""])[0].strip()
        checked_here = checksum_of_body and "x-amz-trailer" not in lowered
        algorithm = header_algorithm(headers) if checked_here else None
        expected = lowered.get(checksum_header_name(algorithm)) if algorithm else None
        content_md5 = lowered.get("content-md5")
        return cls(
            source,
            content_md5=content_md5[0] if content_md5 else None,
            sha256_hex=payload_hash if _HEX_SHA256.fullmatch(payload_hash) else None,
            checksum_algorithm=algorithm,
            expected_checksum=expected[0] if expected else None,
        )

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._started:
            raise RuntimeError("a PayloadVerifier can be iterated only once")
        self._started = True
        return one_step_behind(self._hash_and_verify())

    @property
    def checksum_algorithm(self) -> str | None:
        return self._checksum.algorithm if self._checksum else None

    @property
    def checksum_b64(self) -> str | None:
        """The computed checksum, base64 (AWS format), or None if none was asked for."""
        return self._checksum.b64digest() if self._checksum else None

    async def _hash_and_verify(self) -> AsyncIterator[bytes]:
        async for chunk in self._source:
            if self._md5 is not None:
                self._md5.update(chunk)
            if self._sha256 is not None:
                self._sha256.update(chunk)
            if self._checksum is not None:
                self._checksum.update(chunk)
            self.size += len(chunk)
            yield chunk
        self._verify()
        self.finished = True

    def _verify(self) -> None:
        if (
            self._md5 is not None
            and self._expected_md5 is not None
            and not hmac.compare_digest(self._md5.digest(), self._expected_md5)
        ):
            raise BadDigest(
                CalculatedDigest=base64.b64encode(self._md5.digest()).decode("ascii"),
                ExpectedDigest=base64.b64encode(self._expected_md5).decode("ascii"),
            )
        if self._sha256 is not None and self._sha256.hexdigest() != self._expected_sha256:
            raise XAmzContentSHA256Mismatch(
                ClientComputedContentSHA256=self._expected_sha256 or "",
                S3ComputedContentSHA256=self._sha256.hexdigest(),
            )
        checksum, expected = self._checksum, self._expected_checksum
        if checksum and expected and not hmac.compare_digest(checksum.digest(), expected):
            raise checksum_mismatch(checksum.algorithm)


def _decode_content_md5(value: str) -> bytes:
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDigest() from None
    if len(digest) != 16:
        raise InvalidDigest()
    return digest
