"""CompleteMultipartUpload's list of parts: parsed, checked against the stored parts (ETags,
sizes, checksums) and turned into the object's manifest, ETag and checksum."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from nimbus_storage import s3xml
from nimbus_storage.gateway import object_checksums, upload_checksums
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.object_checksums import ListedPart, ObjectClaim
from nimbus_storage.gateway.upload_checksums import UploadChecksum
from nimbus_storage.meta.api import Upload
from nimbus_storage.s3errors import EntityTooSmall, InvalidPart, MalformedXML, NoSuchUpload


def parse_completion(body: bytes) -> list[ListedPart]:
    document = s3xml.parse(body, root="CompleteMultipartUpload")
    listed: list[ListedPart] = []
    for element in document.findall("Part"):
        number_text = s3xml.required_token(element, "PartNumber")
        etag = s3xml.required_token(element, "ETag").strip('"')
        texts = {child.tag: child.text or "" for child in element}
        try:
            number = int(number_text)
        except ValueError:
            raise MalformedXML(f"PartNumber {number_text!r} is not a number") from None
        listed.append(ListedPart(number, etag, object_checksums.part_checksums_in(texts)))
    if not listed:
        raise MalformedXML("The XML you provided did not list any parts")
    return listed


@dataclass(frozen=True, slots=True)
class Manifest:
    """What CompleteMultipartUpload stores and answers for the parts it lists."""

    parts: list[tuple[str, int]]  # blob, plaintext size
    etag: str
    part_checksums: list[str] | None  # when the upload has a checksum algorithm
    checksum: str | None  # the object's


async def build_manifest(
    request: S3Request,
    upload: Upload,
    listed: list[ListedPart],
    checksum: tuple[UploadChecksum, ObjectClaim | None] | None,
) -> Manifest:
    """The manifest (part blobs and sizes), multipart ETag and checksums of the parts
    ``listed``; with the upload's ``checksum`` (and the object's, if the request states it),
    each listed part's checksum is checked against its own, and the object's against the
    request's (BadDigest).

    NoSuchUpload when the upload went away meanwhile (aborted or completed elsewhere: its
    parts are gone too, which is not the client's InvalidPart)."""
    index = request.index()
    stored_parts = await index.get_parts(upload.upload_id)
    if await index.get_upload(upload.upload_id) is None:
        raise NoSuchUpload(UploadId=upload.upload_id)
    min_size = request.services.config.multipart_min_part_size
    manifest: list[tuple[str, int]] = []
    checksums: list[str] = []
    for position, entry in enumerate(listed):
        part = stored_parts.get(entry.number)
        part_etag = part.etag if part is not None else None
        part_checksum = upload_checksums.part_checksum(part) if part is not None else None
        if (
            part is None
            or part_etag != entry.etag
            or (checksum is not None and part_checksum is None)
            or any(value != part_checksum for value in entry.checksums.values())
        ):
            raise InvalidPart(PartNumber=str(entry.number), ETag=entry.etag)
        if part.size < min_size and position < len(listed) - 1:
            raise EntityTooSmall(
                ProposedSize=str(part.size),
                MinSizeAllowed=str(min_size),
                PartNumber=str(entry.number),
            )
        manifest.append((part.blob, part.size))
        if part_checksum is not None:
            checksums.append(part_checksum)
    etag = multipart_etag([entry.etag for entry in listed])
    if checksum is None:
        return Manifest(manifest, etag, None, None)
    upload_checksum, claim = checksum
    sizes = [size for _blob, size in manifest]
    value = object_checksums.object_checksum(
        upload_checksum, list(zip(checksums, sizes, strict=True))
    )
    object_checksums.check_claim(upload_checksum, claim, value)
    return Manifest(manifest, etag, checksums, value)


def multipart_etag(part_etags: list[str]) -> str:
    """S3's ETag of a multipart object: the MD5 of its parts' binary MD5s, then ``-N``."""
    digest = hashlib.md5(usedforsecurity=False)
    for etag in part_etags:
        digest.update(bytes.fromhex(etag))
    return f"{digest.hexdigest()}-{len(part_etags)}"
