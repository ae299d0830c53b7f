"""Unfinished multipart uploads: the one a request names, what is kept with it, and uploads
going away: aborted by their client, or with their bucket.

An upload's parts are blobs of their own; the index forgets the upload and hands back the parts
this call took from it, whose blobs are then tombstoned. A part still streaming in meanwhile
finds its upload gone and deletes its own blob (handlers/multipart_parts.py).
"""

from __future__ import annotations

import math
import time

from nimbus_storage.blobs.api import normalize_timestamp
from nimbus_storage.gateway.context import S3Request, Services
from nimbus_storage.meta.api import Bucket, Upload
from nimbus_storage.s3errors import NoSuchUpload

TAGS_META = "x-nimbus-tags"  # the upload's meta: the tags its object will have


async def find_upload(request: S3Request) -> Upload:
    """The upload a request's ``uploadId`` names, for its key; NoSuchUpload otherwise."""
    upload_id = request.query.get("uploadId", "")
    upload = await request.index().get_upload(upload_id)
    if upload is None or upload.key != request.key:
        raise NoSuchUpload(UploadId=upload_id)
    return upload


def now_timestamp() -> str:
    return normalize_timestamp(time.time())


async def abort_upload(services: Services, bucket: Bucket, upload_id: str) -> None:
    """Forget the upload and delete the data of its parts (nothing when it is already gone)."""
    blobs = services.blobs_for(bucket)
    timestamp = normalize_timestamp(time.time())
    for part in await services.catalog.index(bucket.name).delete_upload(upload_id):
        await blobs.delete(part.blob, timestamp)


async def abort_every_upload(services: Services, bucket: Bucket) -> int:
    """Abort every upload of the bucket in progress; how many there were."""
    uploads = await services.catalog.index(bucket.name).uploads_initiated_before(math.inf)
    for upload in uploads:
        await abort_upload(services, bucket, upload.upload_id)
    return len(uploads)
