"""The source of a copy (CopyObject, UploadPartCopy): ``x-amz-copy-source`` parsed, authorized
and opened, with its ``x-amz-copy-source-if-*`` conditions checked."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from nimbus_storage.gateway.authorize import ExplicitDeny, check_access
from nimbus_storage.gateway.bucket_controls import object_acl_allows
from nimbus_storage.gateway.bucket_owner import SOURCE_EXPECTED_OWNER, check_expected_owner
from nimbus_storage.gateway.conditional import check_preconditions
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.object_body import ObjectBody, open_body
from nimbus_storage.meta.api import ObjectVersion
from nimbus_storage.s3errors import (
    AccessDenied,
    InvalidArgument,
    InvalidRequest,
    NoSuchBucket,
    NoSuchKey,
    NoSuchVersion,
)


@dataclass(frozen=True, slots=True)
class CopySource:
    bucket: str
    key: str
    version_id: str | None


def _decode_copy_source(component: str, header: str) -> str:
    """Percent-decoded exactly (unquote() would turn bytes that are not UTF-8 into U+FFFD, and
    so name another key)."""
    try:
        return unquote_to_bytes(component).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(
            "Invalid copy source encoding.", ArgumentName="x-amz-copy-source", ArgumentValue=header
        ) from None


def parse_copy_source(header: str) -> CopySource:
    path, _, query = header.partition("?")
    path = _decode_copy_source(path, header).lstrip("/")
    bucket, slash, key = path.partition("/")
    if not slash or not bucket or not key:
        raise InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=header,
        )
    version_id = None
    if query:
        name, _, value = query.partition("=")
        if name != "versionId" or not value:
            raise InvalidArgument("Unsupported copy source parameter", ArgumentValue=header)
        version_id = _decode_copy_source(value, header)
    return CopySource(bucket, key, version_id)


async def open_copy_source(
    request: S3Request, header_prefix: str
) -> tuple[CopySource, ObjectVersion, ObjectBody]:
    """Resolve, authorize and open ``x-amz-copy-source``; check its x-amz-copy-source-if-*."""
    source = parse_copy_source(request.headers["x-amz-copy-source"])
    catalog = request.services.catalog
    source_bucket = await catalog.get_bucket(source.bucket)
    if source_bucket is None:
        raise NoSuchBucket(BucketName=source.bucket)
    action = request.operation.required_handler_action(source.version_id)
    try:
        await check_access(request, source_bucket, action, source.key)
        acl_required = False
    except AccessDenied as denied:
        # As for a GET: the source object's own ACL may allow what its bucket's rules do not.
        if isinstance(denied, ExplicitDeny):
            raise
        acl_required = True
    check_expected_owner(request.headers, source_bucket, SOURCE_EXPECTED_OWNER)
    version = await catalog.index(source_bucket.name).get(source.key, source.version_id)
    if acl_required and (
        version is None
        or version.delete_marker
        or not await object_acl_allows(request, version, action, source_bucket)
    ):
        raise AccessDenied()  # callers without access learn nothing
    if version is None or version.delete_marker:
        if source.version_id is not None and version is not None:
            raise InvalidRequest(
                "The source of a copy request may not specifically refer to a"
                " delete marker by version id."
            )
        if source.version_id is not None:
            raise NoSuchVersion(Key=source.key, VersionId=source.version_id)
        raise NoSuchKey(Key=source.key)
    check_preconditions(request.headers, version.etag, version.last_modified, prefix=header_prefix)
    return source, version, await open_body(request.services, source_bucket, version)
