"""Listings: ListObjects (v1), ListObjectsV2 and ListObjectVersions."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from aiohttp import web

from nimbus_storage import s3xml
from nimbus_storage.gateway.context import S3Request
from nimbus_storage.gateway.headers import iso8601
from nimbus_storage.gateway.responses import xml_response
from nimbus_storage.meta.api import ObjectVersion
from nimbus_storage.s3errors import InvalidArgument, InvalidEncodingType

MAX_KEYS = 1000

# ``encoding-type=url`` as AWS answers it (Java's URLEncoder, with "/" kept so a path stays a
# path): letters, digits and ``-_.*/`` as they are, a space as ``+``, every other byte of the
# key's UTF-8 as ``%XX`` (``~`` included). Clients decode with form decoding (botocore's
# ``unquote_plus``), so a space and a literal ``+`` (``%2B``) stay apart.
_URL_UNENCODED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.*/")


def url_encode_key(value: str) -> str:
    """A key, prefix, delimiter or marker as AWS writes it under ``encoding-type=url``."""
    out: list[str] = []
    for byte in value.encode("utf-8"):
        if byte in _URL_UNENCODED:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def _max_keys(request: S3Request, name: str = "max-keys") -> int:
    raw = request.query.get(name, str(MAX_KEYS))
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=raw,
        ) from None
    if value < 0:
        raise InvalidArgument(
            f"Argument {name} must be an integer between 0 and 2147483647",
            ArgumentName=name,
            ArgumentValue=raw,
        )
    return min(value, MAX_KEYS)


def key_encoder(request: S3Request) -> tuple[Callable[[str], str], str | None]:
    """The encoder of key-valued response elements and the ``EncodingType`` to answer.

    Used by ListObjects, ListObjectsV2, ListObjectVersions and ListMultipartUploads (ListParts
    has no ``encoding-type``). Any value but ``url`` is refused as AWS refuses it."""
    encoding = request.query.get("encoding-type")
    if encoding is None:
        return (lambda value: value), None
    if encoding.lower() != "url":
        raise InvalidEncodingType(ArgumentName="encoding-type", ArgumentValue=encoding)
    return url_encode_key, "url"


def _owner(version: ObjectVersion) -> dict[str, s3xml.XmlValue]:
    return {"ID": version.owner, "DisplayName": version.owner}


def _content(
    version: ObjectVersion, encode: Callable[[str], str], with_owner: bool
) -> dict[str, s3xml.XmlValue]:
    entry: dict[str, s3xml.XmlValue] = {
        "Key": encode(version.key),
        "LastModified": iso8601(version.last_modified),
        "ETag": f'"{version.etag}"',
        "Size": version.size,
        "StorageClass": version.storage_class,
    }
    if with_owner:
        entry["Owner"] = _owner(version)
    return entry


def encode_token(marker: str) -> str:
    return base64.urlsafe_b64encode(marker.encode()).decode()


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument(
            "The continuation token provided is incorrect",
            ArgumentName="continuation-token",
        ) from None


async def list_objects_v2(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    query = request.query
    encode, encoding = key_encoder(request)
    max_keys = _max_keys(request)
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    token = query.get("continuation-token")
    start_after = query.get("start-after", "")
    marker = decode_token(token) if token is not None else start_after
    page = await request.services.catalog.index(bucket.name).list_objects(
        prefix=prefix, delimiter=delimiter, start_after=marker, max_keys=max_keys
    )
    with_owner = query.get("fetch-owner", "false").lower() == "true"
    return xml_response(
        "ListBucketResult",
        {
            "Name": bucket.name,
            "Prefix": encode(prefix),
            "Delimiter": encode(delimiter) if delimiter else None,
            "MaxKeys": max_keys,
            "EncodingType": encoding,
            "KeyCount": len(page.entries) + len(page.common_prefixes),
            "IsTruncated": page.is_truncated,
            "ContinuationToken": token,
            "NextContinuationToken": (
                encode_token(page.next_marker)
                if page.is_truncated and page.next_marker is not None
                else None
            ),
            "StartAfter": encode(start_after) if "start-after" in query else None,
            "Contents": [_content(v, encode, with_owner) for v in page.entries],
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.common_prefixes],
        },
    )


async def list_objects(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    query = request.query
    encode, encoding = key_encoder(request)
    max_keys = _max_keys(request)
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    marker = query.get("marker", "")
    page = await request.services.catalog.index(bucket.name).list_objects(
        prefix=prefix, delimiter=delimiter, start_after=marker, max_keys=max_keys
    )
    # v1 returns NextMarker only when a delimiter was given; clients use the last key otherwise.
    next_marker = page.next_marker if page.is_truncated and delimiter else None
    return xml_response(
        "ListBucketResult",
        {
            "Name": bucket.name,
            "Prefix": encode(prefix),
            "Marker": encode(marker),
            "NextMarker": encode(next_marker) if next_marker is not None else None,
            "MaxKeys": max_keys,
            "Delimiter": encode(delimiter) if delimiter else None,
            "EncodingType": encoding,
            "IsTruncated": page.is_truncated,
            "Contents": [_content(v, encode, True) for v in page.entries],
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.common_prefixes],
        },
    )


async def list_object_versions(request: S3Request) -> web.StreamResponse:
    bucket = request.require_bucket()
    query = request.query
    encode, encoding = key_encoder(request)
    max_keys = _max_keys(request)
    prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
    key_marker = query.get("key-marker", "")
    version_marker = query.get("version-id-marker", "")
    if version_marker and not key_marker:
        raise InvalidArgument(
            "A version-id marker cannot be specified without a key marker.",
            ArgumentName="version-id-marker",
            ArgumentValue=version_marker,
        )
    page = await request.services.catalog.index(bucket.name).list_versions(
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        version_id_marker=version_marker,
        max_keys=max_keys,
    )
    versions: list[dict[str, s3xml.XmlValue]] = []
    markers: list[dict[str, s3xml.XmlValue]] = []
    for version in page.entries:
        if version.delete_marker:
            markers.append(
                {
                    "Key": encode(version.key),
                    "VersionId": version.version_id,
                    "IsLatest": version.is_latest,
                    "LastModified": iso8601(version.last_modified),
                    "Owner": _owner(version),
                }
            )
            continue
        entry = _content(version, encode, True)
        entry["VersionId"] = version.version_id
        entry["IsLatest"] = version.is_latest
        versions.append(entry)
    return xml_response(
        "ListVersionsResult",
        {
            "Name": bucket.name,
            "Prefix": encode(prefix),
            "KeyMarker": encode(key_marker),
            "VersionIdMarker": version_marker,
            "NextKeyMarker": (
                encode(page.next_marker) if page.is_truncated and page.next_marker else None
            ),
            "NextVersionIdMarker": page.next_version_marker if page.is_truncated else None,
            "MaxKeys": max_keys,
            "Delimiter": encode(delimiter) if delimiter else None,
            "EncodingType": encoding,
            "IsTruncated": page.is_truncated,
            "Version": versions,
            "DeleteMarker": markers,
            "CommonPrefixes": [{"Prefix": encode(p)} for p in page.common_prefixes],
        },
    )
