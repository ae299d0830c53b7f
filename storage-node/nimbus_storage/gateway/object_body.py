"""An object opened for reading: its head blob, its parts (a multipart object's manifest names
them: Swift's SLO), and its bytes streamed by range, decrypted when it is sealed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from nimbus_storage.blobs.api import BlobReader, BlobStore
from nimbus_storage.gateway import sse_stream
from nimbus_storage.gateway.context import Services
from nimbus_storage.gateway.headers import META_MANIFEST
from nimbus_storage.meta.api import Bucket, ObjectVersion
from nimbus_storage.s3errors import NoSuchKey
from nimbus_storage.sse.envelope import KeySeal

STREAM_CHUNK = 1024 * 1024


async def read_manifest(reader: BlobReader) -> list[tuple[str, int]]:
    raw = b"".join([chunk async for chunk in reader.iter_range(0, reader.info.size - 1)])
    # An entry may have more than the part's blob and size (gateway/upload_checksums.py).
    return [(str(entry[0]), int(entry[1])) for entry in json.loads(raw)]


def manifest_body(parts: list[tuple[str, int]]) -> bytes:
    return json.dumps(parts).encode()


@dataclass
class ObjectBody:
    """An object opened for reading: its stored facts and a ranged byte stream.

    ``size`` and ``parts``' sizes are the plaintext's. An encrypted object has its ``seal``;
    its ``data_key`` must be opened (``sse_reads``) before ``stream`` is read.
    """

    blobs: BlobStore  # the store of the object's bucket: its parts are there too
    head: BlobReader
    parts: list[tuple[str, int]] | None
    size: int
    seal: KeySeal | None = None
    data_key: bytes | None = field(default=None, repr=False)

    @property
    def meta(self) -> Mapping[str, str]:
        return self.head.info.meta

    def _range(self, reader: BlobReader, start: int, end: int) -> AsyncIterator[bytes]:
        if self.seal is None:
            return reader.iter_range(start, end, STREAM_CHUNK)
        if self.data_key is None:
            raise RuntimeError("the data key of an encrypted object was not opened")
        return sse_stream.open_range(reader, self.data_key, start, end)

    async def stream(self, start: int, end: int) -> AsyncIterator[bytes]:
        if self.parts is None:
            async for chunk in self._range(self.head, start, end):
                yield chunk
            return
        offset = 0
        for part_blob, part_size in self.parts:
            part_start, part_end = offset, offset + part_size - 1
            offset += part_size
            if part_end < start or part_start > end or part_size == 0:
                continue
            reader = await self.blobs.open(part_blob)
            if reader is None:
                raise RuntimeError(f"part blob {part_blob!r} of a multipart object is missing")
            try:
                async for chunk in self._range(
                    reader, max(start, part_start) - part_start, min(end, part_end) - part_start
                ):
                    yield chunk
            finally:
                reader.close()

    def close(self) -> None:
        self.head.close()


async def open_body(
    services: Services, bucket: Bucket, version: ObjectVersion, *, read_from: int | None = None
) -> ObjectBody:
    """``read_from``: the offset the caller will stream from, if it knows (BlobStore.open)."""
    blobs = services.blobs_for(bucket)
    reader = await blobs.open(version.blob, read_from=read_from)
    if reader is None:
        raise NoSuchKey(Key=version.key)
    try:
        if META_MANIFEST not in reader.info.meta:
            seal, size = sse_stream.envelope_of(reader.info)
            return ObjectBody(blobs, reader, None, size, seal)
        parts = await read_manifest(reader)
        seal = sse_stream.manifest_seal(reader.info.meta)
    except BaseException:
        reader.close()
        raise
    return ObjectBody(blobs, reader, parts, sum(size for _name, size in parts), seal)
