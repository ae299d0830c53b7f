"""Multipart uploads: create, abort and list them and their parts.

Parts are blobs of their own (UploadPart, UploadPartCopy: ``multipart_parts``); completing an
upload (``multipart_complete``) writes a manifest naming them (no data is copied), so completing
a 10 GiB upload costs the same as a 10 MiB one. An upload may have a checksum algorithm
(gateway/upload_checksums.py).
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.gateway import objects, sse_objects, upload_checksums, uploads
from nimbus_storage.gateway.conditional import header_time
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.handlers.listing import key_encoder
from nimbus_storage.gateway.handlers.multipart_complete import complete_multipart_upload
from nimbus_storage.gateway.handlers.multipart_parts import upload_part, upload_part_copy
from nimbus_storage.gateway.handlers.objects_write import request_acl, request_tags
from nimbus_storage.gateway.headers import (
    META_ACL,
    META_INITIATOR,
    iso8601,
    object_headers_from_request,
)
from nimbus_storage.gateway.object_lock import upload_lock_meta
from nimbus_storage.gateway.responses import empty_response, xml_response
from nimbus_storage.gateway.uploads import TAGS_META, find_upload
from nimbus_storage.meta.api import Bucket, Part, Upload
from nimbus_storage.s3errors import InvalidArgument, PreconditionFailed

__all__ = [
    "abort_multipart_upload",
    "complete_multipart_upload",
    "create_multipart_upload",
    "list_multipart_uploads",
    "list_parts",
    "upload_part",
    "upload_part_copy",
]


async def create_multipart_upload(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    checksum = upload_checksums.requested_checksum(request.headers)
    encryption = await sse_objects.write_encryption(request, bucket.name, request.key)
    meta = object_headers_from_request(request.headers)
    if encryption is not None:  # one data key for every part: the seal is kept with the upload
        meta.update(encryption.seal.to_meta())
    meta[META_ACL] = request_acl(request)
    meta[META_INITIATOR] = request.principal or ""
    tags = request_tags(request)
    if tags:
        meta[TAGS_META] = json.dumps(tags)
    if checksum is not None:
        meta.update(checksum.to_meta())
    meta.update(await upload_lock_meta(request, bucket))
    upload_id = objects.new_write_id() + objects.new_write_id()[-8:]
    await request.index().create_upload(upload_id, request.key, time.time(), meta)
    return xml_response(
        "InitiateMultipartUploadResult",
        {"Bucket": bucket.name, "Key": request.key, "UploadId": upload_id},
        headers=(encryption.response_headers() if encryption is not None else {})
        | (checksum.response_headers() if checksum is not None else {}),
    )


async def abort_multipart_upload(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    initiated = header_time(request.headers, "x-amz-if-match-initiated-time")
    upload = await find_upload(request)
    if initiated is not None and int(upload.initiated) != initiated:
        # AWS: only an upload initiated at that time (to the second, as HTTP dates are).
        raise PreconditionFailed(Condition="x-amz-if-match-initiated-time")
    await uploads.abort_upload(request.services, bucket, upload.upload_id)
    return empty_response(204)


async def list_parts(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    upload = await find_upload(request)
    try:
        marker = int(request.query.get("part-number-marker", "0") or 0)
        max_parts = min(int(request.query.get("max-parts", "1000")), 1000)
    except ValueError:
        raise InvalidArgument("part-number-marker and max-parts must be integers") from None
    parts, truncated, next_marker = await request.index().list_parts(
        upload.upload_id, marker, max_parts
    )
    checksum = upload_checksums.upload_checksum(upload)
    return xml_response(
        "ListPartsResult",
        {
            "Bucket": bucket.name,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "Initiator": _initiator(bucket, upload),
            "Owner": _initiator(bucket, upload),
            "StorageClass": "STANDARD",
            "PartNumberMarker": marker,
            "NextPartNumberMarker": next_marker,
            "MaxParts": max_parts,
            "IsTruncated": truncated,
            "Part": [_listed_part(part, checksum) for part in parts],
            **(checksum.xml() if checksum is not None else {}),
        },
    )


def _initiator(bucket: Bucket, upload: Upload) -> dict[str, s3xml.XmlValue]:
    """Who created the upload (its Initiator and Owner in listings): the bucket's owner for an
    anonymous one, or one created before Nimbus kept who did."""
    who = upload.meta.get(META_INITIATOR) or bucket.owner
    return {"ID": who, "DisplayName": who}


def _listed_part(
    part: Part, checksum: upload_checksums.UploadChecksum | None
) -> dict[str, s3xml.XmlValue]:
    listed: dict[str, s3xml.XmlValue] = {
        "PartNumber": part.part_number,
        "LastModified": iso8601(part.last_modified),
        "ETag": f'"{part.etag}"',
        "Size": part.size,
    }
    if checksum is not None:
        listed[checksum.element] = upload_checksums.part_checksum(part)
    return listed


async def list_multipart_uploads(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    query = request.query
    encode, encoding = key_encoder(request)
    try:
        max_uploads = min(int(query.get("max-uploads", "1000")), 1000)
    except ValueError:
        raise InvalidArgument("max-uploads must be an integer") from None
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    key_marker, upload_marker = query.get("key-marker", ""), query.get("upload-id-marker", "")
    page = await request.index().list_uploads(
        prefix, delimiter, key_marker, upload_marker, max_uploads
    )
    return xml_response(
        "ListMultipartUploadsResult",
        {
            "Bucket": bucket.name,
            "KeyMarker": encode(key_marker),
            "UploadIdMarker": upload_marker,
            "NextKeyMarker": (
                encode(page.next_key_marker) if page.next_key_marker is not None else None
            ),
            "NextUploadIdMarker": page.next_upload_id_marker,
            "Prefix": encode(prefix),
            "Delimiter": encode(delimiter) if delimiter else None,
            "MaxUploads": max_uploads,
            "EncodingType": encoding,
            "IsTruncated": page.is_truncated,
            "Upload": [
                {
                    "Key": encode(upload.key),
                    "UploadId": upload.upload_id,
                    "Initiator": _initiator(bucket, upload),
                    "Owner": _initiator(bucket, upload),
                    "StorageClass": "STANDARD",
                    "Initiated": iso8601(upload.initiated),
                    **_upload_checksum_xml(upload),
                }
                for upload in page.uploads
            ],
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.common_prefixes],
        },
    )


def _upload_checksum_xml(upload: Upload) -> dict[str, s3xml.XmlValue]:
    checksum = upload_checksums.upload_checksum(upload)
    return dict(checksum.xml()) if checksum is not None else {}
