"""``x-amz-expiration``: when the bucket's lifecycle configuration will expire an object's
current version, and by which rule. GetObject and HeadObject answer it, and so do the writes
that make a version current (PutObject, CopyObject, CompleteMultipartUpload), as AWS does."""

from __future__ import annotations

from collections.abc import Mapping

from nimbus_storage.bucket_config.lifecycle import expiration_header, from_json
from nimbus_storage.gateway.context import Services
from nimbus_storage.meta.api import Bucket, ObjectVersion

__all__ = ["expiration_headers"]


async def expiration_headers(
    services: Services, bucket: Bucket, version: ObjectVersion, tags: Mapping[str, str]
) -> dict[str, str]:
    """``{"x-amz-expiration": ...}`` when an Expiration rule applies to ``version``; else {}."""
    lifecycle = await services.catalog.get_config(bucket.name, "lifecycle")
    if not lifecycle:
        return {}
    expiry = expiration_header(
        from_json(lifecycle), version.key, version.size, tags, version.last_modified
    )
    return {"x-amz-expiration": expiry} if expiry else {}
