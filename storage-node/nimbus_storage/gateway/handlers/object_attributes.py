"""GetObjectAttributes: what HeadObject and ListParts tell of an object, in one XML document.

``x-amz-object-attributes`` (required, comma-separated) names what to answer: ``ETag`` (without
quotes, as AWS writes it here), ``Checksum`` (the checksum stored with the object, if it was
uploaded with one, and its type: ``FULL_OBJECT``, or ``COMPOSITE`` for a multipart upload's
checksum of its parts' checksums), ``ObjectParts`` (multipart objects only: the part count, and
the parts with their sizes, and checksums when their upload had an algorithm, from the object's
manifest, numbered 1..N as GetObject's ``partNumber`` numbers them; ``x-amz-max-parts`` and
``x-amz-part-number-marker`` page them), ``StorageClass`` and ``ObjectSize``. ``Last-Modified``
and, in a bucket that has had versioning, ``x-amz-version-id`` are headers. A delete marker is
answered as GetObject answers it.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.auth.checksums import ALGORITHMS, checksum_header_name
from nimbus_storage.gateway import object_checksums, sse_reads, upload_checksums
from nimbus_storage.gateway.authorize import check_access
from nimbus_storage.gateway.bucket_controls import object_acl_allows
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.headers import http_date
from nimbus_storage.gateway.object_body import ObjectBody, open_body
from nimbus_storage.gateway.responses import xml_response
from nimbus_storage.meta.api import ObjectVersion
from nimbus_storage.s3errors import (
    AccessDenied,
    InvalidArgument,
    MethodNotAllowed,
    NoSuchKey,
    NoSuchVersion,
)

ATTRIBUTES_HEADER = "x-amz-object-attributes"
MAX_PARTS_HEADER = "x-amz-max-parts"
PART_NUMBER_MARKER_HEADER = "x-amz-part-number-marker"
ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
MAX_PARTS = 1000


def requested_attributes(values: list[str]) -> frozenset[str]:
    """The attributes the ``x-amz-object-attributes`` header(s) name; InvalidArgument when
    there are none or one is unknown."""
    names = {name.strip() for value in values for name in value.split(",") if name.strip()}
    if not names:
        raise InvalidArgument(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is"
            " either missing or empty",
            ArgumentName=ATTRIBUTES_HEADER,
        )
    unknown = sorted(names.difference(ATTRIBUTES))
    if unknown:
        raise InvalidArgument(
            "Invalid attribute name specified.",
            ArgumentName=ATTRIBUTES_HEADER,
            ArgumentValue=unknown[0],
        )
    return frozenset(names)


def _header_number(headers: Mapping[str, str], name: str, default: int) -> int:
    raw = headers.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(
            f"{name} must be an integer", ArgumentName=name, ArgumentValue=raw
        ) from None
    if value < 0:
        raise InvalidArgument(f"{name} must not be negative", ArgumentName=name, ArgumentValue=raw)
    return value


def checksum_tree(meta: Mapping[str, str]) -> dict[str, s3xml.XmlValue] | None:
    """The Checksum element for an object's stored ``x-amz-checksum-*``; None without one."""
    tree: dict[str, s3xml.XmlValue] = {
        f"Checksum{algorithm}": meta[checksum_header_name(algorithm)]
        for algorithm in ALGORITHMS
        if checksum_header_name(algorithm) in meta
    }
    if not tree:
        return None
    tree["ChecksumType"] = meta.get(upload_checksums.TYPE_HEADER, "FULL_OBJECT")
    return tree


def parts_tree(
    sizes: list[int],
    marker: int,
    max_parts: int,
    checksums: tuple[str, list[str]] | None = None,
) -> dict[str, s3xml.XmlValue]:
    """The ObjectParts element of an object whose parts have ``sizes`` (and ``checksums``:
    their element name and values), listed after part number ``marker``, at most
    ``max_parts`` of them."""
    following = list(enumerate(sizes, start=1))[marker:]
    listed = following[:max_parts]
    truncated = len(following) > len(listed)
    parts: list[s3xml.XmlValue] = []
    for number, size in listed:
        part: dict[str, s3xml.XmlValue] = {"PartNumber": number, "Size": size}
        if checksums is not None:
            element, values = checksums
            part[element] = values[number - 1]
        parts.append(part)
    return {
        "IsTruncated": truncated,
        "MaxParts": max_parts,
        "NextPartNumberMarker": listed[-1][0] if listed else None,
        "PartNumberMarker": marker,
        "Part": parts,
        "PartsCount": len(sizes),
    }


async def _part_checksums(body: ObjectBody) -> tuple[str, list[str]] | None:
    """The element name and values of a multipart object's parts' checksums, if it has them."""
    algorithms = [a for a in ALGORITHMS if checksum_header_name(a) in body.meta]
    if not algorithms or upload_checksums.TYPE_HEADER not in body.meta:
        return None  # no checksum, or a single upload's
    values = await object_checksums.manifest_checksums(body)
    return None if values is None else (f"Checksum{algorithms[0]}", values)


async def _find(request: S3Request) -> ObjectVersion:
    """The version the request names, as GetObject finds it (delete markers, and what a
    caller without list rights may learn of a missing key, included)."""
    bucket = request.require_bucket()
    version_id = request.query.get("versionId")
    version = await request.index().get(request.key, version_id)
    if version is not None and not version.delete_marker:
        return version
    if version is None:
        if version_id is None:
            # As GetObject: a caller who may list the bucket learns the key is absent.
            await check_access(request, bucket, "s3:ListBucket", "")
            raise NoSuchKey(Key=request.key)
        if request.object_acl_required:
            raise AccessDenied()  # callers without access learn nothing
        raise NoSuchVersion(Key=request.key, VersionId=version_id)
    if request.object_acl_required:
        raise AccessDenied()
    error: MethodNotAllowed | NoSuchKey = (
        MethodNotAllowed() if version_id is not None else NoSuchKey(Key=request.key)
    )
    error.headers = {"x-amz-delete-marker": "true", "x-amz-version-id": version.version_id}
    raise error


async def get_object_attributes(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    attributes = requested_attributes(request.headers.getall(ATTRIBUTES_HEADER, []))
    max_parts = min(_header_number(request.headers, MAX_PARTS_HEADER, MAX_PARTS), MAX_PARTS)
    marker = _header_number(request.headers, PART_NUMBER_MARKER_HEADER, 0)
    version = await _find(request)
    action = request.operation.required_action(request.query.get("versionId"))
    if request.object_acl_required and not await object_acl_allows(request, version, action):
        raise AccessDenied()
    tree: dict[str, s3xml.XmlValue] = {}
    if "ETag" in attributes:
        tree["ETag"] = version.etag
    body = await open_body(request.services, bucket, version)
    try:
        # As GetObject: an SSE-C object's attributes need its key; other SSE headers are refused.
        sse_reads.unlock(request, body, need_key=False)
        if "Checksum" in attributes:
            tree["Checksum"] = checksum_tree(body.meta)
        if "ObjectParts" in attributes and body.parts is not None:
            sizes = [size for _blob, size in body.parts]
            checksums = await _part_checksums(body)
            tree["ObjectParts"] = parts_tree(sizes, marker, max_parts, checksums)
    finally:
        body.close()
    if "StorageClass" in attributes:
        tree["StorageClass"] = version.storage_class or "STANDARD"
    if "ObjectSize" in attributes:
        tree["ObjectSize"] = version.size
    headers = {"Last-Modified": http_date(version.last_modified)}
    if bucket.versioning:
        headers["x-amz-version-id"] = version.version_id
    # AWS's order of the elements, whatever the order of the header.
    ordered = {name: tree.get(name) for name in ATTRIBUTES}
    return xml_response("GetObjectAttributesResponse", ordered, headers=headers)
